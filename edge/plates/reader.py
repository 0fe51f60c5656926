"""The plate reader the gate loop calls: frame in, plate reads out.

Pipeline, and why each step: crop the lane's region of interest (pixels outside it are
other lanes and passers-by); find plates and their corners with the small plate detector
on a downscaled copy (a whole-frame text detector costs 180-700 ms, this ~15 ms); warp
each plate from the *full-resolution* frame into an upright crop (perspective undone, so
no 180° classifier is needed and characters are as sharp as the camera made them); read
the crop with PP-OCRv4 decoded against the plate grammar (~12 ms), a double-row plate one
row at a time; name the colour from the crop's HSV; then ask the plate-only CRNN to read
the same plate in the same form and `judge` whether the read may be acted on (~3 ms).

When a vehicle is known to be there (loop input, motion) but the plate detector finds
nothing, PP-OCRv4 text detection on the lane is the fallback (`edge.plates.fallback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import MenweiError
from edge.plates.detector import PlateDetector
from edge.plates.fallback import TextBoxFinder
from edge.plates.grammar import BOTTOM_ROWS, TOP_ROW, Template, template_of
from edge.plates.judge import JudgeSettings, judge
from edge.plates.recogniser import SECOND, PlateRecogniser, RawRead

__all__ = [
    "PlateInputError",
    "PlateRead",
    "PlateReader",
    "PlateReaderSettings",
    "classify_colour",
    "rectify",
    "row_gap",
]

_MAX_SIDE = 8192  # larger is not a camera frame; resizing it alone would blow the budget
_MIN_FRAME = 16
_MIN_CROP_H, _MIN_CROP_W = 8, 24  # below this no character has enough pixels to read
_CROP_H = 48  # the recogniser's input height: warp straight to it, no second resize
_CROP_ASPECT = 440 / 140  # GA 36 plate, 440 x 140 mm
_DOUBLE_ASPECT = 440 / 220  # GA 36 double-row plate
# Quads narrower than this (width / height) may be double-row plates; both readings are
# tried between the two limits (a single-row plate seen at an angle looks narrower).
_DOUBLE_BELOW, _SINGLE_ABOVE = 2.3, 2.9
# The first reader reads best with a little border; the plate CRNN was trained on tight
# text-line crops and reads best with the plate edge just cut off.
_MARGINS_FIRST = (0.06, 0.15)
_MARGINS_SECOND = (-0.02, -0.05)


class PlateInputError(MenweiError, ValueError):
    """The frame or crop is not an image the reader can use (None, empty, wrong type)."""


@dataclass(frozen=True)
class PlateReaderSettings:
    """Reader configuration; model paths None mean the models shipped in the wheels.

    `detector_min_score` 0.5: measured on real and synthetic frames (bench/plates.py), it
    finds green plates that 0.7 misses and reports no plate on empty lanes.
    `corroborate`: a second recogniser must agree (see `edge.plates.judge`); off only
    for measuring what it costs and gains. `sure_confidence`: characters the first reader
    is less sure of need that agreement. `fallback`: text detection when a vehicle is
    present but no plate box is found.
    """

    roi: tuple[int, int, int, int] | None = None  # x, y, w, h in frame pixels
    detector_model: Path | None = None
    recogniser_model: Path | None = None
    detector_input_long_side: int = 640
    detector_min_score: float = 0.5
    min_confidence: float = 0.80  # reads below are reported but flagged not valid
    threads: int = 2
    corroborate: bool = True
    sure_confidence: float = 0.97
    fallback: bool = True


@dataclass(frozen=True)
class PlateRead:
    """One plate read in one frame.

    `confidence` is the *minimum* over characters of how sure the first recogniser is which
    character it is (its share of the non-blank CTC probability at its best aligned
    frame, with grammar-forbidden look-alikes such as O for 0 folded in): one doubtful
    character makes the whole plate doubtful, which is what an access decision needs.
    `valid` = a plate of a known class that passed its class's rules and corroboration;
    otherwise `unsure` says why not ("unread", "low_confidence", "colour_mismatch",
    "disagree"). `char_probs` per character, `second` the second reader's text and
    `second_probs` its per-character confidence, `rows`
    1 or 2 (double-row plate), `plate_class` the class code ("" when not a plate).
    """

    text: str
    confidence: float
    colour: str
    quad: tuple[tuple[float, float], ...] | None
    valid: bool
    plate_class: str = ""
    unsure: str = ""
    char_probs: tuple[float, ...] = ()
    second: str = ""
    second_probs: tuple[float, ...] = ()
    rows: int = 1
    auto_open: bool = True


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


def rectify(
    frame: np.ndarray,
    corners: np.ndarray,
    margins: tuple[float, float] = _MARGINS_FIRST,
    height: int = _CROP_H,
    aspect: float = _CROP_ASPECT,
) -> np.ndarray:
    """Warp the plate quad (TL, TR, BR, BL) into an upright `height` px high crop with a
    border of `margins` (fractions of width and height; negative cuts into the plate).

    The width is the GA 36 aspect, not the quad's: a plate seen at an angle looks
    narrower than it is, and the recogniser reads best at the true proportions.
    """
    tl, tr, br, bl = np.asarray(corners, np.float32)
    width = round(height * aspect)
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    to_crop = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl], np.float32), dst)
    mx, my = margins[0] * width, margins[1] * height
    shift = np.array([[1, 0, mx], [0, 1, my], [0, 0, 1]], np.float64)
    size = (max(1, round(width + 2 * mx)), max(1, round(height + 2 * my)))
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


def quad_aspect(corners: np.ndarray) -> float:
    """Width over height of a plate quad, from its mean edge lengths."""
    tl, tr, br, bl = np.asarray(corners, np.float64)
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    return float(width / max(float(height), 1e-6))


def _row_band(corners: np.ndarray, top: float, bottom: float) -> np.ndarray:
    """The quad's horizontal band between fractions `top` and `bottom` of its height
    (either may lie outside 0..1), as a quad."""
    tl, tr, br, bl = np.asarray(corners, np.float32)
    left, right = bl - tl, br - tr
    return np.array(
        [tl + top * left, tr + top * right, tr + bottom * right, tl + bottom * left], np.float32
    )


# A double-row plate's rows as bands of the detected quad. The detector's top edge tends
# to sit inside the top row, so that band reaches above the quad. Where the rows part is
# measured on the plate itself (`row_gap`); these are the fallback when it cannot be.
_TOP_BAND, _BOTTOM_BAND = (-0.12, 0.42), (0.36, 1.04)
_GAP_RANGE = (0.22, 0.6)  # where the gap between the rows can lie, as a fraction of the quad
_GAP_OVERLAP = 0.02  # each row's band reaches this far past the gap


def row_gap(frame: np.ndarray, corners: np.ndarray) -> float | None:
    """Where a double-row plate's two rows part, as a fraction of the quad's height: the
    line with the least character ink in the middle of the plate (the row projection
    profile). None when no line there is clearly emptier than the rows (not two rows).

    Why measure it: the detector's box sits differently on every plate, and a fixed split
    left the tops of the bottom row's characters in the top row's crop, where the reader
    took them for part of the letter (V read as S or Y).
    """
    plate = rectify(frame, corners, (0.0, 0.0), height=96, aspect=_DOUBLE_ASPECT)
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    core = grey[:, w // 10 : w - w // 10]  # the frame line and screws stay out
    _, ink = cv2.threshold(core, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:  # characters are the minority of a plate, whatever the colours
        ink = 1 - ink
    profile = np.convolve(ink.mean(axis=1), np.ones(3) / 3, mode="same")
    lo, hi = round(_GAP_RANGE[0] * h), round(_GAP_RANGE[1] * h)
    gap = lo + int(np.argmin(profile[lo:hi]))
    rows = max(profile[:gap].max(initial=0.0), 1e-6), max(profile[gap:].max(initial=0.0), 1e-6)
    if profile[gap] > 0.35 * min(rows):
        return None
    return gap / h


class PlateReader:
    """Reads plates in gate-camera frames; one instance per gate, not thread-safe."""

    def __init__(self, settings: PlateReaderSettings = PlateReaderSettings()) -> None:
        if not 0 < settings.min_confidence <= 1:
            raise ValueError(f"min_confidence must be within (0, 1], got {settings.min_confidence}")
        if not 0 < settings.sure_confidence <= 1:
            raise ValueError(
                f"sure_confidence must be within (0, 1], got {settings.sure_confidence}"
            )
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
        self.second = (
            PlateRecogniser(None, settings.threads, spec=SECOND) if settings.corroborate else None
        )
        self.fallback = TextBoxFinder(threads=settings.threads) if settings.fallback else None
        self.judge_settings = JudgeSettings(settings.min_confidence, settings.sure_confidence)

    def read(self, frame_bgr: np.ndarray, vehicle_present: bool = False) -> list[PlateRead]:
        """All plates in the frame (inside the ROI), best detection first; [] if none.

        `vehicle_present`: something outside the camera (the loop input, motion) says a
        vehicle is there; when the plate detector then finds nothing, text detection on
        the lane looks for the plate instead (slower, so only then).
        """
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
        offset = np.array([x0, y0], np.float32)
        quads = [det.corners + offset for det in self.detector.detect(view)]
        reads = [self._read_quad(frame, q) for q in quads]
        if not quads and vehicle_present and self.fallback is not None:
            found = [self._read_quad(frame, q + offset) for q in self.fallback.find(view)]
            reads = [r for r in found if r.text][: self.detector.max_plates]
        return reads

    def read_crop(self, crop_bgr: np.ndarray) -> PlateRead:
        """Read an already cut-out, roughly upright plate (e.g. from another detector)."""
        crop = _check_image(crop_bgr, "crop")
        h, w = crop.shape[:2]
        if h < _MIN_CROP_H or w < _MIN_CROP_W:
            return PlateRead("", 0.0, "unknown", None, False, unsure="unread", auto_open=False)
        colour = classify_colour(crop)
        raw = self.recogniser.read(crop)
        return self._verdict(raw, colour, None, [crop], None)

    # -- one quad --------------------------------------------------------------------------
    def _read_quad(self, frame: np.ndarray, corners: np.ndarray) -> PlateRead:
        quad = tuple((float(px), float(py)) for px, py in corners)
        aspect = quad_aspect(corners)
        candidates = []
        if aspect >= _DOUBLE_BELOW:
            candidates.append(self._read_single(frame, corners, quad))
        if aspect < _SINGLE_ABOVE:
            candidates.append(self._read_double(frame, corners, quad))
        return max(candidates, key=lambda r: (bool(r.text), r.valid, r.confidence))

    def _read_single(self, frame: np.ndarray, corners: np.ndarray, quad) -> PlateRead:
        crop = rectify(frame, corners)
        raw = self.recogniser.read(crop)
        tight = rectify(frame, corners, _MARGINS_SECOND) if self.second else None
        return self._verdict(raw, classify_colour(crop), quad, [tight], None)

    def _read_double(self, frame: np.ndarray, corners: np.ndarray, quad) -> PlateRead:
        """Top row (province, letter) and bottom row (five characters) read apart."""
        colour = classify_colour(rectify(frame, corners, aspect=_DOUBLE_ASPECT))
        gap = row_gap(frame, corners)
        limits = (_TOP_BAND, _BOTTOM_BAND)
        if gap is not None:
            limits = ((_TOP_BAND[0], gap + _GAP_OVERLAP), (gap - _GAP_OVERLAP, _BOTTOM_BAND[1]))
        # Rows keep the plate's width but not its height, so each is warped to its own
        # aspect (about 4.4:1 for the top row, 3.6:1 for the bottom one).
        crops = [
            rectify(frame, _row_band(corners, a, b), (0.02, 0.0), aspect=_DOUBLE_ASPECT / (b - a))
            for a, b in limits
        ]
        top = self.recogniser.decode_grammar(self.recogniser.probabilities(crops[0]), (TOP_ROW,))
        bottom = self.recogniser.decode_grammar(
            self.recogniser.probabilities(crops[1]), BOTTOM_ROWS
        )
        if not top.text or not bottom.text:
            return PlateRead("", 0.0, colour, quad, False, unsure="unread", rows=2, auto_open=False)
        raw = RawRead(top.text + bottom.text, top.char_probs + bottom.char_probs)
        return self._verdict(raw, colour, quad, crops, 2)

    def _second_read(
        self, text: str, template: Template, crops: list, rows: int | None
    ) -> RawRead | None:
        """The second reader's read of the same form (each row on its own when two)."""
        second = self.second
        if second is None or any(c is None for c in crops):
            return None
        if rows == 2:
            top = second.decode_as(second.probabilities(crops[0]), TOP_ROW)
            bottom_form = BOTTOM_ROWS[1] if text.endswith("挂") else BOTTOM_ROWS[0]
            bottom = second.decode_as(second.probabilities(crops[1]), bottom_form)
            return RawRead(top.text + bottom.text, top.char_probs + bottom.char_probs)
        return second.decode_as(second.probabilities(crops[0]), template)

    def _verdict(self, raw: RawRead, colour: str, quad, crops: list, rows: int | None) -> PlateRead:
        template = template_of(raw.text)
        other = None
        if template is not None:
            other = self._second_read(raw.text, template, crops, rows)
        verdict = judge(
            raw.text,
            raw.char_probs,
            colour,
            (other.text, other.char_probs) if other is not None else None,
            self.second.knows if self.second is not None else (lambda _c: False),
            self.judge_settings,
            self.second.recall if self.second is not None else (lambda _c: 1.0),
        )
        kind = verdict.plate_class
        return PlateRead(
            raw.text,
            round(raw.confidence, 4),
            colour,
            quad,
            verdict.valid,
            plate_class=kind.code if kind else "",
            unsure=verdict.unsure,
            char_probs=tuple(round(p, 4) for p in raw.char_probs),
            second=other.text if other is not None else "",
            second_probs=tuple(round(p, 4) for p in other.char_probs) if other is not None else (),
            rows=rows or 1,
            auto_open=kind.auto_open if kind else False,
        )
