"""SFace embeddings: align the face to SFace's 112x112 template, then a 128-d unit vector.

Colour order: ``FaceRecognizerSF.feature`` itself swaps R and B when it builds the network
input (``blobFromImage(..., swapRB=true)``), so it must be given the BGR crop that
``alignCrop`` makes from a BGR frame, as OpenCV's own samples do. We measured it on the
real fixtures rather than trust the reading of the source: see ``bench/faces.py``
(``--colour`` ablation) and BENCHMARKS.md. Feeding RGB lowers genuine scores.

Vectors are L2-normalised here, once, so the 1:N search is one matrix-vector product.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge.faces.detector import Face
from edge.faces.models import ModelFile, open_recogniser

EMBEDDING_DIM = 128
ColourOrder = Literal["bgr", "rgb"]


class FaceEmbedder:
    def __init__(self, model: Path | None = None, colour: ColourOrder = "bgr") -> None:
        if colour not in ("bgr", "rgb"):
            raise ValueError(f"colour must be 'bgr' or 'rgb', got {colour!r}")
        self.colour = colour
        self.model: ModelFile
        self._net, self.model = open_recogniser(model)
        self._lock = threading.Lock()

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The 112x112 BGR crop SFace was trained on (eyes, nose, mouth at fixed places)."""
        with self._lock:
            return self._net.alignCrop(image, face.row)

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        if self.colour == "rgb":
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        with self._lock:
            feature = self._net.feature(crop)
        vector = np.asarray(feature, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if vector.shape != (EMBEDDING_DIM,) or not np.isfinite(norm) or norm == 0.0:
            raise ValueError("recogniser returned an unusable feature vector")
        return vector / norm

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_aligned(self.align(image, face))
