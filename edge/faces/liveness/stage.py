"""The liveness stage as one door uses it: its policy, its checker, its IR camera, what it
remembers about refused faces.

A door's ``liveness`` policy:
- ``required``: a face that identifies but is not judged live never opens; the resident
  may still use the PIN (number*PIN) or a QR pass as always;
- ``required_or_pin``: the same, and the door then asks for that resident's PIN: for
  ``pin_s`` seconds a bare PIN on the keypad is checked against them alone;
- ``off``: no liveness (a door where a guard watches every entry, or a test rig).

The gate loop calls ``observe`` on every frame that identified someone (the observation
rides along with the frame in the frame agreement), ``judge`` when frames agree, ``refused``
after recording a refused face, ``empty_frame`` on frames with no face (the border cue learns
the door's empty view from them, at most once per ``learn_every_s``), and asks
``face_paused`` before looking for faces at all (repeated attempts slow the face path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from edge.faces.detector import Face
from edge.faces.liveness.attempts import PinRequest, PinWindow, SpoofAttempts
from edge.faces.liveness.checker import LivenessChecker, Observation
from edge.faces.liveness.fusion import LivenessVerdict

LivenessMode = Literal["required", "required_or_pin", "off"]
LIVENESS_MODES: tuple[LivenessMode, ...] = ("required", "required_or_pin", "off")
IR_FAULTY = ("stalled", "reconnecting", "failed")  # gate_drivers.camera states of a lost camera


@dataclass(frozen=True)
class StageSettings:
    mode: LivenessMode = "required"
    pin_s: float = 20.0
    learn_every_s: float = 0.5
    ir_max_skew_s: float = 0.5  # an IR frame older than this next to a colour frame is none
    repeat_window_s: float = 60.0
    repeat_count: int = 3
    slow_s: float = 10.0
    max_slow_s: float = 120.0


@dataclass(frozen=True)
class Refusal:
    """What the door does after a face failed liveness."""

    attempts: int  # refused faces at this door within the window, this one included
    repeated: bool  # enough for the stronger alert
    paused_until: datetime | None  # the face path is paused until then
    pin: PinRequest | None  # the PIN the door now waits for (required_or_pin)


IrFrames = Callable[[datetime], np.ndarray | None]


class LivenessStage:
    def __init__(
        self,
        settings: StageSettings,
        checker: LivenessChecker | None,
        ir_frames: IrFrames | None = None,
        unavailable: str | None = None,
    ) -> None:
        """``unavailable``: why the liveness models could not be used (a missing or altered
        file). The door then takes no face at all, because a face it cannot judge is one a
        photo could be, while PINs and QR passes open as before."""
        if settings.mode not in LIVENESS_MODES:
            raise ValueError(f"liveness must be one of {', '.join(LIVENESS_MODES)}")
        if settings.mode != "off" and checker is None and unavailable is None:
            raise ValueError("a door that requires liveness needs a liveness checker")
        if checker is not None and checker.ir is not None and ir_frames is None:
            raise ValueError("a checker with an IR camera needs the IR camera's frames")
        self.settings = settings
        self.checker = checker
        self.ir_frames = ir_frames
        self.unavailable = unavailable if settings.mode != "off" else None
        self.attempts = SpoofAttempts(
            settings.repeat_window_s, settings.repeat_count, settings.slow_s, settings.max_slow_s
        )
        self.pin_window = PinWindow(settings.pin_s)
        self._learned_at: datetime | None = None
        self.ir_fault: str | None = None  # the IR camera's faulty state, while it is down

    def ir_camera_state(self, state: str) -> None:
        """The IR camera's state (gate_drivers.camera): while it is stalled, reconnecting or
        failed, the door takes no faces (docs/faces.md: a door bought an IR camera to stop
        prints and screens, so it never falls back to colour only, and refusing every face
        as a spoof would flood the console with false alerts); PIN and QR still open."""
        needs_ir = self.checker is not None and self.checker.ir is not None and self.active
        self.ir_fault = state if needs_ir and state in IR_FAULTY else None

    @property
    def active(self) -> bool:
        return self.settings.mode != "off"

    @property
    def threshold(self) -> float | None:
        return self.checker.threshold if self.checker is not None else None

    def observe(self, image: np.ndarray, face: Face, at: datetime) -> Observation | None:
        """The per-frame cues of a frame that identified ``face`` (None when off)."""
        if not self.active or self.checker is None:
            return None
        ir = self.ir_frames(at) if self.ir_frames is not None else None
        return self.checker.observe(image, face, ir)

    def judge(self, payloads: tuple[object, ...]) -> LivenessVerdict | None:
        """The verdict on the agreeing frames' observations (None when off)."""
        observations = [p for p in payloads if isinstance(p, Observation)]
        if not self.active or self.checker is None or not observations:
            return None
        return self.checker.judge(observations)

    def empty_frame(self, image: np.ndarray, at: datetime) -> None:
        """A frame with no face in it: part of the door's empty view."""
        if self.checker is None:
            return
        every = timedelta(seconds=self.settings.learn_every_s)
        if self._learned_at is not None and abs(at - self._learned_at) < every:
            return
        self._learned_at = at
        self.checker.learn_view(image)

    def face_paused(self, at: datetime) -> bool:
        """No face is searched now: repeated spoof attempts, no usable liveness model, or the
        IR camera the door requires is down."""
        return (
            self.unavailable is not None
            or self.ir_fault is not None
            or self.attempts.face_paused(at)
        )

    def refused(self, resident_id: int, event_id: str, at: datetime) -> Refusal:
        """Count a refused face; at ``required_or_pin`` ask for the resident's PIN."""
        count = self.attempts.record(at)
        pin = None
        if self.settings.mode == "required_or_pin":
            pin = self.pin_window.ask(resident_id, event_id, at)
        paused = self.attempts.paused_until()
        paused = paused if paused is not None and paused > at else None
        return Refusal(count, self.attempts.repeated(count), paused, pin)

    def take_pin(self, at: datetime) -> PinRequest | None:
        """The PIN request a bare keypad entry answers, if one is open (closes it)."""
        return self.pin_window.take(at)


def ir_frame_near(latest: Callable[[], object | None], max_skew_s: float) -> IrFrames:
    """IR frames from a camera's ``latest()`` (a gate_drivers.camera.Frame): the newest one,
    when it was captured within ``max_skew_s`` of the colour frame; otherwise none (the IR
    camera stalled or lags, and a stale IR frame must not vouch for a new face)."""

    def frame_at(at: datetime) -> np.ndarray | None:
        frame = latest()
        captured = getattr(frame, "captured_at", None)
        image = getattr(frame, "image", None)
        if captured is None or image is None:
            return None
        if abs((captured - at).total_seconds()) > max_skew_s:
            return None
        return image

    return frame_at
