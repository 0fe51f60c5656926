"""YuNet face detection on frames of any size.

Why detect on a downscaled copy: YuNet's cost grows with the input area; a 4K enrolment
photo or a 1080p stream frame at full size costs ten times a 640-pixel one and finds the
same faces a person standing at a gate shows. Boxes and landmarks are scaled back to the
original image so alignment (the embedder) crops from full resolution.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.faces.images import check_frame
from edge.faces.models import ModelFile, open_detector


@dataclass(frozen=True)
class Face:
    """One detected face in original-image pixels. ``row`` is YuNet's 15-float layout
    (x, y, w, h, 5 landmarks x/y, score), which ``alignCrop`` expects."""

    row: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        x, y, w, h = (round(float(v)) for v in self.row[:4])
        return x, y, w, h

    @property
    def width(self) -> float:
        return float(self.row[2])

    @property
    def landmarks(self) -> np.ndarray:
        """5x2: right eye, left eye, nose tip, right mouth corner, left mouth corner."""
        return self.row[4:14].reshape(5, 2)

    @property
    def score(self) -> float:
        return float(self.row[14])


class FaceDetector:
    def __init__(
        self,
        model: Path | None = None,
        score_threshold: float = 0.8,
        max_side: int = 640,
    ) -> None:
        self.max_side = max_side
        self.model: ModelFile
        self._net, self.model = open_detector(model, score_threshold)
        self._size: tuple[int, int] | None = None
        self._lock = threading.Lock()  # the OpenCV net is stateful (input size): one caller

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (BGR), largest first."""
        image = check_frame(image)
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        small = (
            image
            if scale == 1.0
            else cv2.resize(
                image,
                (round(width * scale), round(height * scale)),
                interpolation=cv2.INTER_AREA,
            )
        )
        size = (small.shape[1], small.shape[0])
        with self._lock:
            if size != self._size:
                self._net.setInputSize(size)
                self._size = size
            _, rows = self._net.detect(small)
        if rows is None:
            return []
        rows = rows.astype(np.float32).copy()
        rows[:, :14] /= scale
        faces = [Face(row) for row in rows]
        return sorted(faces, key=lambda f: f.width, reverse=True)
