"""The face recogniser ``[recognition.faces]`` describes, built the same way by every process
that needs one: the pedestrian gate, the web's and the CLI's enrolment, the sync worker's
district face dispositions, and the demo."""

from __future__ import annotations

from edge.config.pedestrian import FaceRecognitionConfig
from edge.faces.quality import QualityLimits
from edge.faces.recogniser import FaceRecogniser


def face_recogniser(faces: FaceRecognitionConfig) -> FaceRecogniser:
    """The face detector + embedder configured in [recognition.faces] (models verified)."""
    return FaceRecogniser(
        faces.detector_model,
        faces.recogniser_model,
        detector_min_score=faces.detector_min_score,
        min_gate_face_px=faces.min_gate_face_px,
        limits=QualityLimits(min_face_px=faces.min_enrol_face_px),
    )
