"""Enrolment photo checks: one face, large enough, sharp, frontal, lit — or a reason why not.

Why strict at enrolment and not at the gate: a template is compared with every passer-by
for years. A blurred, tiny or turned face makes a template that matches its owner weakly
(so they are refused) and strangers comparatively well; one bad photo lowers the whole
system's margin. The gate itself tolerates worse frames because it needs agreement over
several of them. Limits come from the real fixture photos (see BENCHMARKS.md): every usable
fixture passes with room to spare; blurred, tiny and turned copies fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import Phrase
from edge.faces.detector import Face


@dataclass(frozen=True)
class QualityLimits:
    min_face_px: int = 80  # face box width in the original photo
    min_sharpness: float = 60.0  # variance of the Laplacian on the 112x112 aligned crop
    max_yaw: float = 0.35  # nose offset from the eye midpoint, in inter-eye distances
    max_roll_deg: float = 15.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0


@dataclass(frozen=True)
class QualityRefusal:
    """Why a photo cannot be enrolled: a stable ``code`` and the ``reason``, an English
    msgid with its parameters (a ``Phrase``, or the ``UserError`` of an unusable image) that
    each reader sees in their own language (``edge.errors.render_part``)."""

    code: str
    reason: object

    def __str__(self) -> str:
        return str(self.reason)


@dataclass(frozen=True)
class QualityReport:
    face_width: float
    sharpness: float
    yaw: float
    roll_deg: float
    brightness: float


def pose(face: Face) -> tuple[float, float]:
    """(yaw proxy, roll in degrees) from the five landmarks; 0, 0 is a level frontal face."""
    right_eye, left_eye, nose = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    eye_mid = (right_eye + left_eye) / 2
    eye_dist = float(np.linalg.norm(left_eye - right_eye)) or 1e-6
    yaw = float((nose[0] - eye_mid[0]) / eye_dist)
    roll = float(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])))
    return yaw, roll


def measure(face: Face, aligned: np.ndarray) -> QualityReport:
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    yaw, roll = pose(face)
    return QualityReport(face.width, sharpness, yaw, roll, float(grey.mean()))


def count_refusal(faces: list[Face], limits: QualityLimits) -> QualityRefusal | None:
    """No face, or more than one face big enough to be a person in front of the camera."""
    if not faces:
        return QualityRefusal("no_face", Phrase("no face found in the photo"))
    relevant = [f for f in faces if f.width >= limits.min_face_px / 2]
    if len(relevant) > 1:
        return QualityRefusal(
            "several_faces",
            Phrase("%(n)s faces in the photo; exactly one is needed", n=len(relevant)),
        )
    return None


def check(report: QualityReport, limits: QualityLimits) -> QualityRefusal | None:
    """The first failed check, or None when the photo is good enough to enrol."""
    if report.face_width < limits.min_face_px:
        return QualityRefusal(
            "face_too_small",
            Phrase(
                "face is %(width)s px wide, at least %(min)s needed",
                width=f"{report.face_width:.0f}",
                min=limits.min_face_px,
            ),
        )
    if report.sharpness < limits.min_sharpness:
        return QualityRefusal(
            "blurred",
            Phrase(
                "photo is blurred (sharpness %(sharpness)s < %(min)s)",
                sharpness=f"{report.sharpness:.0f}",
                min=f"{limits.min_sharpness:.0f}",
            ),
        )
    if abs(report.yaw) > limits.max_yaw or abs(report.roll_deg) > limits.max_roll_deg:
        return QualityRefusal(
            "not_frontal",
            Phrase(
                "face is turned or tilted (yaw %(yaw)s, roll %(roll)s°)",
                yaw=f"{report.yaw:.2f}",
                roll=f"{report.roll_deg:.0f}",
            ),
        )
    if not limits.min_brightness <= report.brightness <= limits.max_brightness:
        return QualityRefusal(
            "bad_exposure",
            Phrase(
                "face is too dark or too bright (mean %(mean)s)", mean=f"{report.brightness:.0f}"
            ),
        )
    return None
