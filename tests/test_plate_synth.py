"""The synthetic plate and scene renderer: shapes, colours, determinism, errors.

Whether PP-OCRv4 reads these plates is checked by the plate-reader tests, not here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.plates import synth
from edge.plates.synth import (
    FontNotFoundError,
    find_cjk_font,
    render_empty_scene,
    render_plate,
    render_scene,
    render_scene_with_corners,
)

try:
    find_cjk_font()
    HAVE_FONT = True
except FontNotFoundError:
    HAVE_FONT = False
needs_font = pytest.mark.skipif(
    not HAVE_FONT, reason="no CJK font (apt install fonts-wqy-microhei)"
)

# Expected background (BGR) per colour, sampled in the margin above the characters.
EXPECTED_BG = {
    "blue": (170, 70, 0),
    "yellow": (20, 190, 245),
    "white": (240, 240, 240),
    "black": (15, 15, 15),
}
TEXT = {"blue": "京A12345", "yellow": "沪C0L876", "white": "京A1234警", "black": "使A12345"}


@needs_font
@pytest.mark.parametrize("colour", sorted(EXPECTED_BG))
def test_plate_shape_and_background(colour: str) -> None:
    img = render_plate(TEXT[colour], colour, height=140)
    assert img.dtype == np.uint8
    assert img.shape == (140, 440, 3)
    band = img[10:20, 60:380].reshape(-1, 3).astype(int)  # between frame line and glyphs
    assert np.abs(np.median(band, axis=0) - EXPECTED_BG[colour]).max() <= 3


@needs_font
def test_green_plate_is_wider_and_graded_white_to_green() -> None:
    img = render_plate("粤B6D789F", "green", height=140)
    assert img.shape == (140, 480, 3)
    top, bottom = img[3, 240].astype(int), img[136, 240].astype(int)
    assert top.min() > 225  # near white
    b, g, r = bottom
    assert g > r + 60 and g > b + 60  # clearly green


@needs_font
def test_police_plate_final_character_is_red() -> None:
    img = render_plate("京A1234警", "white", height=140)
    last = img[25:115, 385:430].reshape(-1, 3).astype(int)
    red = (last[:, 2] > 150) & (last[:, 1] < 80) & (last[:, 0] < 80)
    assert red.sum() > 200
    body = img[25:115, 60:380].reshape(-1, 3).astype(int)
    assert not ((body[:, 2] > 150) & (body[:, 1] < 80)).any()


@needs_font
def test_characters_use_the_foreground_colour() -> None:
    img = render_plate("京A12345", "blue", height=140)
    glyph_zone = img[25:115, 15:425].reshape(-1, 3).astype(int)
    assert (glyph_zone.min(axis=1) > 230).mean() > 0.2  # plenty of white ink


@needs_font
def test_plate_height_scales() -> None:
    assert render_plate("京A12345", height=48).shape == (48, 151, 3)


@needs_font
def test_scene_shape_dtype_and_determinism() -> None:
    kwargs = dict(size=(640, 360), plate_width=130, tilt_deg=4, perspective=0.3, noise=5, seed=7)
    a = render_scene("京A12345", **kwargs)
    b = render_scene("京A12345", **kwargs)
    assert a.dtype == np.uint8 and a.shape == (360, 640, 3)
    assert np.array_equal(a, b)
    c = render_scene("京A12345", **{**kwargs, "seed": 8})
    assert not np.array_equal(a, c)


@needs_font
def test_scene_plate_lands_at_reported_corners() -> None:
    frame, corners = render_scene_with_corners(
        "京A12345", size=(640, 360), plate_width=130, centre=(0.5, 0.6), tilt_deg=5
    )
    assert corners.shape == (4, 2)
    centre = corners.mean(axis=0)
    assert np.allclose(centre, (320, 216), atol=1.5)
    x, y = (round(v) for v in centre)
    patch = frame[y - 3 : y + 3, x - 40 : x + 40].reshape(-1, 3).astype(int)
    plate_blue = (patch[:, 0] > 130) & (patch[:, 2] < 60)
    assert plate_blue.mean() > 0.2


@needs_font
def test_scene_brightness_and_blur() -> None:
    base = render_scene("京A12345", size=(320, 180), plate_width=70, seed=1)
    dark = render_scene("京A12345", size=(320, 180), plate_width=70, seed=1, brightness=0.4)
    assert dark.mean() < base.mean() * 0.45
    soft = render_scene("京A12345", size=(320, 180), plate_width=70, seed=1, blur=2.0)
    assert cv2.Laplacian(soft, cv2.CV_64F).var() < cv2.Laplacian(base, cv2.CV_64F).var()


def test_empty_scene_is_the_background_and_has_no_plate() -> None:
    empty = render_empty_scene(size=(640, 360), seed=3)
    assert empty.dtype == np.uint8 and empty.shape == (360, 640, 3)
    assert np.array_equal(empty, render_empty_scene(size=(640, 360), seed=3))
    saturation = cv2.cvtColor(empty, cv2.COLOR_BGR2HSV)[..., 1]
    assert saturation.max() < 40  # grey lane: nothing blue, yellow or green anywhere


@needs_font
def test_scene_corner_away_from_car_equals_empty_scene() -> None:
    scene = render_scene("京A12345", size=(640, 360), plate_width=60, centre=(0.5, 0.8), seed=3)
    empty = render_empty_scene(size=(640, 360), seed=3)
    assert np.array_equal(scene[:40, :80], empty[:40, :80])


@pytest.mark.parametrize("colour", ["red", "Blue", ""])
def test_unknown_colour_raises(colour: str) -> None:
    with pytest.raises(ValueError, match="colour"):
        render_plate("京A12345", colour)
    with pytest.raises(ValueError, match="colour"):
        render_scene("京A12345", colour)


@pytest.mark.parametrize("text", ["京A1234", "京A1234567", ""])
def test_wrong_length_raises(text: str) -> None:
    with pytest.raises(ValueError, match="7 or 8"):
        render_plate(text)


@needs_font
def test_perspective_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="perspective"):
        render_scene("京A12345", perspective=1.0)


def test_missing_font_from_env_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.ttc"
    monkeypatch.setenv("MENWEI_CJK_FONT", str(missing))
    with pytest.raises(FontNotFoundError) as err:
        find_cjk_font()
    message = str(err.value)
    assert str(missing) in message and "MENWEI_CJK_FONT" in message
    assert "fonts-wqy-microhei" in message
    with pytest.raises(FontNotFoundError):
        render_plate("京A12345")


def test_no_font_anywhere_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENWEI_CJK_FONT", raising=False)
    monkeypatch.setattr(synth, "_FONT_CANDIDATES", ("/nonexistent/font-*.ttc",))
    with pytest.raises(FontNotFoundError, match="fonts-wqy-microhei"):
        find_cjk_font()


def test_explicit_font_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "font.ttc"
    fake.write_bytes(b"")
    monkeypatch.setenv("MENWEI_CJK_FONT", str(tmp_path / "other.ttc"))
    assert find_cjk_font(fake) == fake
