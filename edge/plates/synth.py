"""Synthetic Chinese licence plates and gate-camera scenes.

Why this exists: the real fixtures are few and all alike (daylight, frontal, blue). Tests
need plates of every colour, at angles, blurred, at night, with known ground truth, and
`menwei demo` must run on a machine that has no camera and no image files at all. So we
draw plates ourselves, close enough to GA 36-2018 that the real detector (trained on CCPD)
and the real recogniser (PP-OCRv4) treat them like photographs of plates.

Everything is deterministic: the same arguments and seed give the same pixels, so a test
that fails, fails the same way on every machine.
"""

from __future__ import annotations

import glob
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.errors import MenweiError
from edge.plates.grammar import classify, template_of

__all__ = [
    "COLOURS",
    "FontNotFoundError",
    "find_cjk_font",
    "real_colour",
    "render_empty_scene",
    "render_plate",
    "render_scene",
    "render_scene_with_corners",
]

FONT_ENV = "MENWEI_CJK_FONT"
FONT_PACKAGE = "fonts-wqy-microhei"

#: Where Debian puts CJK fonts; first existing one wins. Globs allowed (Noto ships weights).
_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)

# Plate colours as BGR (OpenCV order). `bg_bottom` differs from `bg` only for the
# gradient new-energy plate; `border` None means the plate has no frame line.
COLOURS: dict[str, dict[str, tuple[int, int, int] | None]] = {
    "blue": {"bg": (170, 70, 0), "bg_bottom": (170, 70, 0), "fg": (255, 255, 255),
             "border": (255, 255, 255)},
    "yellow": {"bg": (20, 190, 245), "bg_bottom": (20, 190, 245), "fg": (0, 0, 0),
               "border": (0, 0, 0)},
    "green": {"bg": (245, 250, 245), "bg_bottom": (90, 185, 60), "fg": (0, 0, 0),
              "border": None},
    "white": {"bg": (240, 240, 240), "bg_bottom": (240, 240, 240), "fg": (0, 0, 0),
              "border": (0, 0, 0)},
    "black": {"bg": (15, 15, 15), "bg_bottom": (15, 15, 15), "fg": (255, 255, 255),
              "border": (255, 255, 255)},
    "yellow_green": {"bg": (20, 190, 245), "bg_bottom": (20, 190, 245), "fg": (0, 0, 0),
                     "border": None},
}  # fmt: skip
_POLICE_RED = (0, 0, 210)

# GA 36-2018 layouts in millimetres: plate width, glyph width, gap between glyphs, gap
# around the separator dot (between the 2nd and 3rd glyph). Glyphs are 90 mm tall, 25 mm
# from the top; the plate is 140 mm tall.
_PLATE_H_MM = 140.0
_GLYPH_H_MM = 90.0
_GLYPH_TOP_MM = 25.0
_LAYOUTS: dict[int, dict[str, float]] = {
    7: {"width": 440.0, "glyph_w": 45.0, "gap": 12.0, "sep_gap": 34.0},
    8: {"width": 480.0, "glyph_w": 43.0, "gap": 9.0, "sep_gap": 49.0},
}
#: The double-row plate (GA 36-2018, 440 x 220 mm): two wide glyphs on top centred at
#: top_x, five tall ones below.
_DOUBLE: dict[str, Any] = {"width": 440.0, "height": 220.0, "top_x": (150.0, 290.0), "top_y": 15.0,
           "top_w": 80.0, "top_h": 60.0, "bottom_y": 95.0, "bottom_w": 65.0,
           "bottom_h": 110.0, "bottom_gap": 15.0}  # fmt: skip
_SUPERSAMPLE = 4  # draw big, shrink with INTER_AREA: smooth edges without per-shape AA


class FontNotFoundError(MenweiError, RuntimeError):
    """No CJK font: plates with 京, 粤, 皖 ... cannot be drawn without one."""


def find_cjk_font(explicit: Path | None = None) -> Path:
    """Return a font file that has the Chinese province characters.

    Order: `explicit`, then $MENWEI_CJK_FONT, then known Debian locations. A path that is
    asked for (argument or variable) but missing is an error, not a cue to fall back:
    silently using another font would hide a configuration mistake.
    """
    for source, value in (("font argument", explicit), (FONT_ENV, os.environ.get(FONT_ENV))):
        if value:
            path = Path(value)
            if not path.is_file():
                raise FontNotFoundError(
                    f"CJK font {path} (from {source}) does not exist. Install the Debian "
                    f"package {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or point "
                    f"{FONT_ENV} at a .ttf/.ttc font with Chinese characters."
                )
            return path
    for pattern in _FONT_CANDIDATES:
        for hit in sorted(glob.glob(pattern)):
            if Path(hit).is_file():
                return Path(hit)
    raise FontNotFoundError(
        f"No CJK font found (looked in {', '.join(_FONT_CANDIDATES)}). Install the Debian "
        f"package {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set {FONT_ENV} to a "
        f".ttf/.ttc font with Chinese characters."
    )


#: The background a plate class is issued in (GA 36-2018); "ordinary" plates are blue.
_CLASS_COLOUR = {"ordinary": "blue", "coach": "yellow", "trailer": "yellow",
                 "police": "white", "emergency": "white", "military": "white",
                 "consulate": "black", "hong_kong": "black", "macau": "black",
                 "embassy": "black"}  # fmt: skip


def real_colour(text: str, rows: int = 1) -> str:
    """The colour a plate with `text` really has: a double-row plate is yellow, a small
    new-energy plate green, a large one (its letter last) yellow-green, 警/应急/military
    white, 使/领/港/澳 black, 学/挂 yellow, any other ordinary plate blue. Text that is no
    plate (a test drawing nonsense) is drawn blue."""
    if rows == 2:
        return "yellow"
    template, plate_class = template_of(text), classify(text)
    if template is None or plate_class is None:
        return "blue"
    if template.name == "nev_large":
        return "yellow_green"
    if plate_class.code == "new_energy":
        return "green"
    return _CLASS_COLOUR.get(plate_class.code, "blue")


def _check(text: str, colour: str, rows: int = 1) -> None:
    if colour not in COLOURS:
        raise ValueError(f"unknown plate colour {colour!r}; expected one of {sorted(COLOURS)}")
    if rows not in (1, 2):
        raise ValueError(f"a plate has 1 or 2 rows, got {rows}")
    if rows == 2 and len(text) != 7:
        raise ValueError(f"a double-row plate has 7 characters (2 + 5), got {len(text)}: {text!r}")
    if len(text) not in _LAYOUTS:
        raise ValueError(f"plate text must have 7 or 8 characters, got {len(text)}: {text!r}")


def _plate_mm(text: str, rows: int) -> tuple[float, float]:
    """Plate (width, height) in millimetres."""
    return (_DOUBLE["width"], _DOUBLE["height"]) if rows == 2 else (
        _LAYOUTS[len(text)]["width"], _PLATE_H_MM)  # fmt: skip


def _cells(text: str, rows: int) -> tuple[list[tuple[float, float, float, float]], tuple]:
    """Glyph cells (x, y, w, h in mm), one per character, and the separator dot (x, y)."""
    if rows == 2:
        d = _DOUBLE
        top = [(x - d["top_w"] / 2, d["top_y"], d["top_w"], d["top_h"]) for x in d["top_x"]]
        x0 = (d["width"] - 5 * d["bottom_w"] - 4 * d["bottom_gap"]) / 2
        bottom = [
            (x0 + k * (d["bottom_w"] + d["bottom_gap"]), d["bottom_y"], d["bottom_w"],
             d["bottom_h"])
            for k in range(5)
        ]  # fmt: skip
        dot = (sum(d["top_x"]) / 2, d["top_y"] + d["top_h"] / 2)
        return top + bottom, dot
    lay = _LAYOUTS[len(text)]
    margin = (lay["width"] - len(text) * lay["glyph_w"] - (len(text) - 2) * lay["gap"]) / 2
    x_mm = margin - (lay["sep_gap"] - lay["gap"]) / 2
    cells, dot = [], (0.0, 0.0)
    for i in range(len(text)):
        cells.append((x_mm, _GLYPH_TOP_MM, lay["glyph_w"], _GLYPH_H_MM))
        x_mm += lay["glyph_w"]
        if i == 1:  # separator dot, 10 mm, centred in the wider gap
            dot = (x_mm + lay["sep_gap"] / 2, _PLATE_H_MM / 2)
            x_mm += lay["sep_gap"]
        else:
            x_mm += lay["gap"]
    return cells, dot


def _glyph_colour(text: str, i: int, colour: str, fg: tuple[int, int, int]) -> tuple:
    """Red where real plates print red: 警 and 应急 on white, a military prefix letter."""
    if colour != "white":
        return fg
    char = text[i]
    if (char == "警" and i == len(text) - 1) or char in "应急":
        return _POLICE_RED
    if i == 0 and text[:2].isascii() and text[:2].isalpha():  # VA12345: red first letter
        return _POLICE_RED
    return fg


@lru_cache(maxsize=512)
def _glyph_mask(char: str, font_path: str, w: int, h: int) -> np.ndarray:
    """Coverage mask (float32 0..1, h x w) of one glyph stretched into its plate cell.

    Plate glyphs are condensed (45 x 90 mm) while font glyphs are square-ish, so the glyph
    is cropped to its ink and resized to the full cell height; its width is its natural
    width at that height, capped at the cell width. That keeps "1" narrow while 京 and 0
    become tall and narrow like the plate font. A stroke makes it as bold as plate type.
    """
    size = 256
    font = ImageFont.truetype(font_path, size, index=0)
    # Plate digits and letters are heavier than a UI font; hanzi are dense already and
    # a thick stroke would fill in their counters (粤, 警).
    stroke = 9 if char.isascii() else 3
    canvas = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(canvas).text(
        (size // 2, size // 2), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    ink = np.asarray(canvas)
    ys, xs = np.nonzero(ink > 32)
    if len(xs) == 0:  # a space or a glyph the font lacks: an empty cell
        return np.zeros((h, w), np.float32)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    natural_w = crop.shape[1] * h / crop.shape[0]
    gw = max(1, min(w, round(natural_w)))
    glyph = cv2.resize(crop, (gw, h), interpolation=cv2.INTER_AREA)
    mask = np.zeros((h, w), np.float32)
    x0 = (w - gw) // 2
    mask[:, x0 : x0 + gw] = glyph.astype(np.float32) / 255.0
    return mask


def render_plate(
    text: str,
    colour: str | None = None,
    height: int = 140,
    font: Path | None = None,
    rows: int = 1,
) -> np.ndarray:
    """Draw a plate crop (BGR uint8, `height` px tall, GA 36-2018 proportions).

    7 characters give the 440 x 140 mm layout, 8 characters (new-energy, 应急) 480 x 140
    mm; `rows=2` the 440 x 220 mm double-row plate of trucks, buses and trailers (top row
    province and letter, bottom row the other five). On a white plate 警 and 应急 are red,
    and so is the first letter of a military plate. "yellow_green" is the large new-energy
    vehicle's plate: yellow under the province and letter, green under the rest.
    `colour` None: the plate's real colour (`real_colour`); another colour draws a plate
    no authority issues (a test of the reader's colour check).
    """
    colour = real_colour(text, rows) if colour is None else colour
    _check(text, colour, rows)
    if height < 10:
        raise ValueError(f"plate height must be at least 10 px, got {height}")
    font_path = str(find_cjk_font(font))
    spec = COLOURS[colour]
    width_mm, height_mm = _plate_mm(text, rows)
    s = height * _SUPERSAMPLE / height_mm  # px per mm while drawing
    big_h = height * _SUPERSAMPLE
    big_w = round(width_mm * s)

    top = np.array(spec["bg"], np.float32)
    bottom = np.array(spec["bg_bottom"], np.float32)
    t = np.linspace(0.0, 1.0, big_h, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(top * (1 - t) + bottom * t, (big_h, big_w, 3)).copy()
    cells, dot_at = _cells(text, rows)
    if colour == "yellow_green":  # the split falls in the gap after the second glyph
        split = round((cells[1][0] + cells[1][2] + 4) * s)
        img[:, split:] = np.array(COLOURS["green"]["bg_bottom"], np.float32)

    if spec["border"] is not None:  # frame line 2 mm wide, inset 2.5 mm, rounded corners
        frame = np.zeros((big_h, big_w), np.uint8)
        inset, line, radius = round(2.5 * s), max(1, round(2.0 * s)), round(8 * s)
        _rounded_rect(frame, (inset, inset), (big_w - inset, big_h - inset), radius, 255)
        inner = round(inset + line)
        _rounded_rect(frame, (inner, inner), (big_w - inner, big_h - inner), radius, 0)
        _blend(img, frame.astype(np.float32) / 255.0, spec["border"])

    for i, (char, (x, y, w, h)) in enumerate(zip(text, cells, strict=True)):
        x0, y0, gw, gh = (round(v * s) for v in (x, y, w, h))
        mask = np.zeros((big_h, big_w), np.float32)
        mask[y0 : y0 + gh, x0 : x0 + gw] = _glyph_mask(char, font_path, gw, gh)
        _blend(img, mask, _glyph_colour(text, i, colour, spec["fg"]))  # type: ignore[arg-type]
    dot = np.zeros((big_h, big_w), np.uint8)
    cv2.circle(dot, (round(dot_at[0] * s), round(dot_at[1] * s)), round(5 * s), 255, -1)
    _blend(img, dot.astype(np.float32) / 255.0, spec["fg"])

    out_w = round(width_mm * height / height_mm)
    small = cv2.resize(img, (out_w, height), interpolation=cv2.INTER_AREA)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def _rounded_rect(
    img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], r: int, value: int
) -> None:
    """Fill a rounded rectangle (cv2 has none); corners p0 top-left, p1 bottom-right."""
    (x0, y0), (x1, y1) = p0, p1
    r = max(0, min(r, (x1 - x0) // 2, (y1 - y0) // 2))
    cv2.rectangle(img, (x0 + r, y0), (x1 - r, y1), value, -1)
    cv2.rectangle(img, (x0, y0 + r), (x1, y1 - r), value, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(img, (cx, cy), r, value, -1)


def _blend(img: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int] | None) -> None:
    """Paint `colour` over float image `img` in place with per-pixel coverage `alpha`."""
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * np.array(colour, np.float32)


# --- scenes -------------------------------------------------------------------------

_CAR_COLOURS = (  # BGR; mostly the greys, whites and blacks that dominate Chinese roads
    (235, 235, 235),
    (190, 190, 195),
    (120, 122, 125),
    (30, 30, 32),
    (40, 40, 150),
    (110, 60, 30),
    (200, 215, 225),
)


def render_empty_scene(size: tuple[int, int] = (1280, 720), seed: int = 0) -> np.ndarray:
    """The lane with no car: what the camera sees between cars.

    For a given seed it is exactly the background of `render_scene`, so frame differencing
    and "no plate here" tests see a consistent lane. Deliberately grey (no saturated
    colour) so no part of it can be mistaken for a plate.
    """
    return np.clip(_background(size, seed) + 0.5, 0, 255).astype(np.uint8)


def _background(size: tuple[int, int], seed: int) -> np.ndarray:
    """Float BGR lane: a wall above a horizon, asphalt below, dashed white lane edges."""
    w, h = size
    rng = np.random.default_rng([seed, 1])
    horizon = int(h * rng.uniform(0.28, 0.38))
    wall = rng.uniform(150, 200)
    road = rng.uniform(85, 120)
    ys = np.arange(h, dtype=np.float32)[:, None]
    grey = np.where(
        ys < horizon,
        wall - 30 * ys / max(horizon, 1),
        road + 35 * (ys - horizon) / max(h - horizon, 1),
    )
    img = np.repeat(np.broadcast_to(grey, (h, w))[..., None], 3, axis=2).astype(np.float32)
    img[..., 0] += 4  # asphalt and concrete are faintly blue-grey under daylight
    texture = rng.normal(0, 4, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    img += cv2.resize(texture, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    for side in (-1, 1):  # lane edges converge towards the horizon
        x_far, x_near = w / 2 + side * w * 0.12, w / 2 + side * w * 0.48
        for k in range(6):
            t0, t1 = k / 6, k / 6 + 0.07
            pts = [(x_far + (x_near - x_far) * t, horizon + (h - horizon) * t) for t in (t0, t1)]
            thick = max(1, round(2 + 8 * t1))
            p0, p1 = (round(pts[0][0]), round(pts[0][1])), (round(pts[1][0]), round(pts[1][1]))
            cv2.line(img, p0, p1, (215, 215, 215), thick, cv2.LINE_AA)
    cv2.rectangle(img, (0, horizon - 4), (w, horizon), (105, 105, 105), -1)  # kerb
    return img


def _draw_car(
    layer: np.ndarray,
    alpha: np.ndarray,
    cx: float,
    cy: float,
    pw: float,
    rng: np.random.Generator,
    paint: tuple[int, int, int] | None = None,
) -> None:
    """Frontal car drawn around a plate centred at (cx, cy) and `pw` px wide.

    Proportions come from a real car: 1.8 m wide (about 4 plate widths), plate centre
    0.5 m above the ground, roof 1.5 m. Only the silhouette matters to the detector; the
    details (windscreen, grille, lamps) give it edges that a plate detector must ignore.
    """
    drawn = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]  # drawn even when painted: same car
    body = np.array(paint if paint is not None else drawn, np.float32)
    dark = body * 0.45
    half = pw * rng.uniform(1.95, 2.15)
    ground = cy + 1.15 * pw
    roof = cy - rng.uniform(2.2, 2.5) * pw
    belt = cy - 0.95 * pw  # bottom of windscreen

    def poly(points: list[tuple[float, float]], colour: np.ndarray, a: float = 1.0) -> None:
        pts = np.array([[round(x), round(y)] for x, y in points], np.int32)
        cv2.fillPoly(layer, [pts], colour.tolist(), cv2.LINE_AA)
        cv2.fillPoly(alpha, [pts], a, cv2.LINE_AA)

    def box(x0: float, y0: float, x1: float, y1: float, colour: np.ndarray) -> None:
        poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)

    # Shadow on the road first, then tyres, body, glass, lamps, grille, bumper.
    shadow = np.zeros_like(alpha)
    cv2.ellipse(
        shadow, (round(cx), round(ground)), (round(half * 1.1), round(0.18 * pw)), 0, 0, 360,
        0.55, -1, cv2.LINE_AA,
    )  # fmt: skip
    alpha[:] = np.maximum(alpha, shadow)
    tyre = np.array((25, 25, 25), np.float32)
    for side in (-1, 1):
        x_in, x_out = cx + side * (half - 0.55 * pw), cx + side * (half - 0.1 * pw)
        box(min(x_in, x_out), cy + 0.4 * pw, max(x_in, x_out), ground, tyre)
    poly(
        [
            (cx - half * 0.72, roof), (cx + half * 0.72, roof),
            (cx + half * 0.98, belt), (cx + half, cy + 0.75 * pw),
            (cx - half, cy + 0.75 * pw), (cx - half * 0.98, belt),
        ],
        body,
    )  # fmt: skip
    glass = np.array((70, 60, 55), np.float32) * rng.uniform(0.6, 1.1)
    poly(
        [
            (cx - half * 0.66, roof + 0.12 * pw), (cx + half * 0.66, roof + 0.12 * pw),
            (cx + half * 0.88, belt - 0.08 * pw), (cx - half * 0.88, belt - 0.08 * pw),
        ],
        glass,
    )  # fmt: skip
    lamp = np.array((235, 240, 245), np.float32)
    for side in (-1, 1):
        x_in, x_out = cx + side * half * 0.55, cx + side * half * 0.92
        y0, y1 = cy - 0.72 * pw, cy - 0.5 * pw
        poly([(x_in, y0), (x_out, y0 + 0.02 * pw), (x_out, y1), (x_in, y1 - 0.04 * pw)], lamp)
    box(cx - 0.75 * pw, cy - 0.68 * pw, cx + 0.75 * pw, cy - 0.36 * pw, dark)  # grille
    bumper = body * 0.85
    box(cx - half * 0.97, cy - 0.3 * pw, cx + half * 0.97, cy + 0.42 * pw, bumper)
    box(cx - 0.9 * pw, cy + 0.48 * pw, cx + 0.9 * pw, cy + 0.62 * pw, dark)  # lower intake


def _homography(cx: float, cy: float, pw: float, tilt_deg: float, perspective: float) -> np.ndarray:
    """Frontal-layer -> frame homography: a yaw about the plate, then an in-plane tilt.

    `perspective` is the sine of the yaw; the virtual camera sits two car-widths away, so
    even at ±0.9 every point of the car stays in front of it (no fold-over) while the
    plate's near edge ends up visibly taller than its far edge.
    """
    if not -0.95 <= perspective <= 0.95:
        raise ValueError(f"perspective must be within ±0.95, got {perspective}")
    depth = 2.0 * pw  # half a car width, in px of the frontal layer
    yaw = np.array(
        [[math.sqrt(1 - perspective**2), 0, 0], [0, 1, 0], [perspective / depth, 0, 1]],
        np.float64,
    )
    a = math.radians(tilt_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float64)
    return back @ rot @ yaw @ to_origin


def render_scene_with_corners(
    text: str,
    colour: str | None = None,
    size: tuple[int, int] = (1280, 720),
    plate_width: int = 260,
    centre: tuple[float, float] = (0.5, 0.62),
    tilt_deg: float = 0.0,
    perspective: float = 0.0,
    blur: float = 0.0,
    brightness: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    rows: int = 1,
    paint: tuple[int, int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Like `render_scene`, also returning the plate's corners in the frame.

    Corners are float32 (4, 2), clockwise from top-left (TL, TR, BR, BL) — the ground
    truth a 4-corner detector test compares against. Note that clp_det.onnx (CCPD order)
    gives its landmarks as BR, BL, TL, TR: roll them by two before comparing. Its corners
    sit a few px outside ours (about 4% of the plate width), so compare with a tolerance.
    """
    colour = real_colour(text, rows) if colour is None else colour
    _check(text, colour, rows)
    if plate_width < 20:
        raise ValueError(f"plate_width must be at least 20 px, got {plate_width}")
    w, h = size
    rng = np.random.default_rng([seed, 2])
    cx, cy = centre[0] * w, centre[1] * h
    width_mm, height_mm = _plate_mm(text, rows)
    plate_h = plate_width * height_mm / width_mm

    layer: np.ndarray = np.zeros((h, w, 3), np.float32)
    alpha: np.ndarray = np.zeros((h, w), np.float32)
    _draw_car(layer, alpha, cx, cy, plate_width, rng, paint)
    crop = render_plate(text, colour, height=max(10, round(plate_h * 2)), rows=rows)
    crop = cv2.resize(  # 2x then area-shrink: sharp, unaliased characters at any size
        crop, (plate_width, max(1, round(plate_h))), interpolation=cv2.INTER_AREA
    )
    x0, y0 = cx - plate_width / 2, cy - plate_h / 2
    corners = np.array(
        [[x0, y0], [x0 + plate_width, y0], [x0 + plate_width, y0 + plate_h], [x0, y0 + plate_h]],
        np.float32,
    )
    src = np.array(
        [[0, 0], [crop.shape[1], 0], [crop.shape[1], crop.shape[0]], [0, crop.shape[0]]],
        np.float32,
    )
    # Plate into the frontal layer (sub-pixel placement), then the whole layer through
    # the view, so the car and its plate share one perspective.
    place = cv2.getPerspectiveTransform(src, corners)
    plate_layer = cv2.warpPerspective(
        crop.astype(np.float32), place, (w, h), flags=cv2.INTER_LINEAR
    )
    plate_mask = cv2.warpPerspective(
        np.ones(crop.shape[:2], np.float32), place, (w, h), flags=cv2.INTER_LINEAR
    )
    layer = layer * (1 - plate_mask[..., None]) + plate_layer * plate_mask[..., None]
    alpha = np.maximum(alpha, plate_mask)

    view = _homography(cx, cy, plate_width, tilt_deg, perspective)
    layer = cv2.warpPerspective(layer, view, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(alpha, view, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    frame = _background(size, seed) * (1 - alpha) + layer * alpha
    frame_corners = cv2.perspectiveTransform(corners[None], view)[0].astype(np.float32)

    if blur > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), sigmaX=blur)
    frame = frame * brightness
    if noise > 0:
        frame = frame + np.random.default_rng([seed, 3]).normal(0, noise, frame.shape)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), frame_corners


def render_scene(
    text: str,
    colour: str | None = None,
    size: tuple[int, int] = (1280, 720),
    plate_width: int = 260,
    centre: tuple[float, float] = (0.5, 0.62),
    tilt_deg: float = 0.0,
    perspective: float = 0.0,
    blur: float = 0.0,
    brightness: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    rows: int = 1,
    paint: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A gate-camera frame (BGR uint8, `size` = (width, height)) of a car showing `text`,
    its plate in its real colour unless `colour` says otherwise (see `render_plate`).

    The plate (`plate_width` px wide before the view warp) is centred at `centre`, given
    as fractions of the frame, on the car's bumper. `tilt_deg` rotates in the image plane,
    `perspective` (-0.95..0.95, sine of a yaw; positive turns the right side away) makes
    the plate a trapezoid. Then Gaussian `blur` (sigma, px), `brightness` scaling (0.3 looks
    like night, 1.6 an over-exposed plate under a headlamp), Gaussian `noise` (sigma, grey
    levels); `rows=2` draws a double-row plate (`plate_width` is then its width too);
    `paint` (BGR) the car's body colour instead of the seed's. The same seed gives the same car
    and lane. Use `render_scene_with_corners` when you need where the plate landed.
    """
    frame, _ = render_scene_with_corners(
        text, colour, size, plate_width, centre, tilt_deg, perspective, blur, brightness,
        noise, seed, rows, paint,
    )  # fmt: skip
    return frame
