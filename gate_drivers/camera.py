"""A gate camera read in its own thread, keeping only the newest frame.

Why a reader thread and a single slot: recognition is slower than the camera, and a queue
would make the gate decide on frames that are seconds old while memory grows. The thread
reads as fast as the source delivers (draining the stream's buffer) and overwrites one
slot; consumers take ``latest()`` or block in ``wait_for_frame()``.

Why the reconnect loop: gate cameras reboot, lose PoE and drop their RTSP sessions. A
camera that never opens, stalls or dies never raises into the caller: the thread releases
the capture, reopens with exponential backoff plus jitter (so a dozen cameras on one switch
do not reconnect in lock-step), and ``health()`` says honestly what is happening, so the gate
can log a camera fault instead of silently waiting.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from gate_drivers.frame_sources import (
    EndOfReplay,
    FrameSource,
    PermanentSourceError,
    SourceError,
    open_source,
)
from gate_drivers.source_spec import parse_source, redact

log = logging.getLogger(__name__)

CameraState = Literal["starting", "ok", "stalled", "reconnecting", "failed"]
_FPS_WINDOW_S = 3.0
_ERROR_PAUSE_S = 0.02  # after a bad frame: never spin a core on a source that only fails


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, owned by the consumer: the reader never writes into it again
    seq: int  # 0, 1, 2 ... per Camera object, across reconnects
    captured_at: datetime  # UTC, when the reader thread received it


@dataclass(frozen=True)
class CameraHealth:
    """``failed`` means a permanent error (missing path, not a video); it is still retried
    every ``backoff_max_s``. ``last_error`` never contains passwords."""

    state: CameraState
    fps: float
    last_frame_age_s: float | None
    reconnects: int  # successful re-opens after the source was lost
    last_error: str | None
    frames: int
    frame_errors: int
    source: str  # redacted


class Camera:
    """Frames from ``source``: ``usb:N``, ``rtsp://``, ``http(s)://``, a video file or a folder.

    ``read_timeout_s``: no good frame for this long → release and reopen (also bounds each
    FFmpeg open/read). ``stall_after_s`` (default half of it): when ``health()`` starts
    saying "stalled". Replays run at the file's own fps (folders and files without one at
    ``replay_fps``) and start again at the end when ``loop_replay``.

    ``replay_every_frame`` (replays only): the replay waits until the consumer has taken each
    frame before it shows the next, so a machine slower than the replay's rate (a Pi, a
    loaded CI box) still sees every frame of a scripted scene, and the scene takes longer
    instead of losing its passages. A live camera never waits: the gate always gets the
    newest frame.
    """

    def __init__(
        self,
        source: str,
        read_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        replay_fps: float = 5.0,
        loop_replay: bool = True,
        stall_after_s: float | None = None,
        replay_every_frame: bool = False,
    ) -> None:
        for name, value in (
            ("read_timeout_s", read_timeout_s),
            ("backoff_initial_s", backoff_initial_s),
            ("backoff_max_s", backoff_max_s),
            ("replay_fps", replay_fps),
        ):
            if not value > 0:
                raise ValueError(f"camera {name} must be > 0, got {value!r}")
        self._spec = parse_source(source)  # a malformed source is a start-up error
        self.read_timeout_s = float(read_timeout_s)
        self.backoff_initial_s = float(backoff_initial_s)
        self.backoff_max_s = max(float(backoff_max_s), self.backoff_initial_s)
        self.replay_fps = float(replay_fps)
        self.loop_replay = loop_replay
        self.replay_every_frame = replay_every_frame
        self.stall_after_s = stall_after_s if stall_after_s else self.read_timeout_s / 2
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: Frame | None = None
        self._seq = -1
        self._taken = -1  # the newest seq a consumer has been given (replay_every_frame)
        self._phase: CameraState = "starting"  # set by the reader; "stalled" is derived
        self._last_frame_mono: float | None = None
        self._frame_times: deque[float] = deque(maxlen=1024)
        self._reconnects = 0
        self._frames = 0
        self._frame_errors = 0
        self._last_error: str | None = None

    @property
    def source_label(self) -> str:
        return self._spec.label

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reader thread (no-op if running). Never raises for a bad camera."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        with self._cond:
            self._phase = "starting"
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{self._spec.label}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the reader thread; it releases the capture itself before exiting."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.read_timeout_s + 2.0)
            if thread.is_alive():
                log.warning("camera %s: reader did not stop in time", self._spec.label)
        self._thread = None

    def __enter__(self) -> Camera:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- consumers --------------------------------------------------------------------------
    def latest(self) -> Frame | None:
        with self._cond:
            return self._latest  # a look, not a take: replay_every_frame does not move on

    def wait_for_frame(self, after_seq: int, timeout_s: float) -> Frame | None:
        """The newest frame with ``seq > after_seq``, waiting up to ``timeout_s`` for one.

        Frames in between are skipped on purpose: the consumer always gets the newest.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None or self._latest.seq <= after_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)
            self._taken = self._latest.seq
            self._cond.notify_all()
            return self._latest

    def health(self) -> CameraHealth:
        now = time.monotonic()
        with self._cond:
            age = None if self._last_frame_mono is None else now - self._last_frame_mono
            state = self._phase
            if state == "ok" and (age is None or age > self.stall_after_s):
                state = "stalled"
            while self._frame_times and self._frame_times[0] < now - _FPS_WINDOW_S:
                self._frame_times.popleft()
            times = self._frame_times
            fps = 0.0
            if len(times) >= 2 and times[-1] > times[0]:
                fps = (len(times) - 1) / (times[-1] - times[0])
            return CameraHealth(
                state=state,
                fps=round(fps, 2),
                last_frame_age_s=None if age is None else round(age, 3),
                reconnects=self._reconnects,
                last_error=self._last_error,
                frames=self._frames,
                frame_errors=self._frame_errors,
                source=self._spec.label,
            )

    # -- the reader thread ------------------------------------------------------------------
    def _run(self) -> None:
        backoff = self.backoff_initial_s
        lost = False  # the source was open before: the next successful open is a reconnect
        source: FrameSource | None = None
        try:
            while not self._stop.is_set():
                if source is None:
                    try:
                        source = open_source(self._spec, self.read_timeout_s, self.replay_fps)
                    except PermanentSourceError as exc:
                        self._fail(str(exc), "failed")
                        self._stop.wait(self.backoff_max_s)
                        continue
                    except SourceError as exc:
                        self._fail(str(exc), "reconnecting")
                        self._stop.wait(self._jittered(backoff))
                        backoff = min(backoff * 2, self.backoff_max_s)
                        continue
                    last_good = next_due = time.monotonic()  # the timeout counts from open
                    got_frame = False
                    log.info("camera %s: opened", self._spec.label)
                if source.frame_interval_s is not None:  # replays: pace at their frame rate
                    wait = next_due - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        break
                try:
                    image = source.read()
                except EndOfReplay:
                    if not self.loop_replay:
                        log.info("camera %s: replay finished", self._spec.label)
                        self._stop.wait()  # health turns "stalled": no more frames
                        break
                    try:
                        source.rewind()
                    except SourceError as exc:
                        permanent = isinstance(exc, PermanentSourceError)
                        self._drop(source, str(exc), permanent)
                        source = None
                        lost = True
                        self._stop.wait(
                            self.backoff_max_s if permanent else self._jittered(backoff)
                        )
                        backoff = min(backoff * 2, self.backoff_max_s)
                    continue
                except Exception as exc:  # cv2.error, OSError: an error, never a crash
                    self._note_error(f"read failed: {redact(str(exc))}")
                    image = None
                if image is not None:
                    self._publish(image, reconnected=lost and not got_frame)
                    if lost and not got_frame:
                        log.info("camera %s: frames resumed", self._spec.label)
                    lost, got_frame, backoff = False, True, self.backoff_initial_s
                    last_good = time.monotonic()
                    if source.frame_interval_s is not None:
                        if self.replay_every_frame and not self._wait_until_taken():
                            break
                        # on schedule, but never a burst to "catch up" after a slow read
                        next_due = max(next_due + source.frame_interval_s, time.monotonic())
                    continue
                self._note_error("empty or undecodable frame")
                if time.monotonic() - last_good > self.read_timeout_s:
                    message = f"no frame for {self.read_timeout_s:g}s; reconnecting"
                    self._drop(source, message, permanent=False)
                    source = None
                    lost = True
                    self._stop.wait(self._jittered(backoff))
                    backoff = min(backoff * 2, self.backoff_max_s)
                else:
                    self._stop.wait(_ERROR_PAUSE_S)
        except Exception:  # a bug here must not take the gate process down with it
            log.exception("camera %s: reader thread crashed", self._spec.label)
            with self._cond:
                self._phase = "failed"
                self._last_error = "reader thread crashed (see log)"
        finally:
            if source is not None:
                source.release()

    def _wait_until_taken(self) -> bool:
        """Hold the replay until a consumer took the newest frame; False when stopping."""
        with self._cond:
            while self._taken < self._seq:
                if self._stop.is_set():
                    return False
                self._cond.wait(0.5)
                self._last_frame_mono = time.monotonic()  # waiting on the gate is not a stall
        return not self._stop.is_set()

    def _publish(self, image: np.ndarray, reconnected: bool) -> None:
        now = time.monotonic()
        with self._cond:
            self._seq += 1
            self._latest = Frame(image, self._seq, datetime.now(UTC))
            self._last_frame_mono = now
            self._frame_times.append(now)
            self._frames += 1
            self._phase = "ok"
            if reconnected:
                self._reconnects += 1
            self._cond.notify_all()

    def _note_error(self, message: str) -> None:
        with self._cond:
            self._frame_errors += 1
            self._last_error = message

    def _fail(self, message: str, phase: CameraState) -> None:
        message = redact(message)
        with self._cond:
            repeated = self._last_error == message and self._phase == phase
            self._phase = phase
            self._last_error = message
        if not repeated:  # one line per new problem, not one per retry
            log.warning("camera %s: %s", self._spec.label, message)

    def _drop(self, source: FrameSource, message: str, permanent: bool) -> None:
        """Release ``source`` and record why (the caller forgets it)."""
        source.release()
        self._fail(message, "failed" if permanent else "reconnecting")

    def _jittered(self, delay: float) -> float:
        return min(self.backoff_max_s, delay) * random.uniform(0.8, 1.2)
