"""Presentations made from one genuine photo: a live head that moves a little, and the
attacks a person with a printer or a phone can make with the same photo — for the bench,
the tests and the demo.

Why rendered rather than painted: an attack artefact drawn on top of a frame (a moiré texture,
a frame around the face) would be found by a detector written to find exactly that drawing,
which proves nothing. Here each medium is modelled at its physical size and placed in front
of a modelled door camera, and what the camera sees follows from the geometry:

- the camera: a pinhole with a 60-degree horizontal field, lens blur, sensor integration over
  each pixel (the frame is drawn at ``k`` times the resolution and area-averaged), gain and
  white balance, read noise and JPEG, the same for genuine and attack frames;
- a print: the photo's portrait crop printed with the face 40-140 mm wide, with the tone and
  colour of paper (lower contrast; black from the deep black of glossy photo paper to the
  grey of toner on plain paper; the paper's white and tint), clustered-dot halftone at
  85-150 lines per inch or continuous tone with grain, paper fibre, a glossy print's sheen,
  lit by the scene (level and side light vary), held by hand (tilted up to 18 degrees,
  trembling as a plane; one in four held steadily); with or without a white border and its
  edge in view;
- a screen: a phone, tablet or monitor at its real pixel pitch and bezel, showing the photo
  fitted (black bars where the aspects differ) or zoomed; its own light (brightness and a
  bluish white point independent of the scene), its tone curve, glare from a lamp on the
  glass, PWM banding under a rolling shutter; the RGB subpixel grid is drawn only where the
  camera could resolve it (pitch at least 3/8 of a camera pixel), since lens blur erases
  anything finer, which is also why moiré is rare at door-camera resolutions;
- a live head: the photo warped by a 2.5-D head (an ellipsoid with a nose ridge placed on the
  detector's five landmarks) turning by a few degrees, so the nose moves against the eyes and
  mouth as a real head's does — a crude model: real heads also show their other side,
  change expression and cast moving shadows.

What this cannot show: the texture of real paper and screens under a real lens, real ink and
display spectra, and people who do not move at all or move a lot. Figures measured on it are
a floor for what the cues must do, not a field result (docs/faces.md).

The near-infrared renderings (``nir_view``) encode the physics an IR cue relies on: skin
reflects 850 nm strongly and is lit falling off towards the sides of a round face, emissive
screens show nothing in NIR, colour inks are transparent in NIR (only carbon black shows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from edge.faces.detector import Face

FRAME = (640, 480)  # width, height: a door camera's sub-stream
FOCAL_PX = (FRAME[0] / 2) / math.tan(math.radians(30))  # 60-degree horizontal field

Motion = Literal["still", "natural", "turn"]
AttackKind = Literal["print", "print_border", "screen", "phone_in_frame"]
ATTACK_KINDS: tuple[AttackKind, ...] = ("print", "print_border", "screen", "phone_in_frame")
MOTIONS: tuple[Motion, ...] = ("still", "natural", "turn")


@dataclass
class Presentation:
    """Frames of one presentation, what it is, and how it was made (for the bench's log)."""

    kind: str  # "genuine" or an AttackKind
    frames: list[np.ndarray]
    params: dict = field(default_factory=dict)
    nir: list[np.ndarray] = field(default_factory=list)  # aligned NIR views, when asked for


# -- the camera ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraLook:
    blur_px: float
    gain: float
    gamma: float
    white: tuple[float, float, float]  # B, G, R multipliers
    noise: float
    jpeg: int

    @classmethod
    def draw(cls, rng: np.random.Generator) -> CameraLook:
        warm = rng.uniform(-0.06, 0.06)
        return cls(
            blur_px=float(rng.uniform(0.35, 0.8)),
            gain=float(rng.uniform(0.85, 1.12)),
            gamma=float(rng.uniform(0.85, 1.15)),
            white=(1 - warm, 1.0, 1 + warm),
            noise=float(rng.uniform(1.0, 3.5)),
            jpeg=int(rng.integers(60, 95)),
        )


def sensor(
    scene: np.ndarray, look: CameraLook, rng: np.random.Generator, k: int = 1, fine: bool = False
) -> np.ndarray:
    """What the camera records of ``scene`` (float BGR 0-255 drawn at ``k`` times the frame
    resolution): lens blur, area integration per pixel, gain, tone, noise, JPEG.

    With ``fine`` (the scene holds structure finer than a pixel) the lens blur is applied
    before the pixels integrate, as in a camera, so what aliases is what a camera would
    alias; without it the cheaper order (integrate, then blur) gives the same frame."""
    if fine or k == 1:
        image = cv2.GaussianBlur(scene, (0, 0), look.blur_px * k)
        if k > 1:
            size = (image.shape[1] // k, image.shape[0] // k)
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    else:
        size = (scene.shape[1] // k, scene.shape[0] // k)
        image = cv2.resize(scene, size, interpolation=cv2.INTER_AREA)
        image = cv2.GaussianBlur(image, (0, 0), look.blur_px)
    image = image.astype(np.float32) * np.array(look.white, np.float32) * look.gain
    image = 255.0 * np.power(np.clip(image / 255.0, 0, 1), look.gamma)
    image += rng.normal(0, look.noise, image.shape).astype(np.float32)
    frame = np.clip(image, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg])
    if not ok:
        raise ValueError("could not encode a synthetic frame")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("could not decode a synthetic frame")
    return np.asarray(decoded)


# -- a live head --------------------------------------------------------------------------------
def head_depth(shape: tuple[int, int], face: Face) -> tuple[np.ndarray, np.ndarray]:
    """Depth (pixels, towards the camera) of a 2.5-D head over an image of ``shape``, and a
    mask that is 1 on the head and falls to 0 around it (the background does not move)."""
    x, y, w, h = (float(v) for v in face.row[:4])
    marks = face.landmarks.astype(np.float32)
    eye_mid = (marks[0] + marks[1]) / 2
    iod = float(np.linalg.norm(marks[1] - marks[0])) or w * 0.4
    cx, cy = x + w / 2, y + h * 0.45
    a, b, depth = 0.62 * w, 0.85 * h, 0.55 * w
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    r2 = ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2
    z = depth * np.sqrt(np.clip(1 - r2, 0, 1))
    # nose ridge: from between the eyes (low) to the tip (high)
    seg = marks[2] - eye_mid
    seg_len2 = float(seg @ seg) or 1.0
    t = np.clip(((xs - eye_mid[0]) * seg[0] + (ys - eye_mid[1]) * seg[1]) / seg_len2, 0, 1)
    px, py = eye_mid[0] + t * seg[0], eye_mid[1] + t * seg[1]
    dist2 = (xs - px) ** 2 + (ys - py) ** 2
    z += 0.32 * iod * (0.3 + 0.7 * t) * np.exp(-dist2 / (2 * (0.17 * iod) ** 2))
    mask = np.clip((1.35 - r2) / 0.35, 0, 1)
    return z, mask * mask * (3 - 2 * mask)


def person_mask(shape: tuple[int, int], face: Face) -> np.ndarray:
    """1 on the person (head with hair, neck, shoulders widening downwards), 0 on the scene
    behind, soft in between."""
    x, y, w, h = (float(v) for v in face.row[:4])
    cx, cy = x + w / 2, y + h * 0.45
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    head = ((xs - cx) / (0.78 * w)) ** 2 + ((ys - cy) / (0.95 * h)) ** 2 < 1
    chin = cy + 0.55 * h
    body = (ys > chin) & (np.abs(xs - cx) < 0.35 * w + np.clip(ys - chin, 0, None) * 1.6)
    mask = (head | body).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), max(2.0, 0.06 * w))


def move_person(
    image: np.ndarray,
    face: Face,
    yaw_deg: float,
    pitch_deg: float,
    shift: tuple[float, float],
    grow: float,
) -> np.ndarray:
    """``image`` (the camera's fixed view) with the person moved: the head turned by
    ``yaw_deg`` (positive: to the image's right) and nodded by ``pitch_deg`` about its own
    axes (orthographically, with the 2.5-D head), the person shifted by ``shift`` pixels and
    grown by ``grow`` (stepping closer); the scene behind stays where it is."""
    w, h = face.width, float(face.row[3])
    z, head = head_depth(image.shape[:2], face)
    body = person_mask(image.shape[:2], face)
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    cx, cy = float(face.row[0]) + w / 2, float(face.row[1]) + h * 0.45
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    dx = (z * math.sin(yaw) + (xs - cx) * (math.cos(yaw) - 1)) * head
    dy = (z * math.sin(pitch) + (ys - cy) * (math.cos(pitch) - 1)) * head
    dx += (shift[0] + (grow - 1) * (xs - cx)) * body
    dy += (shift[1] + (grow - 1) * (ys - cy)) * body
    return cv2.remap(image, xs - dx, ys - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _window(shape: tuple[int, int], centre: tuple[float, float]) -> tuple[int, int, int, int]:
    """A frame-sized window (clamped inside ``shape``) with ``centre`` near its middle."""
    height, width = shape
    fw, fh = min(FRAME[0], width), min(FRAME[1], height)
    left = int(np.clip(centre[0] - fw / 2, 0, width - fw))
    top = int(np.clip(centre[1] - fh * 0.42, 0, height - fh))
    return left, top, fw, fh


def genuine(
    photo: np.ndarray,
    face: Face,
    frames: int,
    rng: np.random.Generator,
    motion: Motion = "natural",
    nir: bool = False,
) -> Presentation:
    """A live person in front of the door camera (the photo's scene, seen through a fixed
    window): the head turning and nodding a little (``still``: under 1 degree, ``natural``:
    2-5, ``turn``: 6-12), the person swaying and stepping closer over a still background."""
    amplitude = {"still": (0.0, 1.0), "natural": (2.0, 5.0), "turn": (6.0, 12.0)}[motion]
    sway = {"still": 1.0, "natural": 3.0, "turn": 4.0}[motion]
    yaw_total = float(rng.uniform(*amplitude)) * float(rng.choice([-1, 1]))
    pitch_total = float(rng.uniform(*amplitude)) * 0.5 * float(rng.choice([-1, 1]))
    face_px = float(rng.uniform(100, 200))
    scale = min(face_px / face.width, 1.5)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=interpolation)
    x, y, w, h = face.box
    left, top, fw, fh = _window(big.shape[:2], ((x + w / 2) * scale, (y + h / 2) * scale))
    view = big[top : top + fh, left : left + fw]
    in_view = _face_moved(face, scale, left, top)
    step = rng.uniform(-sway, sway, 2)
    approach = float(rng.uniform(0, 0.015)) if motion != "still" else 0.0
    look = CameraLook.draw(rng)
    distance_m = FOCAL_PX * FACE_MM / in_view.width / 1000
    look = replace(look, blur_px=math.hypot(look.blur_px, defocus_px(distance_m)))
    views, nirs = [], []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        shift = (float(step[0]) * i, float(step[1]) * i)
        moved = move_person(view, in_view, yaw_total * t, pitch_total * t, shift, 1 + approach * i)
        moved = moved.astype(np.float32)
        views.append(sensor(moved, look, rng))
        if nir:
            nirs.append(
                nir_view("genuine", moved, _face_shifted(in_view, shift, 1 + approach * i), rng)
            )
    params = {"motion": motion, "yaw": round(yaw_total, 1), "face_px": round(in_view.width)}
    return Presentation("genuine", views, params, nirs)


def _face_shifted(face: Face, shift: tuple[float, float], grow: float) -> Face:
    """Where ``face`` is after move_person's shift and growth (the head's turn aside)."""
    row = face.row.copy()
    cx, cy = float(row[0] + row[2] / 2), float(row[1] + row[3] * 0.45)
    xs, ys = row[0:14:2].copy(), row[1:14:2].copy()
    xs[2:] = cx + (xs[2:] - cx) * grow + shift[0]
    ys[2:] = cy + (ys[2:] - cy) * grow + shift[1]
    row[0:14:2], row[1:14:2] = xs, ys
    row[0] = cx + (row[0] - cx) * grow + shift[0]
    row[1] = cy + (row[1] - cy) * grow + shift[1]
    row[2:4] *= grow
    return Face(row)


def _face_moved(face: Face, scale: float, left: float, top: float) -> Face:
    row = face.row.copy()
    row[:14] *= scale
    row[0] -= left
    row[1] -= top
    row[4:14:2] -= left
    row[5:14:2] -= top
    return Face(row)


# -- media: prints and screens --------------------------------------------------------------------
FACE_MM = 145.0  # a real face's detector-box width
FOCUS_M = 0.8  # a fixed-focus door camera, sharpest at 0.8 m
DEFOCUS = 0.3  # blur sigma in frame pixels per dioptre away from focus
MIN_STRUCTURE_PX = 0.75  # finer periodic structure is erased by the lens (MTF < 1 %)

SCREENS = {  # panel width, height (mm), pixel pitch (mm), bezel (mm), distance held (m)
    "phone": ((68.0, 148.0), (0.055, 0.066), (2.0, 5.0), (0.12, 0.45)),
    "tablet": ((150.0, 228.0), (0.085, 0.1), (7.0, 18.0), (0.2, 0.8)),
    "monitor": ((300.0, 190.0), (0.16, 0.28), (5.0, 15.0), (0.3, 0.9)),
}


def defocus_px(distance_m: float) -> float:
    return DEFOCUS * abs(1 / max(distance_m, 0.05) - 1 / FOCUS_M)


@dataclass
class Medium:
    """A print or screen laid out at physical size, before it is drawn at a resolution."""

    kind: str
    content: np.ndarray  # what is printed or shown (BGR uint8)
    face: Face  # the face in ``content`` pixels
    mm_per_content_px: float
    size_mm: tuple[float, float]  # the whole sheet or device
    content_at_mm: tuple[float, float]  # top-left of the content on the sheet or device
    period_mm: float | None  # finest periodic structure (halftone, pixel pitch)
    emissive: bool
    distance_range_m: tuple[float, float]
    params: dict

    @property
    def face_mm(self) -> float:
        return self.face.width * self.mm_per_content_px

    def face_centre_mm(self) -> tuple[float, float]:
        x, y, w, h = (float(v) for v in self.face.row[:4])
        return (
            self.content_at_mm[0] + (x + w / 2) * self.mm_per_content_px,
            self.content_at_mm[1] + (y + h / 2) * self.mm_per_content_px,
        )


def portrait(photo: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """The photo cropped as a portrait around the face (what one prints or shows)."""
    x, y, w, h = face.box
    x0, x1 = max(0, x - int(1.1 * w)), min(photo.shape[1], x + w + int(1.1 * w))
    y0, y1 = max(0, y - int(0.9 * h)), min(photo.shape[0], y + h + int(1.5 * h))
    return photo[y0:y1, x0:x1], _face_moved(face, 1.0, x0, y0)


def print_medium(kind: str, photo: np.ndarray, face: Face, rng: np.random.Generator) -> Medium:
    """A print of the photo: a portrait crop with a white border (``print_border``), or the
    whole photo printed borderless (``print``: its edges are in view only when the photo
    is small for its distance)."""
    if kind == "print_border":
        content, on_content = portrait(photo, face)
    else:  # no more of the photo than can be in view (a sheet reaching past the frame)
        x, y, w, h = face.box
        x0, y0 = max(0, x - 5 * w), max(0, y - 4 * h)
        x1, y1 = min(photo.shape[1], x + 6 * w), min(photo.shape[0], y + 5 * h)
        content, on_content = photo[y0:y1, x0:x1], _face_moved(face, 1.0, x0, y0)
    face_mm = float(rng.uniform(40, 140))
    mm_per_px = face_mm / on_content.width
    border = float(rng.uniform(4, 15)) if kind == "print_border" else 0.0
    size = (content.shape[1] * mm_per_px + 2 * border, content.shape[0] * mm_per_px + 2 * border)
    process = str(rng.choice(["halftone", "inkjet", "photo"]))
    lpi = float(rng.choice([85, 110, 133, 150])) if process == "halftone" else None
    params = {
        "process": process,
        "lpi": lpi,
        "face_mm": round(face_mm),
        "border_mm": round(border, 1),
    }
    return Medium(
        kind,
        content,
        on_content,
        mm_per_px,
        size,
        (border, border),
        25.4 / lpi if lpi else None,
        False,
        (0.1, 1.0),
        params,
    )


def screen_medium(kind: str, photo: np.ndarray, face: Face, rng: np.random.Generator) -> Medium:
    """The photo on a phone (``phone_in_frame``: its body in view) or on a phone, tablet or
    monitor held close (``screen``); shown fitted to the panel or zoomed in."""
    device = "phone" if kind == "phone_in_frame" else str(rng.choice(list(SCREENS)))
    (panel_w, panel_h), pitches, bezels, distances = SCREENS[device]
    content, on_content = portrait(photo, face)
    fit = min(panel_w / content.shape[1], panel_h / content.shape[0])
    zoom = 1.0 if rng.random() < 0.5 else float(rng.uniform(1.2, 2.2))
    mm_per_px = fit * zoom
    # the part of the (zoomed) content that is on the panel, face kept in view
    shown_w, shown_h = content.shape[1] * mm_per_px, content.shape[0] * mm_per_px
    cx, cy = (
        (float(on_content.row[0]) + on_content.width / 2) * mm_per_px,
        (float(on_content.row[1]) + float(on_content.row[3]) / 2) * mm_per_px,
    )
    off_x = (
        (panel_w - shown_w) / 2
        if shown_w <= panel_w
        else float(np.clip(panel_w / 2 - cx, panel_w - shown_w, 0))
    )
    off_y = (
        (panel_h - shown_h) / 2
        if shown_h <= panel_h
        else float(np.clip(panel_h * 0.45 - cy, panel_h - shown_h, 0))
    )
    bezel = float(rng.uniform(*bezels))
    params = {
        "device": device,
        "zoom": round(zoom, 2),
        "pitch_mm": None,
        "bezel_mm": round(bezel, 1),
    }
    pitch = float(rng.uniform(*pitches))
    params["pitch_mm"] = round(pitch, 3)
    medium = Medium(
        kind,
        content,
        on_content,
        mm_per_px,
        (panel_w + 2 * bezel, panel_h + 2 * bezel),
        (bezel + off_x, bezel + off_y),
        pitch,
        True,
        distances,
        params,
    )
    medium.params["panel_mm"] = (panel_w, panel_h)
    medium.params["bezel"] = bezel
    return medium


def _resample(content: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(content.shape[1] * factor)), max(1, round(content.shape[0] * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(content, size, interpolation=interpolation)


def _halftone(channel: np.ndarray, period: float, angle_deg: float) -> np.ndarray:
    """Clustered-dot halftone of one ink's coverage (0-1), ``period`` in texture pixels."""
    ys, xs = np.mgrid[0 : channel.shape[0], 0 : channel.shape[1]].astype(np.float32)
    a = math.radians(angle_deg)
    u = (xs * math.cos(a) + ys * math.sin(a)) * (2 * math.pi / period)
    v = (-xs * math.sin(a) + ys * math.cos(a)) * (2 * math.pi / period)
    spot = (np.cos(u) + np.cos(v)) / 4 + 0.5
    return (spot > 1 - channel).astype(np.float32)


def draw_print(
    medium: Medium, px_per_mm: float, resolve: bool, rng: np.random.Generator
) -> np.ndarray:
    """The sheet's reflectance (0-1, BGR) at ``px_per_mm``: paper tone, ink, grain, fibre."""
    image = _resample(medium.content, medium.mm_per_content_px * px_per_mm).astype(np.float32) / 255
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * rng.uniform(0.6, 1.0)
    # paper and ink: glossy photo paper has deep blacks (density 1.5-2), plain paper under
    # inkjet or toner greyer ones; the paper's own white and tint (cream, bluish) vary
    lows = {"photo": (0.015, 0.05), "inkjet": (0.05, 0.14), "halftone": (0.04, 0.16)}
    black = rng.uniform(*lows[medium.params["process"]])
    white = rng.uniform(0.78, 0.97)
    image = black + (white - black) * np.power(image, rng.uniform(0.85, 1.25))
    tint = 1 + rng.uniform(-0.06, 0.06, 3)
    image = np.clip(image * tint, 0, 1).astype(np.float32)
    if medium.period_mm is not None and resolve:
        period = medium.period_mm * px_per_mm
        ink = (1 - image - (1 - white)) / (white - black + 1e-6)
        for c, angle in zip(range(3), (15.0, 75.0, 0.0), strict=True):
            ink[..., c] = _halftone(np.clip(ink[..., c], 0, 1), period, angle)
        image = white * (1 - ink) + black * ink
    elif medium.params["process"] != "photo":  # dots finer than the lens resolves: grain
        image += rng.normal(0, 0.02, image.shape[:2]).astype(np.float32)[..., None]
    fibre = cv2.GaussianBlur(
        rng.normal(0, 1, image.shape[:2]).astype(np.float32), (0, 0), max(0.8, 0.3 * px_per_mm)
    )
    fibre *= rng.uniform(0.005, 0.02) / (float(fibre.std()) + 1e-6)
    image = np.clip(image * (1 + fibre[..., None]), 0, 1)
    sheet_w = round(medium.size_mm[0] * px_per_mm)
    sheet_h = round(medium.size_mm[1] * px_per_mm)
    sheet = np.empty((sheet_h, sheet_w, 3), np.float32)
    sheet[:] = white
    x0, y0 = (round(v * px_per_mm) for v in medium.content_at_mm)
    h, w = min(image.shape[0], sheet_h - y0), min(image.shape[1], sheet_w - x0)
    sheet[y0 : y0 + h, x0 : x0 + w] = image[:h, :w]
    if medium.params["process"] == "photo" and rng.random() < 0.5:  # gloss: a lamp's sheen
        ys, xs = np.mgrid[0:sheet_h, 0:sheet_w].astype(np.float32)
        gx, gy = rng.uniform(0, sheet_w), rng.uniform(0, sheet_h)
        radius = rng.uniform(0.2, 0.6) * sheet_w
        sheen = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * radius**2))
        sheet = sheet + rng.uniform(0.05, 0.25) * sheen[..., None]
    return sheet


def draw_screen(
    medium: Medium, px_per_mm: float, resolve: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The device's radiance (0-1.2, BGR) at ``px_per_mm`` and the mask of its lit panel."""
    panel_w, panel_h = medium.params["panel_mm"]
    bezel = medium.params["bezel"]
    pw, ph = round(panel_w * px_per_mm), round(panel_h * px_per_mm)
    shown = _resample(medium.content, medium.mm_per_content_px * px_per_mm).astype(np.float32) / 255
    panel = np.zeros((ph, pw, 3), np.float32)  # black bars where the aspects differ
    ox, oy = (round((v - bezel) * px_per_mm) for v in medium.content_at_mm)
    sx0, sy0, dx0, dy0 = max(0, -ox), max(0, -oy), max(0, ox), max(0, oy)
    w, h = min(shown.shape[1] - sx0, pw - dx0), min(shown.shape[0] - sy0, ph - dy0)
    panel[dy0 : dy0 + h, dx0 : dx0 + w] = shown[sy0 : sy0 + h, sx0 : sx0 + w]
    image = np.power(panel, rng.uniform(0.8, 1.2))
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * rng.uniform(1.0, 1.3)
    image *= np.array([1 + rng.uniform(0, 0.12), 1.0, 1 - rng.uniform(0, 0.08)], np.float32)
    image = np.clip(image * rng.uniform(0.85, 1.15), 0, 1.1)
    if resolve:  # RGB stripes and the black matrix between rows
        pitch = (medium.period_mm or 0.0) * px_per_mm
        phase = (np.arange(pw, dtype=np.float32) / pitch) % 1.0
        stripes = np.stack([phase >= 2 / 3, (phase >= 1 / 3) & (phase < 2 / 3), phase < 1 / 3], 1)
        rows = ((np.arange(ph, dtype=np.float32) / pitch) % 1.0) < rng.uniform(0.75, 0.9)
        image = image * stripes[None].astype(np.float32) * 2.6 * rows[:, None, None]
    if rng.random() < 0.4:  # PWM dimming under a rolling shutter: faint horizontal bands
        period = rng.uniform(8, 30) * px_per_mm
        rows = np.arange(ph, dtype=np.float32)
        image *= (1 + rng.uniform(0.01, 0.04) * np.sin(2 * math.pi * rows / period))[:, None, None]
    if rng.random() < 0.6:  # a lamp reflected in the glass
        gx, gy = rng.uniform(0, pw), rng.uniform(0, ph)
        ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float32)
        radius = rng.uniform(0.15, 0.5) * pw
        glare = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * radius**2))
        image = image + rng.uniform(0.1, 0.45) * glare[..., None]
    b = round(bezel * px_per_mm)
    device = np.empty((ph + 2 * b, pw + 2 * b, 3), np.float32)
    device[:] = rng.uniform(0.02, 0.12)
    device[b : b + ph, b : b + pw] = image
    lit = np.zeros(device.shape[:2], np.float32)
    lit[b : b + ph, b : b + pw] = 1
    return device, lit


def plane_homography(
    size_px: tuple[int, int],
    px_per_mm: float,
    distance_mm: float,
    anchor_mm: tuple[float, float],
    anchor_at: tuple[float, float],
    pose: tuple[float, float, float, float, float],
    k: int,
) -> np.ndarray:
    """Texture pixels -> pixels of the k-times frame, for a plane ``distance_mm`` away whose
    point ``anchor_mm`` is seen at frame pixel ``anchor_at`` when untilted."""
    rx, ry, rz, dx, dy = pose
    w, h = size_px[0] / px_per_mm, size_px[1] / px_per_mm
    ax, ay = anchor_mm
    corners = np.array([[-ax, -ay, 0], [w - ax, -ay, 0], [w - ax, h - ay, 0], [-ax, h - ay, 0]])
    rot, _ = cv2.Rodrigues(np.radians([rx, ry, rz]).astype(np.float64))
    lateral = np.array([(anchor_at[0] + dx - FRAME[0] / 2), (anchor_at[1] + dy - FRAME[1] / 2)]) * (
        distance_mm / FOCAL_PX
    )
    cam = corners @ rot.T + np.array([lateral[0], lateral[1], distance_mm])
    u = k * (FOCAL_PX * cam[:, 0] / cam[:, 2] + FRAME[0] / 2)
    v = k * (FOCAL_PX * cam[:, 1] / cam[:, 2] + FRAME[1] / 2)
    src = np.array([[0, 0], [size_px[0], 0], [size_px[0], size_px[1]], [0, size_px[1]]], np.float32)
    return cv2.getPerspectiveTransform(src, np.stack([u, v], 1).astype(np.float32))


def hand_held(
    rng: np.random.Generator, steps: int
) -> list[tuple[float, float, float, float, float]]:
    """A plane held by hand: a base tilt, a slow drift and a tremor (rx, ry, rz deg; dx, dy px).
    One in four is held steadily (elbows on something, both hands): a third of the motion."""
    steady = 0.3 if rng.random() < 0.25 else 1.0
    base = rng.uniform(-18, 18, 3) * np.array([1.0, 1.0, 0.4])
    drift = rng.uniform(-1.5, 1.5, 3) * np.array([1.0, 1.0, 0.3]) * steady
    poses = []
    for i in range(steps):
        r = base + drift * i + rng.normal(0, 0.6 * steady, 3)
        dx, dy = (float(v) for v in rng.normal(0, 2 * steady, 2))
        poses.append((float(r[0]), float(r[1]), float(r[2]), dx, dy))
    return poses


def backdrop(others: list[np.ndarray], rng: np.random.Generator, k: int) -> np.ndarray:
    """What is behind the medium: part of another photo's scene without its face, out of
    focus, or a doorway. (A face behind the medium would be a second person at the door.)"""
    width, height = FRAME[0] * k, FRAME[1] * k
    if others and rng.random() < 0.7:
        scene = others[int(rng.integers(len(others)))]
        rows = scene.shape[0]
        # the lower part of a portrait: clothes, hands, the room behind; no face
        part = scene[int(rows * rng.uniform(0.6, 0.7)) :]
        s = max(FRAME[0] / part.shape[1], FRAME[1] / part.shape[0])
        small = cv2.resize(part, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        top = int(rng.integers(0, small.shape[0] - FRAME[1] + 1))
        left = int(rng.integers(0, small.shape[1] - FRAME[0] + 1))
        image = small[top : top + FRAME[1], left : left + FRAME[0]].astype(np.float32)
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(1.5, 4)) * rng.uniform(0.6, 1.0)
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    ramp = np.linspace(rng.uniform(120, 170), rng.uniform(90, 140), height, dtype=np.float32)
    image = np.repeat(np.repeat(ramp[:, None], width, axis=1)[:, :, None], 3, axis=2)
    image *= np.array(1 + rng.uniform(-0.08, 0.08, 3), np.float32)
    x0, x1 = int(rng.uniform(0.15, 0.3) * width), int(rng.uniform(0.7, 0.85) * width)
    image[int(0.1 * height) :, x0:x1] = rng.uniform(50, 110, 3)
    return image


def attack(
    kind: AttackKind,
    photo: np.ndarray,
    face: Face,
    frames: int,
    rng: np.random.Generator,
    others: tuple[np.ndarray, ...] = (),
    nir: bool = False,
) -> Presentation:
    """The photo of the resident presented to the door camera as ``kind``, held by hand."""
    if kind in ("print", "print_border"):
        medium = print_medium(kind, photo, face, rng)
    else:
        medium = screen_medium(kind, photo, face, rng)
    for _ in range(50):  # a distance at which the face is a usable size at the gate
        distance_m = float(rng.uniform(*medium.distance_range_m))
        face_px = FOCAL_PX * medium.face_mm / (distance_m * 1000)
        if 80 <= face_px <= 220:
            break
    else:
        face_px = 120.0
        distance_m = FOCAL_PX * medium.face_mm / face_px / 1000
    if kind == "print":
        medium = _in_view(medium, face_px)
    mm_per_frame_px = medium.face_mm / face_px
    structure = medium.period_mm / mm_per_frame_px if medium.period_mm else 0.0
    resolve = structure >= MIN_STRUCTURE_PX
    k = max(3, math.ceil(3 / structure)) if resolve else 1
    px_per_mm = k / mm_per_frame_px
    if medium.emissive:
        texture, lit = draw_screen(medium, px_per_mm, resolve, rng)
    else:
        texture, lit = draw_print(medium, px_per_mm, resolve, rng), None
    look = CameraLook.draw(rng)
    look = replace(look, blur_px=math.hypot(look.blur_px, defocus_px(distance_m)))
    size_px = (texture.shape[1], texture.shape[0])
    anchor = medium.face_centre_mm()
    at = (FRAME[0] / 2 + rng.uniform(-60, 60), FRAME[1] * 0.42 + rng.uniform(-30, 30))
    light = float(rng.uniform(0.5, 1.1)) * 255
    gradient = [float(g) for g in rng.uniform(-0.25, 0.25, 2)]
    scene = backdrop(list(others), rng, k)
    canvas = (FRAME[0] * k, FRAME[1] * k)
    ones = np.ones(texture.shape[:2], np.float32)
    if nir:
        level = nir_reflectance(medium, texture, lit, rng)
        scene_nir, nir_gain = _nir_scene(scene), float(rng.uniform(0.7, 1.0))
    views, nirs = [], []
    if medium.emissive:
        shade: np.ndarray = np.full((1, 1, 1), 255, np.float32)
    else:  # the scene's light on the sheet, brighter on one side
        xs = np.linspace(-0.5, 0.5, canvas[0], dtype=np.float32)[None, :]
        ys = np.linspace(-0.5, 0.5, canvas[1], dtype=np.float32)[:, None]
        shade = (light * (1 + gradient[0] * xs + gradient[1] * ys))[..., None]
    for pose in hand_held(rng, frames):
        hom = plane_homography(size_px, px_per_mm, distance_m * 1000, anchor, at, pose, k)
        warped = cv2.warpPerspective(texture, hom, canvas, flags=cv2.INTER_LINEAR)
        cover = cv2.warpPerspective(ones, hom, canvas, flags=cv2.INTER_LINEAR)[..., None]
        seen = scene + cover * (warped * shade - scene)
        views.append(sensor(seen, look, rng, k, fine=resolve))
        if nir:
            nirs.append(_nir_frame(level, hom, scene_nir, canvas, k, nir_gain, rng))
    params = medium.params | {
        "distance_m": round(distance_m, 2),
        "face_px": round(face_px),
        "structure_px": round(structure, 2),
        "resolved": resolve,
    }
    params.pop("panel_mm", None)
    params.pop("bezel", None)
    return Presentation(kind, views, params, nirs)


def _in_view(medium: Medium, face_px: float) -> Medium:
    """A borderless sheet cut to what can be in the frame at this face size (plus room
    for the hand's tilt): drawing the rest would only cost time."""
    x, y, w, h = (float(v) for v in medium.face.row[:4])
    reach_x = (FRAME[0] * 0.5 + 80) / face_px * 1.3 * w
    reach_y = (FRAME[1] * 0.6 + 50) / face_px * 1.3 * w
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0, int(cx - reach_x)), max(0, int(cy - reach_y))
    x1 = min(medium.content.shape[1], int(cx + reach_x))
    y1 = min(medium.content.shape[0], int(cy + reach_y))
    mm = medium.mm_per_content_px
    return replace(
        medium,
        content=medium.content[y0:y1, x0:x1],
        face=_face_moved(medium.face, 1.0, x0, y0),
        size_mm=((x1 - x0) * mm, (y1 - y0) * mm),
    )


# -- near infrared --------------------------------------------------------------------------------
IR_CALIBRATION = np.array([[0.96, 0.012, 18.0], [-0.012, 0.96, -9.0], [0.0, 0.0, 1.0]])


def ir_sensor(nir: np.ndarray, rng: np.random.Generator, k: int = 1) -> np.ndarray:
    """A mono NIR camera beside the colour one: blur, noise, its own geometry
    (``IR_CALIBRATION`` maps colour pixels to IR pixels), 3 equal channels."""
    image = cv2.GaussianBlur(nir, (0, 0), 0.7 * k)
    if k > 1:
        image = cv2.resize(image, (FRAME[0], FRAME[1]), interpolation=cv2.INTER_AREA)
    image = cv2.warpPerspective(image, IR_CALIBRATION, FRAME, flags=cv2.INTER_LINEAR)
    image = image + np.asarray(rng.normal(0, 2.0, image.shape), np.float32)
    grey = np.clip(image, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _nir_scene(scene: np.ndarray) -> np.ndarray:
    """The background under the illuminator: far away, so dim (inverse square)."""
    lum = 0.1 * scene[..., 0] + 0.3 * scene[..., 1] + 0.6 * scene[..., 2]
    return lum * 0.3


def nir_view(kind: str, crop: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
    """The NIR view of a live face in ``crop`` (float BGR): skin reflects strongly, lit by an
    illuminator beside the camera so it falls off towards the sides of the round head;
    melanin and blood lose their contrast (features kept at reduced contrast, softened by
    light scattered under the skin); the background is dim."""
    del kind
    lum = 0.1 * crop[..., 0] + 0.3 * crop[..., 1] + 0.6 * crop[..., 2]
    z, mask = head_depth(crop.shape[:2], face)
    w = face.width
    normal_z = np.clip(z / (0.55 * w), 0, 1)
    local = cv2.GaussianBlur(lum, (0, 0), max(2.0, w / 8)) + 1
    detail = np.power(np.clip(lum / local, 0.05, 3), 0.6)
    reflect = float(rng.uniform(0.5, 0.65)) * 255
    skin = reflect * (0.45 + 0.55 * normal_z) * detail
    soft = cv2.GaussianBlur(skin, (0, 0), 1.0)
    seen = _nir_scene(crop) * (1 - mask) + soft * mask
    return ir_sensor(np.asarray(seen, np.float32), rng)


def nir_reflectance(
    medium: Medium, texture: np.ndarray, lit: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """A medium's look at 850 nm (0-1): a screen's panel is dark (its light has no NIR; the
    glass shows a glint of the illuminator); on paper, colour inks vanish and the paper
    shows, except carbon black (toner, pigment black inks) where the image is dark."""
    h, w = texture.shape[:2]
    if medium.emissive:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        gx, gy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        glint = np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * (0.05 * w) ** 2))
        return 0.04 + 0.9 * glint * (lit if lit is not None else 1)
    lightness = texture.max(axis=2)
    white = float(np.percentile(lightness, 99)) or 1.0
    carbon = bool(rng.random() < 0.5)
    medium.params["carbon_black"] = carbon
    if not carbon:
        return np.full((h, w), 0.85 * white, np.float32)
    darkness = 1 - lightness / white
    return (0.85 * white * (1 - 0.9 * np.clip((darkness - 0.35) / 0.5, 0, 1))).astype(np.float32)


def _nir_frame(
    level: np.ndarray,
    hom: np.ndarray,
    scene_nir: np.ndarray,
    canvas: tuple[int, int],
    k: int,
    gain: float,
    rng: np.random.Generator,
) -> np.ndarray:
    warped = cv2.warpPerspective(level, hom, canvas, flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones(level.shape, np.float32), hom, canvas)
    return ir_sensor(scene_nir + cover * (warped * 255 * gain - scene_nir), rng, k)
