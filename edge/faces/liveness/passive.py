"""The learned cue: both MiniFASNet models on their own crops of the face, fused.

The crop convention is the models' own (Silent-Face-Anti-Spoofing's ``CropImage``): the face
box scaled by the model's factor around its centre, the factor reduced when the scaled box
would not fit the image, the box then shifted inside the image, and the region resized to
80x80 with a plain ``cv2.resize``. Pixels go in as BGR 0-255 floats. The two models' softmax
outputs are summed and class 1's share is the live probability (the models' usual fusion).
Boxes come from YuNet, the detector the gate uses; the models are sensitive to the box
convention, so every threshold was measured with YuNet boxes (bench/liveness.py).

Why a greyscale frame is not scored: the models call almost every grey face an attack (99
of 100 real faces converted to grey, measured upstream). A colour camera switched to its
infrared night mode sends grey frames, so this cue would lock residents out at night; it
says "not applicable" instead and the other cues decide (edge.faces.liveness.fusion).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from edge.faces.liveness.models import INPUT_SIDE, PASSIVE_MODELS, open_passive_model

GREY_CHROMA = 4.0  # mean |R-G|+|G-B| below this: the frame carries no colour


@dataclass(frozen=True)
class PassiveScore:
    live: float | None  # fused live probability; None when the frame is greyscale
    per_model: tuple[float, ...]  # each model's own live probability (for the log)
    greyscale: bool


def model_crop(
    image: np.ndarray, box: tuple[float, float, float, float], scale: float
) -> np.ndarray:
    """The 80x80 crop a model expects around ``box`` (x, y, w, h), clamped to the image."""
    height, width = image.shape[:2]
    x, y, w, h = box
    w, h = max(w, 1.0), max(h, 1.0)
    scale = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * scale, h * scale
    cx, cy = x + w / 2, y + h / 2
    left, top, right, bottom = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    left, top, right, bottom = int(left), int(top), int(right), int(bottom)
    region = image[max(top, 0) : bottom + 1, max(left, 0) : right + 1]
    return cv2.resize(region, (INPUT_SIDE, INPUT_SIDE))


def is_greyscale(image: np.ndarray) -> bool:
    """True when the image has (almost) no colour: an infrared night frame, a mono camera."""
    small = cv2.resize(image, (64, 48), interpolation=cv2.INTER_AREA).astype(np.int16)
    chroma = np.abs(small[..., 2] - small[..., 1]) + np.abs(small[..., 1] - small[..., 0])
    return float(chroma.mean()) < GREY_CHROMA


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class PassiveLiveness:
    """Both vendored models, loaded (and SHA-256 checked) once; thread-safe scoring."""

    def __init__(self) -> None:
        self._nets = [(open_passive_model(spec), spec.crop_scale) for spec in PASSIVE_MODELS]
        self._lock = threading.Lock()  # cv2.dnn.Net keeps its input: one caller at a time

    def score(self, image: np.ndarray, box: tuple[float, float, float, float]) -> PassiveScore:
        if is_greyscale(image):
            return PassiveScore(None, (), True)
        total = np.zeros(3)
        per_model = []
        for net, scale in self._nets:
            crop = model_crop(image, box, scale)
            blob = crop.transpose(2, 0, 1)[None].astype(np.float32)
            with self._lock:
                net.setInput(blob)
                logits = net.forward()[0].astype(np.float64)
            probs = _softmax(logits)
            per_model.append(float(probs[1]))
            total += probs
        return PassiveScore(float(total[1] / total.sum()), tuple(per_model), False)
