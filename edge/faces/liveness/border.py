"""A cue from what surrounds the face: the edge of a phone, tablet or sheet of paper.

A face shown on a phone or a print has its medium's straight edges close around it: a phone
showing a face at door size is barely two faces wide, a print's paper edge and white border
run a face width or two beside it. A person's head has no straight edges around it at that
distance: hair, ears, shoulders and a background that the head hides.

How: the frame is scaled so the face is 64 pixels wide, edges are found (Canny) and straight
segments (probabilistic Hough) are kept when they run along one side of the face — left,
right, above, below — within a band of distances a medium's edge can be at, and roughly
parallel to that side (a hand tilts a phone by tens of degrees, not more). For each side the
score is the share of the face's extent that such segments cover, so a frame edge that runs
past the whole face counts, a shoulder line or a strand of hair does not. The cue is the
mean of the best three sides: a medium is seen enclosed on three or four sides (the fourth
may be out of view).

The door camera does not move, so the straight edges of its empty view (a door frame, a
window, a wall's corner) are learned from frames with nobody in them (``StillEdges``) and a
segment lying on them is not a medium's edge. The first ten empty frames set the map (the
gate learns at most twice a second, so a door knows its view seconds after it starts); after
that it changes slowly, so a blank phone held up for a while does not become part of the
wall — and a hand cannot hold one still enough for its edges to stay on the same pixels.

What it cannot do: a print or screen held so close that its edges are outside the frame,
or a face cut out along its outline. Straight edges near the head that are not in the
empty view (a person's own collar, a bag strap) can raise it, which is why it is one cue
among several, weighted on genuine frames with busy backgrounds (bench/liveness.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FACE_PX = 64  # the face's width after scaling
NEAR = 0.6  # a side's edge is at least this many face widths from the face's centre
FAR = 2.4  # ... and at most this many
MAX_TILT_DEG = 22.0


@dataclass(frozen=True)
class BorderReading:
    sides: dict[str, float]  # left, right, top, bottom: covered share of the face's extent

    @property
    def score(self) -> float:
        best = sorted(self.sides.values(), reverse=True)[:3]
        return float(sum(best) / 3)


class StillEdges:
    """The edges of the camera's empty view: a slow running mean of edge maps of frames in
    which no face was found (fed by the gate, at most ``learn`` calls a second it chooses)."""

    WIDTH = 320  # working width of the maps
    RATE = 0.03  # weight of each new frame, once the first frames have set the map
    STILL = 0.6  # an edge present this often is part of the view
    MIN_FRAMES = 10  # the plain average of the first frames: a view known after ten

    def __init__(self) -> None:
        self._mean: np.ndarray | None = None
        self._scale = 1.0
        self.frames = 0

    def learn(self, image: np.ndarray) -> None:
        scale = self.WIDTH / image.shape[1]
        size = (self.WIDTH, max(1, round(image.shape[0] * scale)))
        grey = cv2.cvtColor(
            cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
        )
        edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 30, 90), np.ones((3, 3)))
        found = (edges > 0).astype(np.float32)
        if self._mean is None or self._mean.shape != found.shape:
            self._mean, self.frames = np.zeros_like(found), 0  # new view: start again
        self.frames += 1
        self._mean += max(self.RATE, 1 / self.frames) * (found - self._mean)
        self._scale = scale

    def covers(self, segment: tuple[float, float, float, float], shape: tuple[int, ...]) -> bool:
        """True when most of ``segment`` (frame pixels) lies on an edge of the empty view."""
        mean = self._mean
        if mean is None or self.frames < self.MIN_FRAMES:
            return False
        if round(shape[1] * self._scale) != mean.shape[1]:
            return False  # a frame of another size than the learned view
        x1, y1, x2, y2 = (v * self._scale for v in segment)
        t = np.linspace(0.0, 1.0, 24)
        xs = np.clip(np.round(x1 + (x2 - x1) * t).astype(int), 0, mean.shape[1] - 1)
        ys = np.clip(np.round(y1 + (y2 - y1) * t).astype(int), 0, mean.shape[0] - 1)
        return float(np.mean(mean[ys, xs] >= self.STILL)) >= 0.7


def _union_length(spans: list[tuple[float, float]], low: float, high: float) -> float:
    """Length of [low, high] covered by the union of ``spans``."""
    clipped = sorted((max(a, low), min(b, high)) for a, b in spans if b > low and a < high)
    total, end = 0.0, low
    for a, b in clipped:
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def border(
    image: np.ndarray, box: tuple[float, float, float, float], still: StillEdges | None = None
) -> BorderReading:
    """How much of each side of the face is run along by a straight edge nearby that is
    not an edge of the empty view (``still``)."""
    x, y, w, h = box
    reach = FAR + 0.3
    left = max(0, int(x + w / 2 - reach * w))
    right = min(image.shape[1], int(x + w / 2 + reach * w))
    top = max(0, int(y + h / 2 - reach * h))
    bottom = min(image.shape[0], int(y + h / 2 + reach * h))
    scale = FACE_PX / max(w, 1.0)
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    region = cv2.resize(image[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), (3, 3), 0)
    cx, cy = (x + w / 2 - left) * scale, (y + h / 2 - top) * scale
    fw, fh = w * scale, h * scale
    edges = cv2.Canny(grey, 30, 90, L2gradient=True)
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 180, threshold=25, minLineLength=int(0.5 * FACE_PX), maxLineGap=5
    )
    spans: dict[str, list[tuple[float, float]]] = {"left": [], "right": [], "top": [], "bottom": []}
    tilt = np.tan(np.radians(MAX_TILT_DEG))
    for x1, y1, x2, y2 in [] if lines is None else lines.reshape(-1, 4).tolist():
        dx, dy = float(x2 - x1), float(y2 - y1)
        if still is not None and still.covers(
            (left + x1 / scale, top + y1 / scale, left + x2 / scale, top + y2 / scale), image.shape
        ):
            continue
        if abs(dx) <= tilt * abs(dy):  # near-vertical: where does it cross the face's row?
            at = x1 + dx * (cy - y1) / dy if dy else x1
            offset = (at - cx) / fw
            side = "left" if offset < 0 else "right"
            if NEAR <= abs(offset) <= FAR:
                spans[side].append((min(y1, y2) - cy, max(y1, y2) - cy))
        elif abs(dy) <= tilt * abs(dx):  # near-horizontal: where does it cross the column?
            at = y1 + dy * (cx - x1) / dx if dx else y1
            offset = (at - cy) / fh
            side = "top" if offset < 0 else "bottom"
            if NEAR <= abs(offset) <= FAR:
                spans[side].append((min(x1, x2) - cx, max(x1, x2) - cx))
    sides = {}
    for side, found in spans.items():
        extent = fh if side in ("left", "right") else fw
        low, high = -0.8 * extent, 0.8 * extent
        if side in ("left", "right"):  # only what the frame shows can be covered
            low, high = max(low, -cy), min(high, grey.shape[0] - cy)
        else:
            low, high = max(low, -cx), min(high, grey.shape[1] - cx)
        visible = high - low
        sides[side] = _union_length(found, low, high) / visible if visible > 0.3 * extent else 0.0
    return BorderReading(sides)
