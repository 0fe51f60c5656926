"""Every plate class, read end to end from rendered gate-camera scenes by the real reader:
single-row and double-row, the special suffixes, 使, 应急, military; plus the text-detection
fallback when the plate detector finds nothing but a vehicle is there.

Rendered, not photographed: the shared fixtures hold only blue plates (see
../shared/fixtures/README.md), so these scenes come from edge.plates.synth.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.plates.reader import PlateReader, PlateReaderSettings, rectify, row_gap

synth = pytest.importorskip("edge.plates.synth")
try:
    synth.find_cjk_font()
except synth.FontNotFoundError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"no CJK font to render plates ({exc})", allow_module_level=True)


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


# plate, colour, rows, class code
CLASSES = [
    ("皖AG2R28", "blue", 1, "ordinary"),
    ("沪AD12345", "green", 1, "new_energy"),
    ("粤B12345D", "yellow_green", 1, "new_energy"),
    ("冀AB1234", "yellow", 2, "ordinary"),
    ("冀A1234挂", "yellow", 2, "trailer"),
    ("粤B1234学", "yellow", 1, "coach"),
    ("京A1234警", "white", 1, "police"),
    ("沪A1234领", "black", 1, "consulate"),
    ("粤Z1234港", "black", 1, "hong_kong"),
    ("粤Z5678澳", "black", 1, "macau"),
    ("使014578", "black", 1, "embassy"),
    ("京X1234应急", "white", 1, "emergency"),
    ("VA12345", "white", 1, "military"),
]
SEEDS = (1, 2, 3)


@pytest.mark.parametrize(("plate", "colour", "rows", "code"), CLASSES, ids=[c[3] + "-" + c[0]
                         for c in CLASSES])  # fmt: skip
def test_every_class_is_read_valid_and_never_wrong(
    reader: PlateReader, plate: str, colour: str, rows: int, code: str
) -> None:
    """Of three scenes (different cars, lanes, plate sizes) at least two are read exactly
    and valid, with the class and the number of rows; none is a valid wrong plate."""
    right = 0
    for seed in SEEDS:
        frame = synth.render_scene(plate, colour, rows=rows, seed=seed,
                                   plate_width=200 + 20 * seed)  # fmt: skip
        reads = reader.read(frame, vehicle_present=True)
        assert not [r.text for r in reads if r.valid and r.text != plate], (seed, reads)
        hits = [r for r in reads if r.text == plate and r.valid]
        if hits:
            right += 1
            assert hits[0].plate_class == code and hits[0].rows == rows
            assert hits[0].auto_open is (code != "military")
            assert hits[0].second  # the second reader was asked
    assert right >= 2, f"{plate}: {right}/3 read"


def test_double_row_plate_is_read_row_by_row(reader: PlateReader) -> None:
    frame = synth.render_scene("冀AB1234", "yellow", rows=2, seed=2, plate_width=240)
    [read] = reader.read(frame)
    assert (read.text, read.rows, read.valid) == ("冀AB1234", 2, True)
    assert len(read.char_probs) == 7


@pytest.mark.parametrize(
    ("plate", "seed"), [("沪VUXBT6", 5), ("闽VZZBM2", 6), ("鲁QZJHD9", 7), ("冀FS2VT挂", 8)]
)
def test_double_row_top_letter_is_read_from_its_own_row(
    reader: PlateReader, plate: str, seed: int
) -> None:
    """The rows part where the plate's own projection profile says, not at a fixed
    fraction of the detector's box: the bottom row's character tops no longer reach the
    top row's crop, where V was read as S or Y and Q as C."""
    frame = synth.render_scene(plate, "yellow", rows=2, seed=seed, plate_width=220)
    [read] = reader.read(frame)
    assert (read.text, read.rows, read.valid) == (plate, 2, True)


def test_row_gap_lies_between_the_rows_and_not_in_a_single_row(reader: PlateReader) -> None:
    double = synth.render_scene("沪VUXBT6", "yellow", rows=2, seed=5, plate_width=220)
    [quad] = reader.detector.detect(double)
    gap = row_gap(double, quad.corners)
    assert gap is not None and 0.25 < gap < 0.55
    single = synth.render_scene("皖AG2R28", "blue", seed=1, plate_width=240)
    [quad] = reader.detector.detect(single)
    assert row_gap(single, quad.corners) is None


def test_a_province_the_second_reader_contradicts_is_never_valid(reader: PlateReader) -> None:
    """Corroboration end to end: the plate says 闽, the first reader is made to read the
    same scene rendered with 皖 (a confident wrong province). The second reader sees the
    real plate, so the read must come out unsure, not as a confident 皖."""
    plate, fake = "闽EVL838", "皖EVL838"
    frame = synth.render_scene(plate, "blue", seed=4, plate_width=240)
    forged = synth.render_scene(fake, "blue", seed=4, plate_width=240)  # same car and lane
    [quad] = reader.detector.detect(frame)
    forged_read = reader.recogniser.read(rectify(forged, quad.corners))
    assert forged_read.text == fake and forged_read.confidence > 0.9
    real_read = reader.recogniser.read
    reader.recogniser.read = lambda _crop: forged_read
    try:
        [read] = reader.read(frame)
    finally:
        reader.recogniser.read = real_read
    assert (read.text, read.second) == (fake, plate)
    assert not read.valid and read.unsure == "disagree"


def test_fallback_finds_a_plate_the_detector_misses(reader: PlateReader) -> None:
    """Text detection runs only when a vehicle is said to be present and the plate
    detector found nothing; here the detector is made to find nothing."""
    frame = synth.render_scene("沪AD12345", "green", seed=5, plate_width=220)
    detect = reader.detector.detect
    reader.detector.detect = lambda _view: []
    try:
        assert reader.read(frame) == []
        reads = reader.read(frame, vehicle_present=True)
    finally:
        reader.detector.detect = detect
    assert [(r.text, r.valid) for r in reads if r.valid] == [("沪AD12345", True)]


def test_fallback_reports_nothing_on_an_empty_lane(reader: PlateReader) -> None:
    for seed in range(3):
        reads = reader.read(synth.render_empty_scene(seed=seed), vehicle_present=True)
        assert not [r for r in reads if r.valid]


def test_without_corroboration_the_second_reader_is_not_used() -> None:
    plain = PlateReader(PlateReaderSettings(corroborate=False, fallback=False))
    assert plain.second is None and plain.fallback is None
    [read] = plain.read(synth.render_scene("皖AG2R28", "blue", seed=1))
    assert read.text == "皖AG2R28" and read.valid and read.second == ""


@pytest.mark.parametrize(("plate", "colour", "rows", "code"), CLASSES, ids=[c[3] + "-" + c[0]
                         for c in CLASSES])  # fmt: skip
def test_synthetic_plates_are_drawn_in_their_real_colour_by_default(
    plate: str, colour: str, rows: int, code: str
) -> None:
    """Tests and the demo draw realistic plates unless they ask for another colour: a
    new-energy number on a blue plate is a plate no authority issues."""
    assert synth.real_colour(plate, rows) == colour
    drawn = synth.render_plate(plate, height=40, rows=rows)
    assert np.array_equal(drawn, synth.render_plate(plate, colour, height=40, rows=rows))


def test_new_energy_number_reads_valid_on_its_own_plate_and_not_on_a_blue_one(
    reader: PlateReader,
) -> None:
    real = reader.read(synth.render_scene("粤BD12345", seed=3, plate_width=240))
    assert [(r.text, r.valid, r.colour) for r in real] == [("粤BD12345", True, "green")]
    blue = reader.read(synth.render_scene("粤BD12345", "blue", seed=3, plate_width=240))
    assert not any(r.valid for r in blue)
    assert [r.unsure for r in blue if r.text == "粤BD12345"] in ([], ["colour_mismatch"])
