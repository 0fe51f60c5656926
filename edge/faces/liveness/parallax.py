"""A cue from geometry across frames: a real head is not flat, a photo is.

The detector gives five landmarks per frame: both eyes, the nose tip and both mouth corners.
Eyes and mouth corners lie near one plane of the face; the nose tip stands well in front of
it (about half the distance between the eyes). Map the four near-planar points of each frame
onto a fixed square with the homography they define, and carry the nose tip along: for any
flat picture — printed, on a screen, tilted, moved, bent a little — the nose lands on the
same spot of the square in every frame, because a homography is exactly how a plane's
picture changes with viewpoint. For a real head that turns or nods by a few degrees the nose
moves against the other four by depth x sin(angle), and lands elsewhere.

So the nose's drift on the square across frames is evidence of depth. It is one-sided: a
live person who holds perfectly still shows no drift, exactly like a photo, so "no drift" is
no evidence either way, only drift is evidence of life. A video of the resident turning
their head, replayed on a screen, drifts too: that attack is left to the screen cues.
Landmark jitter moves the nose a little as well, more on small and blurred faces; the floors
below which drift means nothing (in eye distances and in pixels) were set from measurement on
still faces and on flat media (bench/liveness.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)


@dataclass(frozen=True)
class ParallaxReading:
    drift: float  # how far the nose moved on the square, first frames to last (eye distances)
    frames: int  # frames with usable landmarks
    eye_px: float = 0.0  # the eyes' distance in pixels (what the drift is measured against)

    @property
    def usable(self) -> bool:
        return self.frames >= 2

    @property
    def drift_px(self) -> float:
        """The drift in pixels: below a pixel or two it is the detector's jitter."""
        return self.drift * self.eye_px


def nose_on_face_plane(landmarks: np.ndarray) -> np.ndarray | None:
    """The nose tip in the square defined by eyes and mouth corners; None if degenerate.

    ``landmarks`` is YuNet's 5x2: right eye, left eye, nose tip, right and left mouth corner.
    """
    marks = np.asarray(landmarks, np.float32).reshape(5, 2)
    quad = marks[[0, 1, 3, 4]]
    eye_dist = float(np.linalg.norm(quad[1] - quad[0]))
    if eye_dist < 4 or not np.all(np.isfinite(marks)):
        return None
    try:
        hom = cv2.getPerspectiveTransform(quad, SQUARE)
    except cv2.error:
        return None
    point = hom @ np.array([marks[2, 0], marks[2, 1], 1.0])
    if abs(point[2]) < 1e-9:
        return None
    nose = point[:2] / point[2]
    return nose if np.all(np.isfinite(nose)) and np.all(np.abs(nose) < 5) else None


def parallax(landmark_frames: list[np.ndarray]) -> ParallaxReading:
    """How far the nose moved against the face plane from the first frames to the last.

    The first and last two frames are averaged (one each with three frames or fewer): a
    turning head drifts one way, while the detector's jitter does not, so comparing the
    ends halves the jitter without hiding a turn."""
    marks = [np.asarray(m, np.float32).reshape(5, 2) for m in landmark_frames]
    noses = [(n, m) for n, m in ((nose_on_face_plane(m), m) for m in marks) if n is not None]
    if len(noses) < 2:
        return ParallaxReading(0.0, len(noses))
    points = np.array([n for n, _ in noses])
    half = min(2, len(points) // 2)
    drift = float(np.linalg.norm(points[-half:].mean(axis=0) - points[:half].mean(axis=0)))
    eye_px = float(np.mean([np.linalg.norm(m[1] - m[0]) for _, m in noses]))
    return ParallaxReading(drift, len(noses), eye_px)
