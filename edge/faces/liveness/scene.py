"""A cue from the door camera's stillness: outside the person, nothing in the view moves.

The door camera is fixed to a wall. Between two frames of a person at the door only the
person moves: the door, the wall, the corridor behind them stay on the same pixels. Anything
held up to the camera — a sheet of paper, a phone, a tablet — is larger than the face it
shows and is held by a hand that trembles, drifts and turns it: the printed or shown
surroundings of the face move with it, beyond where a person's head and shoulders could be.
A borderless print that fills the view moves everywhere; a smaller print or a screen moves
around the face out to its edges, against a still background.

How: between the first and last judged frames (the longest span, so a hand's drift has
added up), the view is cut into square patches half a face wide over a window three face
widths around the face, leaving out generously where the person is (the head with its hair
and the body widening below the chin, from the first frame's landmarks, out to the face's
shift between the frames). Each patch's shift is measured by phase correlation; plain
patches (a bare wall: camera noise correlates at random shifts) give no reading. ``moved``
is the share of the readable patches that moved more than ``MOVED_PX``, weighted towards
the face (a patch one face width from the head counts twice one three widths out: a small
print's surroundings are near the face).

Unlike the surround cue it needs no motion of the face itself (a hand turning a sheet about
the face moves its surroundings, not the face) and it looks all around the head.

What it cannot do: tell a sheet filling the view from the camera itself shaking (a slammed
door, wind on a pole-mounted camera): both move the whole view. A door camera that shakes
refuses the faces of those moments (they are judged again a second later). Busy scenes with
people walking close behind the resident raise it a little; it is one cue among several.
A sheet on a stand, or a face cut out of a print, leaves the view still. A print or phone
little larger than a head (under about three face widths) lies mostly where a person's
hair and shoulders could be, which this cue leaves out: its edge is the border cue's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOVED_PX = 0.8  # a patch shift above this is motion, not noise or JPEG
MIN_RESPONSE = 0.1  # a phase-correlation peak below this: the patch is too plain to read
REACH = 3.0  # the window around the face, in face widths
PATCH = 0.5  # patch side, in face widths
MIN_PATCH_PX = 24
MIN_PATCHES = 4  # fewer readable patches: no reading
MIN_TEXTURE = 4.0  # grey-level spread of a patch (smoothed past the noise) to be read at all


@dataclass(frozen=True)
class SceneReading:
    moved: float | None  # weighted share of the patches outside the person that moved
    patches: int  # patches that gave a reading


def _person(xs: np.ndarray, ys: np.ndarray, marks: np.ndarray, margin: float) -> np.ndarray:
    """True where the person may be: head and hair, neck, shoulders widening downwards
    (from YuNet's landmarks), grown by ``margin`` pixels."""
    eye_dist = float(np.linalg.norm(marks[1] - marks[0]))
    w = eye_dist / 0.42  # YuNet's box is about 2.4 eye distances wide
    cx = float(marks[:, 0].mean())
    eye_y = float((marks[0, 1] + marks[1, 1]) / 2)
    cy = eye_y + 0.1 * w
    head = ((xs - cx) / (1.0 * w + margin)) ** 2 + ((ys - cy) / (1.25 * w + margin)) ** 2 < 1
    chin = cy + 0.65 * w
    below = ys > chin - margin
    body = below & (np.abs(xs - cx) < 0.75 * w + margin + np.clip(ys - chin, 0, None) * 2.0)
    return head | body


def scene_motion(frames: list[np.ndarray], landmarks: list[np.ndarray]) -> SceneReading:
    """How much of the view outside the person moved between the first and last frames."""
    if len(frames) < 2 or len(frames) != len(landmarks):
        return SceneReading(None, 0)
    first = np.asarray(landmarks[0], np.float32).reshape(5, 2)
    last = np.asarray(landmarks[-1], np.float32).reshape(5, 2)
    eye_dist = float(np.linalg.norm(first[1] - first[0]))
    if eye_dist < 4:
        return SceneReading(None, 0)
    w = eye_dist / 0.42
    side = max(MIN_PATCH_PX, int(PATCH * w))
    shift = float(np.linalg.norm(last.mean(axis=0) - first.mean(axis=0)))
    a = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY).astype(np.float32)
    b = cv2.cvtColor(frames[-1], cv2.COLOR_BGR2GRAY).astype(np.float32)
    height, width = a.shape
    cx, cy = first[:, 0].mean(), first[:, 1].mean()
    x0, x1 = max(0, int(cx - REACH * w)), min(width - side, int(cx + REACH * w))
    y0, y1 = max(0, int(cy - REACH * w)), min(height - side, int(cy + REACH * w))
    window = cv2.createHanningWindow((side, side), cv2.CV_32F)
    weights, moved = [], []
    for top in range(y0, y1 + 1, side):
        for left in range(x0, x1 + 1, side):
            corners_x = np.array([left, left + side, left, left + side], np.float32)
            corners_y = np.array([top, top, top + side, top + side], np.float32)
            centre = np.array([[left + side / 2, top + side / 2]], np.float32)
            inside = _person(
                np.concatenate([corners_x, centre[:, 0]]),
                np.concatenate([corners_y, centre[:, 1]]),
                first,
                shift + 0.1 * w,
            )
            if inside.any():
                continue
            first_patch = a[top : top + side, left : left + side]
            # a bare wall is camera noise only, and noise correlates at random shifts
            if float(cv2.GaussianBlur(first_patch, (0, 0), 1.5).std()) < MIN_TEXTURE:
                continue
            (dx, dy), response = cv2.phaseCorrelate(
                first_patch, b[top : top + side, left : left + side], window
            )
            if response < MIN_RESPONSE:
                continue
            distance = float(np.hypot(centre[0, 0] - cx, centre[0, 1] - cy)) / w
            weights.append(1.0 / max(distance, 1.0))
            moved.append(float(np.hypot(dx, dy)) > MOVED_PX)
    if len(weights) < MIN_PATCHES:
        return SceneReading(None, len(weights))
    share = float(np.dot(weights, moved) / np.sum(weights))
    return SceneReading(share, len(weights))
