"""A cue from a second camera: the face must also be there, and look like skin, in near
infrared (850 nm, lit by the camera's own illuminator).

Why it is strong: it asks the attacker for physics, not for a better picture. A phone or
tablet screen emits no near infrared, so in the IR frame the panel is dark glass with at most
a glint of the illuminator: no face. Colour inks are transparent at 850 nm, so a colour print
shows as blank paper; only carbon black (toner, pigment black ink) shows, and then as flat
paper with dark marks. Skin reflects 850 nm strongly, and a round face lit from beside the
camera is brightest in the middle and darker towards the cheeks' edges.

So a live face must be found in the IR frame (YuNet, on the IR frame as grey) where the
calibration puts the colour face, about the same size; its skin (forehead and inner cheeks)
must be bright, and the outer part of its cheeks darker than the inner part (``relief``
below 1: not flat). That last test is the weakest: a carbon print of a photo with deep side
shadows can show "relief"; what the IR cue stops for certain is screens and colour prints.

Calibration: the two cameras sit side by side, so one homography ``colour_to_ir`` (from the
config, measured once at install: see docs/faces.md) maps colour pixels to IR pixels for
faces at door distance; the stereo offset it cannot model (faces nearer or farther than the
calibration) is within ``tolerance`` face widths at 0.4-1.5 m for cameras a few cm apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.faces.detector import Face, FaceDetector

MIN_SKIN = 0.22  # median IR level of skin patches (0-1): a dark screen is far below
MAX_RELIEF = 0.92  # outer / inner cheek brightness: a flat sheet is about 1


@dataclass(frozen=True)
class IrGeometry:
    colour_to_ir: np.ndarray  # 3x3 homography, colour pixels -> IR pixels
    tolerance: float = 0.5  # how far (in face widths) the IR face may be from where expected

    def __post_init__(self) -> None:
        matrix = np.asarray(self.colour_to_ir, np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
            raise ValueError("colour_to_ir must be a finite 3x3 matrix")
        if abs(np.linalg.det(matrix)) < 1e-9:
            raise ValueError("colour_to_ir must be invertible")
        object.__setattr__(self, "colour_to_ir", matrix)

    def map_points(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.colour_to_ir).reshape(-1, 2)


@dataclass(frozen=True)
class IrReading:
    found: bool  # a face at the matching place in the IR frame
    why: str  # ok | no_frame | no_face | elsewhere | dark | flat
    offset: float | None = None  # distance from the expected place, in face widths
    skin: float | None = None  # median IR level of skin (0-1)
    relief: float | None = None  # outer / inner cheeks (1: flat)

    @property
    def live(self) -> bool:
        return self.why == "ok"


def _patch_level(grey: np.ndarray, centre: np.ndarray, half: int) -> float | None:
    x, y = round(float(centre[0])), round(float(centre[1]))
    if x - half < 0 or y - half < 0 or x + half >= grey.shape[1] or y + half >= grey.shape[0]:
        return None
    return float(np.median(grey[y - half : y + half + 1, x - half : x + half + 1]))


def skin_and_relief(grey: np.ndarray, face: Face) -> tuple[float | None, float | None]:
    """Median level (0-1) of forehead and inner-cheek patches, and the cheeks' outer part
    (half an eye distance further out) over their inner part: a round face lit from the
    camera darkens towards its sides, a sheet does not."""
    marks = face.landmarks.astype(np.float64)
    right_eye, left_eye, _, right_mouth, left_mouth = marks
    eye_mid = (right_eye + left_eye) / 2
    across = left_eye - right_eye
    iod = float(np.linalg.norm(across))
    if iod < 8:
        return None, None
    unit = across / iod
    down = np.array([-unit[1], unit[0]])
    half = max(1, int(0.12 * iod))
    forehead = eye_mid - 0.45 * iod * down
    inner = [(right_eye + right_mouth) / 2, (left_eye + left_mouth) / 2]
    outer = [inner[0] - 0.5 * iod * unit, inner[1] + 0.5 * iod * unit]
    found = [_patch_level(grey, p, half) for p in [forehead, *inner, *outer]]
    levels = [v for v in found if v is not None]
    if len(levels) < len(found):
        return None, None
    skin = float(np.median(levels[:3])) / 255
    centre = float(np.mean(levels[1:3]))
    relief = float(np.mean(levels[3:])) / centre if centre > 0 else None
    return skin, relief


def ir_reading(
    detector: FaceDetector, ir_frame: np.ndarray | None, face: Face, geometry: IrGeometry
) -> IrReading:
    """Is the colour ``face`` also a live face in ``ir_frame``? Never raises on a bad frame."""
    if ir_frame is None:
        return IrReading(False, "no_frame")
    corners = np.array(
        [
            face.row[:2],
            face.row[:2] + face.row[2:4] * np.array([1.0, 0.0]),
            face.row[:2] + face.row[2:4],
        ]
    )
    mapped = geometry.map_points(corners)
    expected_w = float(np.linalg.norm(mapped[1] - mapped[0]))
    expected_centre = geometry.map_points(face.landmarks.mean(axis=0, keepdims=True))[0]
    try:
        candidates = detector.detect(ir_frame)
    except ValueError:
        return IrReading(False, "no_frame")
    if not candidates:
        return IrReading(False, "no_face")
    offsets = [
        float(np.linalg.norm(c.landmarks.mean(axis=0) - expected_centre)) / max(expected_w, 1.0)
        for c in candidates
    ]
    best = int(np.argmin(offsets))
    match, offset = candidates[best], offsets[best]
    size_ratio = match.width / max(expected_w, 1.0)
    if offset > geometry.tolerance or not 0.6 <= size_ratio <= 1.6:
        return IrReading(False, "elsewhere", offset)
    grey = cv2.cvtColor(ir_frame, cv2.COLOR_BGR2GRAY)
    skin, relief = skin_and_relief(grey, match)
    if skin is None or skin < MIN_SKIN:
        return IrReading(True, "dark", offset, skin, relief)
    if relief is None or relief > MAX_RELIEF:
        return IrReading(True, "flat", offset, skin, relief)
    return IrReading(True, "ok", offset, skin, relief)


class CalibrationError(ValueError):
    """The two pictures of the calibration board cannot give a homography; says why."""


def calibrate(
    colour_image: np.ndarray, ir_image: np.ndarray, board: tuple[int, int] = (9, 6)
) -> np.ndarray:
    """``colour_to_ir`` from one picture per camera of the same chessboard (``board`` inner
    corners), held where faces will be. Print the board with a laser printer: toner is
    carbon, so it shows in near infrared too (inkjet colour inks may vanish)."""
    corners = []
    for name, image in (("colour", colour_image), ("IR", ir_image)):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        found, points = cv2.findChessboardCorners(grey, board)
        if not found:
            raise CalibrationError(
                f"no {board[0]}x{board[1]} chessboard found in the {name} picture: hold the "
                "whole board in view of both cameras, flat and lit by the IR illuminator"
            )
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.01)
        corners.append(cv2.cornerSubPix(grey, points, (5, 5), (-1, -1), criteria))
    matrix, _ = cv2.findHomography(corners[0], corners[1], cv2.RANSAC, 3.0)
    if matrix is None:
        raise CalibrationError("the two boards do not fit one homography: take both again")
    return matrix / matrix[2, 2]
