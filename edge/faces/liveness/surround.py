"""A cue from motion across frames: does the scene beside the face move with the face?

The door camera does not move. A person who sways or steps closer moves in front of a still
background, so beside their head (left and right, at eye level, one and a half to two face
widths out: past hair and ears, above the shoulders) the picture stays where it was while
the face moves. A sheet of paper or a large screen held up by hand carries the face *and*
what is printed around it: everything beside the face moves along with it.

How: take the two frames of the sequence where the face moved most, and measure by phase
correlation how far each patch beside the face moved between them. ``coherence`` is that
distance as a share of the face's own (capped at 1): about 0 when the patches stayed put (a
head in front of a still scene), large when they moved too (a sheet). The patches are not
expected to move exactly as the face did: a hand turns a sheet about the face as much as it
shifts it, and a rotation fitted to five noisy landmarks and carried two face widths out
predicts more noise than motion; that the scene beside the face moved at all is the sign.
No reading when the face moved less than the measurement can resolve, or the patches are too
plain to correlate (a bare wall). When the frame's
corners moved as well, a sheet fills the whole view — or the camera shook, which motion
alone cannot tell apart: the reading says so and counts for less (``whole_view``).

What it cannot do: a face cut out of a print (the scene beside it is real), a small phone
(its edge is nearer than the patches; the screen cues and the border cue cover it), a sheet
on a stand (nothing moves). It is evidence against a hand-held sheet, never proof of life.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_FACE_SHIFT_PX = 2.5  # face motion the patches must be compared against
MIN_RESPONSE = 0.08  # phase-correlation peak below this: the patch is too plain
MAX_CAMERA_SHIFT_PX = 1.0
PATCH = 0.6  # patch side, in face widths
OUT = 1.75  # patch centre's distance from the face centre, in face widths, at most
NEAR = 1.3  # ... and at least (nearer is hair and ears, which move with the head)


@dataclass(frozen=True)
class SurroundReading:
    coherence: float | None  # 1: moved with the face (a sheet); 0: stayed still; None: no reading
    face_shift_px: float
    patches: int  # patches that gave a reading
    whole_view: bool = False  # the frame's corners moved too: a sheet filling the view, or
    # the camera shook (a person then moves with the whole picture): weaker evidence


def _patch_shift(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> tuple | None:
    """Shift of ``box``'s content from grey frame ``a`` to ``b``, and the peak's strength."""
    x, y, w, h = box
    if x < 0 or y < 0 or x + w > a.shape[1] or y + h > a.shape[0] or min(w, h) < 12:
        return None
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(
        a[y : y + h, x : x + w], b[y : y + h, x : x + w], window
    )
    return np.array([dx, dy]), response


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)


def surround(frames: list[np.ndarray], landmarks: list[np.ndarray]) -> SurroundReading:
    """Compare the face's motion with its surroundings' between the two frames where the face
    moved most. ``landmarks`` are YuNet's 5x2 points of the same face in each frame."""
    if len(frames) < 2 or len(frames) != len(landmarks):
        return SurroundReading(None, 0.0, 0)
    centres = [np.asarray(m, np.float32).reshape(5, 2).mean(axis=0) for m in landmarks]
    best, pair = 0.0, (0, 1)
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            shift = float(np.linalg.norm(centres[j] - centres[i]))
            if shift > best:
                best, pair = shift, (i, j)
    if best < MIN_FACE_SHIFT_PX:
        return SurroundReading(None, best, 0)
    i, j = pair
    a, b = _grey(frames[i]), _grey(frames[j])
    src = np.asarray(landmarks[i], np.float32).reshape(5, 2)
    whole_view = _corners_moved(a, b)
    eye_dist = float(np.linalg.norm(src[1] - src[0]))
    face_w = eye_dist / 0.42  # YuNet's box is about 2.4 eye distances wide
    eye_y = float((src[0, 1] + src[1, 1]) / 2)
    centre_x = float(src[:, 0].mean())
    side = int(PATCH * face_w)
    readings = []
    for direction in (-1, 1):
        # as far out as OUT face widths, nearer when the frame ends (never nearer than NEAR)
        room = (centre_x if direction < 0 else a.shape[1] - centre_x) - side / 2 - 1
        out = min(OUT * face_w, room)
        if out < NEAR * face_w:
            continue
        px = centre_x + direction * out
        box = (int(px - side / 2), int(eye_y - side / 2), side, side)
        moved = _patch_shift(a, b, box)
        if moved is None or moved[1] < MIN_RESPONSE:
            continue
        # a sheet also turns about the face, so the patch need not move as the face did;
        # what tells a sheet from a still scene is that the patch moved at all
        readings.append(min(1.0, float(np.linalg.norm(moved[0])) / best))
    if not readings:
        return SurroundReading(None, best, 0)
    return SurroundReading(float(np.mean(readings)), best, len(readings), whole_view)


def _corners_moved(a: np.ndarray, b: np.ndarray) -> bool:
    """Did the frame's corners move too (a sheet filling the view, or the camera shaking)?"""
    height, width = a.shape
    side = max(16, min(height, width) // 6)
    for x, y in ((0, 0), (width - side, 0), (0, height - side), (width - side, height - side)):
        moved = _patch_shift(a, b, (x, y, side, side))
        if (
            moved is None
            or moved[1] < MIN_RESPONSE
            or np.linalg.norm(moved[0]) < MAX_CAMERA_SHIFT_PX
        ):
            return False
    return True
