"""Frames for the demo's door camera: people walking up, a phone showing a QR pass, an empty
doorway; written as a numbered folder the real camera driver replays.

Why drawn like this: the gate must see what a door camera sees (a 640x480 view of a
doorway with one person close enough to recognise), not a studio portrait, so a face photo
is cut to head and shoulders with soft edges and grows over a few frames as the person
steps closer. A QR pass is drawn with whole pixels per module, as a phone screen shows it.
Nothing here recognises anything; it only needs to know where the face is in a photo,
which the real detector tells it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.faces.detector import FaceDetector

SIZE = (640, 480)  # width, height of a typical door camera's sub-stream
FACE_CENTRE = (320, 190)


@dataclass(frozen=True)
class Segment:
    """Who is in front of the camera from frame ``start`` for ``frames`` frames."""

    key: str
    start: int
    frames: int

    @property
    def end(self) -> int:
        return self.start + self.frames


def doorway(seed: int = 0) -> np.ndarray:
    """The empty doorway: a wall, a door in its frame, the camera's caption, sensor noise."""
    width, height = SIZE
    ramp = np.linspace(150, 120, height, dtype=np.float32)[:, None]
    image = np.repeat(np.repeat(ramp, width, axis=1)[:, :, None], 3, axis=2)
    image[:, :, 0] += 6  # a slightly cool, fluorescent-lit wall
    image[60:470, 170:470] = (72, 84, 96)  # the door leaf
    cv2.rectangle(image, (165, 55), (475, 475), (40, 40, 40), 6)  # the frame
    cv2.rectangle(image, (440, 250), (455, 300), (170, 170, 175), -1)  # handle plate
    noise = np.random.default_rng(seed).normal(0, 2.5, image.shape).astype(np.float32)
    frame = np.clip(image + noise, 0, 255).astype(np.uint8)
    cv2.putText(frame, "DOOR CAM demo-door", (12, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (235,) * 3)
    return frame


def largest_face(detector: FaceDetector, photo: np.ndarray) -> tuple[int, int, int, int] | None:
    """Box (x, y, w, h) of the biggest face the real detector finds, or None."""
    faces = detector.detect(photo)  # largest first
    return faces[0].box if faces else None


def _head_and_shoulders(
    photo: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The region around the face (black where the photo ends), a feathered oval mask, and
    the face's centre in the region."""
    x, y, w, h = box
    x0, x1, y0, y1 = x - int(1.3 * w), x + int(2.3 * w), y - int(0.9 * h), y + int(2.7 * h)
    patch = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    mask = np.zeros(patch.shape[:2], np.float32)
    centre = ((x1 - x0) // 2, (y1 - y0) // 2)
    cv2.ellipse(mask, centre, ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 1.0, -1)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x1, photo.shape[1]), min(y1, photo.shape[0])
    patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = photo[sy0:sy1, sx0:sx1]
    inside = np.zeros_like(mask)
    inside[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = 1.0
    feather = max(3, (w // 6) | 1)
    mask = cv2.GaussianBlur(mask * inside, (feather, feather), 0)
    return patch, mask, (x - x0 + w / 2, y - y0 + h / 2)


def person_frames(
    photo: np.ndarray, box: tuple[int, int, int, int], frames: int, seed: int = 0
) -> list[np.ndarray]:
    """``frames`` views of the person stepping closer: the face grows from ~125 to ~175 px."""
    patch, mask, (centre_x, centre_y) = _head_and_shoulders(photo, box)
    views = []
    for step in range(frames):
        face_px = 125 + (50 * step) // max(frames - 1, 1)
        scale = face_px / box[2]
        size = (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale)))
        small = cv2.resize(patch, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        alpha = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)[:, :, None]
        frame = doorway(seed + step).astype(np.float32)
        left = FACE_CENTRE[0] - round(centre_x * scale)
        top = FACE_CENTRE[1] - round(centre_y * scale)
        fx0, fy0 = max(left, 0), max(top, 0)
        fx1, fy1 = min(left + size[0], SIZE[0]), min(top + size[1], SIZE[1])
        part = (slice(fy0 - top, fy1 - top), slice(fx0 - left, fx1 - left))
        a = alpha[part]
        frame[fy0:fy1, fx0:fx1] = a * small[part] + (1 - a) * frame[fy0:fy1, fx0:fx1]
        views.append(frame.astype(np.uint8))
    return views


def qr_frames(text: str, frames: int, seed: int = 0) -> list[np.ndarray]:
    """A phone held up to the camera showing ``text`` as a QR code, moving a little."""
    code = cv2.QRCodeEncoder.create().encode(text)
    scale = max(1, 230 // code.shape[0])  # whole pixels per module, like a phone screen
    code = cv2.resize(code, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    code = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    side = code.shape[0]
    views = []
    for step in range(frames):
        frame = doorway(seed + step)
        left, top = 320 - side // 2 - 20 - 6 * step, 230 - side // 2 + 2 * step
        right, bottom = left + side, top + side
        cv2.rectangle(frame, (left - 22, top - 60), (right + 22, bottom + 70), (25,) * 3, -1)
        cv2.rectangle(frame, (left - 12, top - 45), (right + 12, bottom + 50), (250,) * 3, -1)
        cv2.putText(frame, "VISITOR PASS", (left + 8, top - 16), 0, 0.6, (60, 60, 60), 2)
        frame[top : top + side, left : left + side] = code
        views.append(frame)
    return views


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("could not encode a demo frame as JPEG")
    return data.tobytes()


def write_frames(
    folder: Path, plan: list[tuple[str, list[np.ndarray]]], lead: int, gaps: int, tail: int
) -> tuple[list[Segment], int]:
    """Write ``lead`` empty frames, then each appearance followed by ``gaps`` empty frames,
    then ``tail`` more; returns where each appearance is and the number of frames."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jpg"):
        old.unlink()
    empty = _jpeg(doorway())
    index = 0

    def write(data: bytes) -> None:
        nonlocal index
        (folder / f"{index:05d}.jpg").write_bytes(data)
        index += 1

    segments = []
    for _ in range(lead):
        write(empty)
    for key, views in plan:
        segments.append(Segment(key, index, len(views)))
        for view in views:
            write(_jpeg(view))
        for _ in range(gaps):
            write(empty)
    for _ in range(tail):
        write(empty)
    return segments, index
