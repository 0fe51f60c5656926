"""Find plate-like text lines when the plate detector finds no plate but a vehicle is there.

Why a fallback: the plate detector (trained on CCPD street photos of blue plates) misses
some plates it was not trained on — green new-energy plates at a distance, dirty or
unusual plates — and a car standing at the barrier unread is the worst case at a gate.
PP-OCRv4's text detector (DB, shipped in rapidocr's wheel) finds any line of text; each
line the right shape for a plate is expanded from its characters to the plate's edges and
handed to the normal reader, whose grammar and corroboration then decide whether it is a
plate at all. It costs ~10x the plate detector, so the reader runs it only when something
outside the camera (the vehicle loop, motion) says a vehicle is present.

Model contract (from rapidocr_onnxruntime's DetPreProcess / DBPostProcess): BGR scaled to
0..1, minus 0.5, over 0.5; input sides multiples of 32; output a [1,1,H,W] probability
map of "text here"; lines are the connected regions above 0.3, scored by their mean
probability, grown by `area * 1.6 / perimeter` (the model is trained on shrunk boxes).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.plates.detector import order_corners
from edge.plates.models import load_session, resolve_model

__all__ = ["TextBoxFinder"]

_THRESH, _BOX_THRESH, _UNCLIP = 0.3, 0.5, 1.6
# Plate text lines: "皖A·12345" is ~3.2-4.4 times as wide as tall; allow angle and crops.
_MIN_ASPECT, _MAX_ASPECT = 1.8, 7.0
# From the character line to the plate's edges (GA 36: glyphs 90 of 140 mm tall, the
# line ~410 of 440 mm wide).
_GROW_W, _GROW_H = 1.07, 1.5


class TextBoxFinder:
    """Plate-shaped text lines in a BGR image, as plate quads (TL, TR, BR, BL)."""

    def __init__(
        self,
        model: Path | None = None,
        threads: int = 2,
        long_side: int = 960,
        max_boxes: int = 6,
        min_height: int = 8,
    ) -> None:
        if long_side < 64:
            raise ValueError(f"text detector long_side must be >= 64, got {long_side}")
        self.model_path = resolve_model(model, "text_detector")
        self.session = load_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.long_side = long_side
        self.max_boxes = max_boxes
        self.min_height = min_height

    def probability_map(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The model's text probability map and the scale from `image` to it."""
        h, w = image.shape[:2]
        scale = min(1.0, self.long_side / max(h, w))
        sh = max(32, round(h * scale / 32) * 32)
        sw = max(32, round(w * scale / 32) * 32)
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        blob = (small.astype(np.float32) / 255.0 - 0.5) / 0.5
        out = self.session.run(None, {self.input_name: blob.transpose(2, 0, 1)[None]})[0]
        return out[0, 0], sw / w

    def find(self, image: np.ndarray) -> list[np.ndarray]:
        """Plate quads in `image` pixels, most text-like first; [] when none."""
        prob, scale = self.probability_map(image)
        bitmap = (prob > _THRESH).astype(np.uint8)
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        found: list[tuple[float, np.ndarray]] = []
        for contour in contours:
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
            if min(rw, rh) < 3:
                continue
            mask = np.zeros_like(bitmap)
            cv2.drawContours(mask, [contour], -1, 1, -1)
            score = float(prob[mask.astype(bool)].mean())
            if score < _BOX_THRESH:
                continue
            grow = rw * rh * _UNCLIP / (2 * (rw + rh))
            rw, rh = rw + 2 * grow, rh + 2 * grow
            if rw < rh:  # make width the long side, the angle follows
                rw, rh, angle = rh, rw, angle - 90
            if rh / scale < self.min_height or not _MIN_ASPECT <= rw / rh <= _MAX_ASPECT:
                continue
            box = cv2.boxPoints(((cx, cy), (rw * _GROW_W, rh * _GROW_H), angle)) / scale
            found.append((score, order_corners(box)))
        found.sort(key=lambda item: -item[0])
        return [quad for _, quad in found[: self.max_boxes]]
