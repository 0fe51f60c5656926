"""The two MiniFASNet anti-spoofing models vendored in ``models/``: proving they are the files
we measured, and opening them.

Why vendored and pinned: no package in the registries ships a passive anti-spoofing model
with its weights, so the ONNX files (Minivision's Silent-Face-Anti-Spoofing, Apache-2.0, see
``models/LICENSE`` and NOTICE) live in this package. Their SHA-256 is checked at every load,
as for the YuNet/SFace files (edge.faces.models): the threshold in BENCHMARKS.md was measured
on exactly these weights, and a different or damaged file would make it meaningless, so a
missing or altered file is an error that names the file and what to do, never a silent
fallback.

Each model was trained on its own crop: the face box scaled by ``crop_scale`` around its
centre (see edge.faces.liveness.passive for the convention).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.faces.models import FaceModelError

MODEL_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class PassiveModelSpec:
    file: str
    crop_scale: float
    sha256: str


PASSIVE_MODELS = (
    PassiveModelSpec(
        "2.7_80x80_MiniFASNetV2.onnx",
        2.7,
        "0c32e2d404ea1633d067ba7b76ca833b2112d72f8db138db07fbaa15ea513274",
    ),
    PassiveModelSpec(
        "4_0_0_80x80_MiniFASNetV1SE.onnx",
        4.0,
        "2e0d5767456ec4282cf2c02e3aee46ca2f1f63ac8a14fc7117730ddbaba507e5",
    ),
)
INPUT_SIDE = 80


def read_checked(spec: PassiveModelSpec, folder: Path | None = None) -> bytes:
    """The model's bytes, or FaceModelError when the file is missing or not the pinned one."""
    path = (folder or MODEL_DIR) / spec.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FaceModelError(
            f"liveness model not readable: {path}: {exc.strerror}; reinstall Menwei "
            "(the file ships inside the package)"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise FaceModelError(
            f"liveness model {path.name} has SHA-256 {digest}, expected {spec.sha256}: "
            "the file is altered or damaged; reinstall Menwei"
        )
    return data


def open_passive_model(spec: PassiveModelSpec, folder: Path | None = None) -> cv2.dnn.Net:
    """OpenCV's DNN for one pinned model (measured ~2x faster here than onnxruntime)."""
    data = read_checked(spec, folder)
    try:
        return cv2.dnn.readNetFromONNX(np.frombuffer(data, dtype=np.uint8))
    except cv2.error as exc:
        raise FaceModelError(f"OpenCV cannot open liveness model {spec.file}: {exc}") from None
