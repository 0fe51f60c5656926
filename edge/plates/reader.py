"""The plate reader the gate loop calls: frame in, plate reads out.

Pipeline, and why each step: crop the lane's region of interest (pixels outside it are
other lanes and passers-by); find plates and their corners with the small plate detector
on a downscaled copy (a whole-frame text detector costs 180-700 ms, this ~15 ms); warp
each plate from the *full-resolution* frame into an upright crop (perspective undone, so
no 180° classifier is needed and characters are as sharp as the camera made them); read
the crop with PP-OCRv4 decoded against the plate grammar (~12 ms); name the colour from
the crop's HSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.plates.detector import PlateDetector
from edge.plates.grammar import is_valid_plate
from edge.plates.recogniser import PlateRecogniser

__all__ = [
    "PlateInputError",
    "PlateRead",
    "PlateReader",
    "PlateReaderSettings",
    "classify_colour",
    "rectify",
]

_MAX_SIDE = 8192  # larger is not a camera frame; resizing it alone would blow the budget
_MIN_FRAME = 16
_MIN_CROP_H, _MIN_CROP_W = 8, 24  # below this no character has enough pixels to read
_CROP_H = 48  # the recogniser's input height: warp straight to it, no second resize
_CROP_ASPECT = 440 / 140  # GA 36 plate, 440 x 140 mm
_MARGIN_X, _MARGIN_Y = 0.06, 0.15  # the recogniser reads best with a little border


class PlateInputError(ValueError):
    """The frame or crop is not an image the reader can use (None, empty, wrong type)."""


@dataclass(frozen=True)
class PlateReaderSettings:
    """Reader configuration; model paths None mean the models shipped in the wheels."""

    roi: tuple[int, int, int, int] | None = None  # x, y, w, h in frame pixels
    detector_model: Path | None = None
    recogniser_model: Path | None = None
    detector_input_long_side: int = 640
    detector_min_score: float = 0.7
    min_confidence: float = 0.80  # reads below are reported but flagged not valid
    threads: int = 2


@dataclass(frozen=True)
class PlateRead:
    """One plate read in one frame.

    `confidence` is the *minimum* over characters of how sure the recogniser is which
    character it is (its share of the non-blank CTC probability at its best aligned
    frame, with grammar-forbidden look-alikes such as O for 0 folded in): one doubtful
    character makes the whole plate doubtful, which is what an access decision needs.
    `valid` = the text passes the plate grammar and confidence >= min_confidence.
    """

    text: str
    confidence: float
    colour: str
    quad: tuple[tuple[float, float], ...] | None
    valid: bool


def _check_image(image: object, what: str) -> np.ndarray:
    """Return a 3-channel BGR uint8 view of `image` or raise PlateInputError saying why.

    Grayscale (HxW or HxWx1, e.g. an IR camera at night) is accepted and expanded;
    BGRA drops alpha. Anything else is refused rather than guessed at.
    """
    if image is None:
        raise PlateInputError(f"{what} is None (undecodable image or no frame from the camera)")
    if not isinstance(image, np.ndarray):
        raise PlateInputError(f"{what} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise PlateInputError(f"{what} must be uint8 BGR, got dtype {image.dtype}")
    if image.size == 0:
        raise PlateInputError(f"{what} is empty (shape {image.shape})")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise PlateInputError(f"{what} must be HxWx3 BGR (or grayscale), got shape {image.shape}")
    h, w = image.shape[:2]
    if max(h, w) > _MAX_SIDE:
        raise PlateInputError(f"{what} is {w}x{h}; larger than {_MAX_SIDE} px is not a frame")
    return image


def rectify(frame: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Warp the plate quad (TL, TR, BR, BL) into an upright 48 px high crop with a border.

    The width is the GA 36 aspect, not the quad's: a plate seen at an angle looks
    narrower than it is, and the recogniser reads best at the true proportions.
    """
    tl, tr, br, bl = np.asarray(corners, np.float32)
    width = round(_CROP_H * _CROP_ASPECT)
    dst = np.array([[0, 0], [width, 0], [width, _CROP_H], [0, _CROP_H]], np.float32)
    to_crop = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl], np.float32), dst)
    mx, my = _MARGIN_X * width, _MARGIN_Y * _CROP_H
    shift = np.array([[1, 0, mx], [0, 1, my], [0, 0, 1]], np.float64)
    size = (round(width + 2 * mx), round(_CROP_H + 2 * my))
    return cv2.warpPerspective(
        frame, shift @ to_crop, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def classify_colour(crop: np.ndarray) -> str:
    """Plate background colour from the crop's HSV: blue, yellow, green, white, black.

    The background is the largest area of a plate (characters ~30 %), so the colour
    class covering the most pixels of the central region wins. Green new-energy plates
    fade to white at the top, hence green wins at a lower share. "unknown" when nothing
    dominates (too dark, washed out, or not a plate).
    """
    h, w = crop.shape[:2]
    core = crop[h // 6 : h - h // 6, w // 12 : w - w // 12]
    if core.size == 0:
        return "unknown"
    hsv = cv2.cvtColor(core, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chroma = (sat >= 70) & (val >= 45)
    share = {
        # Blue is wide: real cameras tint blue plates teal or violet.
        "blue": np.mean(chroma & (hue >= 85) & (hue <= 140)),
        "yellow": np.mean(chroma & (hue >= 12) & (hue < 34)),
        "green": np.mean(chroma & (hue >= 34) & (hue < 85)),
        "white": np.mean((sat < 60) & (val >= 150)),
        "black": np.mean((sat < 90) & (val < 70)),
    }
    if share["green"] >= 0.25 and share["green"] > share["blue"]:
        return "green"
    best = max(share, key=lambda k: share[k])
    return best if share[best] >= 0.4 else "unknown"


class PlateReader:
    """Reads plates in gate-camera frames; one instance per gate, not thread-safe."""

    def __init__(self, settings: PlateReaderSettings = PlateReaderSettings()) -> None:
        if not 0 < settings.min_confidence <= 1:
            raise ValueError(f"min_confidence must be within (0, 1], got {settings.min_confidence}")
        if settings.roi is not None:
            x, y, w, h = settings.roi
            if x < 0 or y < 0 or w < _MIN_FRAME or h < _MIN_FRAME:
                raise ValueError(
                    f"roi must be x, y >= 0 and w, h >= {_MIN_FRAME}, got {settings.roi}"
                )
        self.settings = settings
        self.detector = PlateDetector(
            settings.detector_model,
            settings.detector_input_long_side,
            settings.detector_min_score,
            settings.threads,
        )
        self.recogniser = PlateRecogniser(settings.recogniser_model, settings.threads)

    def read(self, frame_bgr: np.ndarray) -> list[PlateRead]:
        """All plates in the frame (inside the ROI), best detection first; [] if none."""
        frame = _check_image(frame_bgr, "frame")
        fh, fw = frame.shape[:2]
        if fh < _MIN_FRAME or fw < _MIN_FRAME:
            raise PlateInputError(f"frame is {fw}x{fh}; at least {_MIN_FRAME}x{_MIN_FRAME} needed")
        x0 = y0 = 0
        view = frame
        if self.settings.roi is not None:
            x, y, w, h = self.settings.roi
            x0, y0 = min(x, fw), min(y, fh)
            view = frame[y0 : min(y + h, fh), x0 : min(x + w, fw)]
            if view.shape[0] < _MIN_FRAME or view.shape[1] < _MIN_FRAME:
                raise PlateInputError(
                    f"roi {self.settings.roi} lies (almost) outside the {fw}x{fh} frame"
                )
        reads = []
        for det in self.detector.detect(view):
            corners = det.corners + np.array([x0, y0], np.float32)
            crop = rectify(frame, corners)
            quad = tuple((float(px), float(py)) for px, py in corners)
            reads.append(self._read(crop, quad))
        return reads

    def read_crop(self, crop_bgr: np.ndarray) -> PlateRead:
        """Read an already cut-out, roughly upright plate (e.g. from another detector)."""
        crop = _check_image(crop_bgr, "crop")
        h, w = crop.shape[:2]
        if h < _MIN_CROP_H or w < _MIN_CROP_W:
            return PlateRead("", 0.0, "unknown", None, False)
        return self._read(crop, None)

    def _read(self, crop: np.ndarray, quad: tuple[tuple[float, float], ...] | None) -> PlateRead:
        raw = self.recogniser.read(crop)
        valid = is_valid_plate(raw.text) and raw.confidence >= self.settings.min_confidence
        return PlateRead(raw.text, round(raw.confidence, 4), classify_colour(crop), quad, valid)
