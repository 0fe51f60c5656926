"""The plate reader on real models and real images (fixtures), plus self-made plates.

One PlateReader is shared by the module (loading the models is the slow part).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.plates.detector import order_corners
from edge.plates.models import KINDS, ModelNotFoundError, resolve_model, shipped
from edge.plates.reader import (
    PlateInputError,
    PlateRead,
    PlateReader,
    PlateReaderSettings,
    classify_colour,
)

FIXTURES = Path(__file__).parents[1].parent / "shared" / "fixtures" / "plates"
LABELS = FIXTURES / "labels.tsv"


def _rows(kind: str) -> list[dict[str, str]]:
    if not LABELS.is_file():
        return []
    with LABELS.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["kind"] == kind]


CROPS = _rows("plate_crop")
FRAMES = _rows("full_frame")
needs_fixtures = pytest.mark.skipif(
    not LABELS.is_file(),
    reason=f"plate fixtures not found at {FIXTURES} (shared data, not in repo)",
)


def _image(name: str) -> np.ndarray:
    image = cv2.imread(str(FIXTURES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return image


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture(scope="module")
def synth():
    try:
        from edge.plates import synth as module

        module.find_cjk_font()
    except (ImportError, RuntimeError) as exc:  # module not written yet, or no CJK font
        pytest.skip(f"edge.plates.synth unavailable ({exc}); synthetic plate tests skipped")
    return module


# -- real fixtures -----------------------------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize("row", CROPS, ids=[r["file"] for r in CROPS])
def test_real_crop_reads_exactly(reader: PlateReader, row: dict[str, str]) -> None:
    result = reader.read_crop(_image(row["file"]))
    assert result.text == row["plate"]
    assert result.valid and result.quad is None


@needs_fixtures
def test_crop_accuracy_floor_and_colour(reader: PlateReader) -> None:
    """All 28 real crops: exact >= 27/28 (measured 28/28), mostly classified blue."""
    results = [reader.read_crop(_image(r["file"])) for r in CROPS]
    exact = sum(res.text == r["plate"] for res, r in zip(results, CROPS, strict=True))
    assert exact / len(CROPS) >= 0.96
    blue = sum(res.colour == "blue" for res in results)
    assert blue / len(CROPS) >= 0.85  # some crops have strong colour casts (sodium light)


def _ccpd_corners(path_in_repo: str) -> np.ndarray:
    """Ground-truth corners from the CCPD file name (4th field: BR, BL, TL, TR)."""
    field = Path(path_in_repo).name.split("-")[3]
    pts = [tuple(map(float, p.split("&"))) for p in field.split("_")]
    return order_corners(np.array(pts, np.float32))


@needs_fixtures
@pytest.mark.parametrize("row", FRAMES, ids=[r["file"] for r in FRAMES])
def test_full_frame_reads_plate_and_corners(reader: PlateReader, row: dict[str, str]) -> None:
    [result] = reader.read(_image(row["file"]))
    assert (result.text, result.valid, result.colour) == (row["plate"], True, "blue")
    assert result.confidence >= 0.8
    error = np.abs(np.array(result.quad) - _ccpd_corners(row["path_in_repo"])).max()
    assert error < 12, f"corner off by {error:.1f} px"


@needs_fixtures
def test_roi_limits_search_and_keeps_frame_coordinates(reader: PlateReader) -> None:
    row = FRAMES[0]
    frame = _image(row["file"])
    truth = _ccpd_corners(row["path_in_repo"])
    x0, y0 = (truth.min(axis=0) - 80).astype(int)
    inside = PlateReader(PlateReaderSettings(roi=(int(x0), int(y0), 450, 250)))
    [result] = inside.read(frame)
    assert result.text == row["plate"]
    assert np.abs(np.array(result.quad) - truth).max() < 12
    outside = PlateReader(PlateReaderSettings(roi=(0, 0, 700, 300)))
    assert outside.read(frame) == []


# -- self-made plates (edge.plates.synth) --------------------------------------------------
@pytest.mark.parametrize(
    ("text", "colour"),
    [("沪AD12345", "green"), ("粤B12345D", "green"), ("粤B1234学", "yellow"),
     ("鲁Q1234挂", "yellow"), ("京A1234警", "white"), ("粤Z1234港", "black"),
     ("苏E5G6K8", "blue")],
)  # fmt: skip
def test_synthetic_crops_of_every_form(reader: PlateReader, synth, text: str, colour: str) -> None:
    result = reader.read_crop(synth.render_plate(text, colour, height=48))
    assert (result.text, result.colour, result.valid) == (text, colour, True)


@pytest.mark.parametrize(
    ("text", "colour", "kwargs"),
    [("皖AG2R28", "blue", {"tilt_deg": 12}), ("鲁Q12345", "yellow", {"blur": 2.0}),
     ("浙B88888", "blue", {"brightness": 0.35, "noise": 4}), ("粤B1234学", "yellow", {}),
     ("京A1234警", "white", {"perspective": -0.3})],
)  # fmt: skip
def test_synthetic_scenes(reader: PlateReader, synth, text: str, colour: str, kwargs) -> None:
    frame, corners = synth.render_scene_with_corners(text, colour, **kwargs)
    [result] = reader.read(frame)
    assert (result.text, result.colour) == (text, colour)
    assert np.abs(np.array(result.quad) - corners).max() < 15


def test_empty_lane_has_no_plate(reader: PlateReader, synth) -> None:
    assert reader.read(synth.render_empty_scene()) == []


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "message"),
    [
        (cv2.imdecode(np.frombuffer(b"\xff\xd8not a jpeg", np.uint8), cv2.IMREAD_COLOR), "None"),
        (None, "None"),
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.zeros((100, 100, 3), np.float32), "uint8"),
        (np.zeros((100, 100, 2), np.uint8), "shape"),
        ([[1, 2, 3]], "numpy array"),
        (np.zeros((5, 5, 3), np.uint8), "at least"),
        (np.broadcast_to(np.zeros(1, np.uint8), (9000, 9000, 3)), "larger than"),
    ],
    ids=["corrupt-bytes", "none", "empty", "float", "two-channel", "list", "tiny", "huge"],
)
def test_bad_frames_raise_clear_errors(reader: PlateReader, image: object, message: str) -> None:
    with pytest.raises(PlateInputError, match=message):
        reader.read(image)
    assert issubclass(PlateInputError, ValueError)


@needs_fixtures
def test_grayscale_and_bgra_frames_are_read(reader: PlateReader) -> None:
    row = FRAMES[0]
    frame = _image(row["file"])
    gray = reader.read(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert [r.text for r in gray] == [row["plate"]]
    assert gray[0].colour in ("white", "black", "unknown")  # no colour in a grey image
    bgra = reader.read(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))
    assert [r.text for r in bgra] == [row["plate"]]


def test_unreadable_crops_are_reads_not_crashes(reader: PlateReader) -> None:
    tiny = reader.read_crop(np.full((4, 10, 3), 128, np.uint8))
    assert tiny == PlateRead("", 0.0, "unknown", None, False, unsure="unread", auto_open=False)
    noise = reader.read_crop(np.random.default_rng(1).integers(0, 255, (48, 150, 3), np.uint8))
    assert not noise.valid
    with pytest.raises(PlateInputError):
        reader.read_crop(None)


def test_colour_of_flat_patches() -> None:
    def patch(bgr: tuple[int, int, int]) -> np.ndarray:
        return np.full((48, 150, 3), bgr, np.uint8)

    assert classify_colour(patch((170, 70, 0))) == "blue"
    assert classify_colour(patch((20, 190, 245))) == "yellow"
    assert classify_colour(patch((90, 185, 60))) == "green"
    assert classify_colour(patch((240, 240, 240))) == "white"
    assert classify_colour(patch((15, 15, 15))) == "black"
    assert classify_colour(patch((128, 128, 128))) == "unknown"


# -- configuration -------------------------------------------------------------------------
def test_every_model_kind_ships_in_a_wheel() -> None:
    for kind in KINDS:
        assert resolve_model(None, kind) == shipped(kind) and shipped(kind).is_file()
    with pytest.raises(ValueError, match="kind must be one of"):
        shipped("nope")


def test_missing_configured_model_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelNotFoundError, match="configured plate detector model not found"):
        PlateReader(PlateReaderSettings(detector_model=missing))
    assert resolve_model(None, "detector") == shipped("detector")
    assert shipped("detector").is_file()


def test_wrong_or_corrupt_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a PP-OCR recogniser"):
        PlateReader(PlateReaderSettings(recogniser_model=shipped("detector")))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError, match="cannot load model"):
        PlateReader(PlateReaderSettings(detector_model=junk))


def test_bad_roi_is_refused() -> None:
    with pytest.raises(ValueError, match="roi"):
        PlateReader(PlateReaderSettings(roi=(-1, 0, 100, 100)))


def test_roi_outside_frame_is_a_frame_error() -> None:
    far = PlateReader(PlateReaderSettings(roi=(5000, 5000, 100, 100)))
    with pytest.raises(PlateInputError, match="outside"):
        far.read(np.zeros((720, 1280, 3), np.uint8))


# -- decoder on constructed CTC outputs ---------------------------------------------------
def _ctc(rec, frames: list[dict[str, float]]) -> np.ndarray:
    """A [T, C] softmax where each frame puts the given mass on characters ("" = blank)."""
    index = {c: i for i, c in enumerate(rec.charset)}
    probs = np.full((len(frames), len(rec.charset)), 1e-7, np.float32)
    for t, frame in enumerate(frames):
        for char, p in frame.items():
            probs[t, 0 if char == "" else index[char]] = p
    return probs / probs.sum(axis=1, keepdims=True)


def _spell(text: str) -> list[dict[str, float]]:
    frames: list[dict[str, float]] = []
    for char in text:
        frames += [{char: 0.99}, {"": 0.99}]
    return frames


def test_decoder_folds_o_into_zero_in_serial_positions(reader: PlateReader) -> None:
    rec = reader.recogniser
    frames = [*_spell("皖A·"), {"O": 0.6, "0": 0.39}, {"": 0.99}, *_spell("1234")]
    result = rec.decode_grammar(_ctc(rec, frames))
    assert result.text == "皖A01234"
    assert result.confidence > 0.95  # O and 0 are one character where only 0 can stand


def test_decoder_forces_a_province_but_reports_doubt(reader: PlateReader) -> None:
    rec = reader.recogniser
    frames = [{"浣": 0.9, "皖": 0.09}, {"": 0.99}, *_spell("AG2R28")]
    result = rec.decode_grammar(_ctc(rec, frames))
    assert result.text == "皖AG2R28"
    assert result.confidence < 0.2  # the grammar chose it, not the model
    assert rec.decode_greedy(_ctc(rec, frames)).text == ""  # plain decoding gives up


def test_decoder_finds_new_energy_plate_among_junk(reader: PlateReader) -> None:
    rec = reader.recogniser
    frames = [*_spell("沪AD123"), {"：": 0.6, "4": 0.39}, {"": 0.99}, *_spell("45")]
    assert rec.decode_greedy(_ctc(rec, frames)).text == ""  # "沪AD123：45" is no plate
    result = rec.decode_grammar(_ctc(rec, frames))
    assert result.text == "沪AD12345"
    # The junk frame is absorbed into the "4" run; all 8 characters were clearly seen.
    assert result.confidence > 0.95


def test_decoder_needs_blanks_between_repeats(reader: PlateReader) -> None:
    rec = reader.recogniser
    result = rec.decode_grammar(_ctc(rec, _spell("皖A11111")))
    assert result.text == "皖A11111" and result.confidence > 0.95
    merged = _spell("皖A") + [{"1": 0.99}] * 9  # no blanks: CTC says one "1", not five
    assert rec.decode_grammar(_ctc(rec, merged)).text != "皖A11111"


def test_decoder_returns_nothing_for_a_too_short_line(reader: PlateReader) -> None:
    rec = reader.recogniser
    assert rec.decode_grammar(_ctc(rec, [{"": 0.99}] * 5)).text == ""
