"""Detector + embedder + quality checks: a face template from a photo, a probe from a frame.

Two entry points with different strictness (see quality.py for why): ``enrolment_template``
refuses anything but one good frontal face; ``probe`` takes the largest face in a gate frame
that is big enough to be the person at the door and embeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import UserError
from edge.faces.detector import Face, FaceDetector
from edge.faces.embedder import FaceEmbedder
from edge.faces.images import ImageInputError
from edge.faces.quality import QualityLimits, QualityRefusal, QualityReport, check, count_refusal
from edge.faces.quality import measure as measure_quality


class EnrolmentRefused(UserError):
    """A photo that must not become a template; ``refusal`` says why (its ``reason`` is
    the message, rendered in the reader's language)."""

    code = "photo_refused"

    def __init__(self, refusal: QualityRefusal) -> None:
        super().__init__("%(reason)s", {"reason": refusal.reason})
        self.refusal = refusal


@dataclass(frozen=True)
class Template:
    vector: np.ndarray  # 128 float32, unit length
    quality: QualityReport
    # the aligned face the vector was made from (112 x 112 BGR): the enrolment photo's
    # thumbnail when the resident agrees to keep one; never stored otherwise
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Probe:
    face: Face
    vector: np.ndarray


class FaceRecogniser:
    def __init__(
        self,
        detector_model: Path | None = None,
        recogniser_model: Path | None = None,
        detector_min_score: float = 0.8,
        min_gate_face_px: int = 60,
        limits: QualityLimits | None = None,
    ) -> None:
        self.detector = FaceDetector(detector_model, detector_min_score)
        self.embedder = FaceEmbedder(recogniser_model)
        self.min_gate_face_px = min_gate_face_px
        self.limits = limits or QualityLimits()

    @property
    def model_sha256(self) -> str:
        """Templates are only comparable with the model that made them; stored with each."""
        return self.embedder.model.sha256

    def enrolment_template(self, image: np.ndarray) -> Template:
        try:
            faces = self.detector.detect(image)
        except ImageInputError as exc:
            raise EnrolmentRefused(QualityRefusal("bad_image", exc)) from None
        refusal = count_refusal(faces, self.limits)
        if refusal:
            raise EnrolmentRefused(refusal)
        crop = self.embedder.align(image, faces[0])
        report = measure_quality(faces[0], crop)
        refusal = check(report, self.limits)
        if refusal:
            raise EnrolmentRefused(refusal)
        return Template(self.embedder.embed_aligned(crop), report, crop)

    def probe(self, frame: np.ndarray) -> Probe | None:
        """The person at the door (largest face) as a vector; None when no usable face."""
        faces = [f for f in self.detector.detect(frame) if f.width >= self.min_gate_face_px]
        if not faces:
            return None
        return Probe(faces[0], self.embedder.embed(frame, faces[0]))
