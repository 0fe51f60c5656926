"""Where camera frames come from: USB, RTSP / HTTP streams, a video file, a folder of images.

Each source is a small blocking reader that the camera's reader thread drives; the thread
(``camera.py``) owns timing, reconnects and health, so these classes only know how to open,
read one frame, rewind a replay and release. Errors are exceptions with messages that are
safe to log and show (``redact`` strips passwords from URLs): a ``PermanentSourceError`` is
a configuration problem (path missing, not a video) that waiting will not fix quickly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from gate_drivers.source_spec import SourceSpec, redact

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


class SourceError(Exception):
    """Opening or reading failed; a reconnect may fix it. The message is safe to log."""


class PermanentSourceError(SourceError):
    """The source cannot work as configured (missing path, not a video, empty folder)."""


class EndOfReplay(Exception):
    """A file or folder replay has delivered its last frame."""


class FrameSource(Protocol):
    label: str
    # Seconds between frames for replays (paced by the camera); None for live sources.
    frame_interval_s: float | None

    def read(self) -> np.ndarray | None:
        """One BGR frame, or None for a bad/empty frame. May raise EndOfReplay, SourceError."""
        ...

    def rewind(self) -> None: ...

    def release(self) -> None: ...


def as_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """The image as a 3-channel BGR array, or None if it is not a usable frame."""
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        return None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    return None


class CaptureSource:
    """A ``cv2.VideoCapture``: USB camera, RTSP/HTTP stream (FFmpeg) or a video file."""

    def __init__(self, spec: SourceSpec, read_timeout_s: float, replay_fps: float) -> None:
        self.label = spec.label
        self._spec = spec
        self._timeout_ms = max(1, int(read_timeout_s * 1000))
        self._is_file = spec.kind == "path"
        self._cap = self._open()
        self.frame_interval_s: float | None = None
        if self._is_file:
            fps = self._cap.get(cv2.CAP_PROP_FPS)
            # A file's own rate when it declares a sane one; otherwise the configured rate.
            self.frame_interval_s = 1.0 / (fps if 0 < fps <= 120 else replay_fps)
        self._good_in_pass = False

    def _open(self) -> cv2.VideoCapture:
        spec = self._spec
        if spec.kind == "usb":
            cap = cv2.VideoCapture(int(spec.target))
            if cap.isOpened():
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog
        else:
            # FFmpeg's interrupt callback bounds both the open and every read, so a camera
            # that goes silent cannot hang the reader thread.
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                self._timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                self._timeout_ms,
            ]
            cap = cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            if spec.kind == "usb":
                raise SourceError(f"cannot open USB camera {spec.label}")
            if self._is_file:
                raise PermanentSourceError(f"cannot open video file {spec.label} (not a video?)")
            raise SourceError(f"cannot open stream {spec.label}")
        return cap

    def read(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        frame = as_bgr(image) if ok else None
        if frame is not None:
            self._good_in_pass = True
            return frame
        if self._is_file and self._at_end():
            raise EndOfReplay
        return None

    def _at_end(self) -> bool:
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        position = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        return count <= 0 or position >= count - 1

    def rewind(self) -> None:
        if not self._good_in_pass:
            raise PermanentSourceError(f"video file {self.label} has no decodable frames")
        self._good_in_pass = False
        self._cap.release()
        self._cap = self._open()

    def release(self) -> None:
        self._cap.release()


class FolderSource:
    """Images in a folder, in sorted name order; unreadable files are skipped with a warning."""

    def __init__(self, folder: Path, replay_fps: float) -> None:
        self.label = str(folder)
        self.frame_interval_s: float | None = 1.0 / replay_fps
        self._folder = folder
        self._warned: set[str] = set()
        self._files = self._list()
        self._index = 0
        self._good_in_pass = False

    def _list(self) -> list[Path]:
        try:
            files = sorted(
                p
                for p in self._folder.iterdir()
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        except OSError as exc:
            raise SourceError(f"cannot list folder {self.label}: {exc.strerror or exc}") from exc
        if not files:
            raise PermanentSourceError(f"folder {self.label} has no .jpg/.png/.bmp images")
        return files

    def read(self) -> np.ndarray | None:
        if self._index >= len(self._files):
            raise EndOfReplay
        path = self._files[self._index]
        self._index += 1
        try:
            # imdecode of the bytes, not imread: works with any file name (e.g. Chinese).
            data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            image = as_bgr(cv2.imdecode(data, cv2.IMREAD_COLOR)) if data.size else None
        except OSError:
            image = None
        if image is None:
            if path.name not in self._warned:  # once per file, not once per replay loop
                self._warned.add(path.name)
                log.warning("camera folder replay: skipping unreadable image %s", path.name)
            return None
        self._good_in_pass = True
        return image

    def rewind(self) -> None:
        if not self._good_in_pass:
            raise PermanentSourceError(f"folder {self.label} has no readable images")
        self._files = self._list()  # pick up images added or removed since the last pass
        self._index = 0
        self._good_in_pass = False

    def release(self) -> None:
        self._files = []


def open_source(spec: SourceSpec, read_timeout_s: float, replay_fps: float) -> FrameSource:
    """Open the source ``spec`` describes; raises ``SourceError`` / ``PermanentSourceError``."""
    if spec.kind == "path":
        path = Path(str(spec.target)).expanduser()
        if path.is_dir():
            return FolderSource(path, replay_fps)
        if not path.exists():
            raise PermanentSourceError(f"no such file or folder: {spec.label}")
    try:
        return CaptureSource(spec, read_timeout_s, replay_fps)
    except SourceError:
        raise
    except Exception as exc:  # cv2.error and friends: report, never crash the reader
        raise SourceError(f"cannot open {spec.label}: {redact(str(exc))}") from exc
