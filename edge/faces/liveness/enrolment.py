"""Liveness at enrolment: a score the operator sees for an uploaded photo, a verdict a capture
from a camera must pass.

Why the two differ: residents hand in photos (a phone picture, a scan of an ID photo); an
uploaded file is a picture of a picture as often as not, so refusing it for "not live" would
refuse the way residents enrol. The operator sees its score instead and judges whether the
photo is the person in front of them. A capture from a camera, on the other hand, claims to
be the person standing there: it gets the same checks as the door, on several frames, and a
failed check refuses it — otherwise a photo held up to the enrolment camera would become a
template that matches the photo's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from edge.faces.detector import Face, FaceDetector
from edge.faces.liveness.checker import LivenessChecker, Observation
from edge.faces.liveness.fusion import LivenessVerdict

PhotoLook = Literal["live", "doubtful", "recaptured"]


def photo_look(score: float, threshold: float) -> PhotoLook:
    """What an uploaded photo's liveness score says to the operator, in three words rather
    than a number: ``live`` (well above the door's threshold: a photo of the person),
    ``doubtful`` (just above it: look again), ``recaptured`` (below it: most likely a photo
    of a printed photo or of a screen — check it shows the person in front of you)."""
    if score < threshold:
        return "recaptured"
    return "live" if score >= threshold + (1 - threshold) / 2 else "doubtful"


def _largest(detector: FaceDetector, image: np.ndarray) -> Face | None:
    faces = detector.detect(image)
    return faces[0] if faces else None


def photo_score(
    checker: LivenessChecker, detector: FaceDetector, image: np.ndarray
) -> LivenessVerdict | None:
    """The liveness of one uploaded photo's largest face (None when it has no face): shown,
    never used to refuse."""
    face = _largest(detector, image)
    if face is None:
        return None
    return checker.judge([checker.observe(image, face)])


def capture_verdict(
    checker: LivenessChecker, detector: FaceDetector, frames: Sequence[np.ndarray]
) -> LivenessVerdict | None:
    """The verdict on a capture's frames with a face (None when none had one)."""
    observations: list[Observation] = []
    for image in frames:
        face = _largest(detector, image)
        if face is not None:
            observations.append(checker.observe(image, face))
    return checker.judge(observations) if observations else None
