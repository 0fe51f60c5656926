"""Plate grammar: what is a plate, how admin input is normalised, what OCR repair may do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.plates.grammar import (
    DIGITS,
    LETTERS,
    NEV_LETTERS,
    PROVINCES,
    SERIAL,
    PlateFormatError,
    classify,
    is_valid_plate,
    normalise_plate,
    repair_ocr,
)
from edge.vocabulary import translator

# -- strategies --------------------------------------------------------------------------
_c = st.sampled_from
ordinary = st.tuples(_c(PROVINCES), _c(LETTERS), st.text(SERIAL, min_size=5, max_size=5))
suffixed = st.tuples(
    _c(PROVINCES), _c(LETTERS), st.text(SERIAL, min_size=4, max_size=4), _c("学挂警领")
)
cross_border = st.tuples(st.just("粤Z"), st.text(SERIAL, min_size=4, max_size=4), _c("港澳"))
embassy = st.tuples(st.just("使"), st.text(DIGITS, min_size=6, max_size=6))
emergency = st.tuples(
    _c(PROVINCES), _c(LETTERS), st.text(DIGITS, min_size=4, max_size=4), st.just("应急")
)
nev_small = st.tuples(
    _c(PROVINCES), _c(LETTERS), _c(NEV_LETTERS), _c(SERIAL), st.text(DIGITS, min_size=4, max_size=4)
)
nev_large = st.tuples(
    _c(PROVINCES), _c(LETTERS), st.text(DIGITS, min_size=5, max_size=5), _c(NEV_LETTERS)
)
plates = st.one_of(ordinary, suffixed, cross_border, nev_small, nev_large, embassy, emergency).map(
    "".join
)


@pytest.mark.parametrize(
    "plate",
    ["皖AG2R28", "京A12345", "粤B1234学", "沪A1234挂", "京A1234警", "粤Z1234港", "粤Z1234澳",
     "沪A1234领", "沪AD12345", "沪AF1234", "粤B12345D", "川X90621", "使014578", "京X1234应急"],
)  # fmt: skip
def test_real_plate_forms_are_valid(plate: str) -> None:
    assert is_valid_plate(plate)
    assert normalise_plate(plate) == plate


@pytest.mark.parametrize(
    ("plate", "code", "colours"),
    [("皖AG2R28", "ordinary", {"blue", "yellow"}), ("沪AD12345", "new_energy", {"green"}),
     ("粤B12345D", "new_energy", {"yellow"}), ("粤B1234学", "coach", {"yellow"}),
     ("冀A1234挂", "trailer", {"yellow"}), ("京A1234警", "police", {"white"}),
     ("沪A1234领", "consulate", {"black"}), ("粤Z1234港", "hong_kong", {"black"}),
     ("粤Z1234澳", "macau", {"black"}), ("使014578", "embassy", {"black"}),
     ("京X1234应急", "emergency", {"white"}), ("VA12345", "military", {"white"}),
     ("WJ京1234X", "military", {"white"})],
)  # fmt: skip
def test_every_plate_class_is_named_with_its_colours(plate, code, colours) -> None:
    kind = classify(plate)
    assert kind is not None and kind.code == code
    assert colours <= kind.colours
    assert "green" not in classify("皖AG2R28").colours  # a 7-char read of a green plate
    assert kind.auto_open is (code != "military")


@pytest.mark.parametrize("plate", ["VA12345", "WJ京1234X"])
def test_military_plates_are_read_but_never_registered(plate: str) -> None:
    assert is_valid_plate(plate) and classify(plate).category == "other"
    with pytest.raises(PlateFormatError, match="military"):
        normalise_plate(plate)


@pytest.mark.parametrize("text", ["京A1234港", "粤B1234澳", "使A12345", "使01457", "京X12345应急"])
def test_class_forms_are_strict(text: str) -> None:
    """港/澳 only on 粤Z, 使 with six digits, 应急 after four digits."""
    assert not is_valid_plate(text) and classify(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "皖", "AG2R28", "AAG2R28", "皖AG2R2", "皖AG2R28X9", "皖IG2R28", "皖AG2O28", "皖A1234",
     "皖A学1234", "皖AD1234X", "沪A1234D5", "沪AZ12345", "使A12345", "皖ag2r28", "皖 AG2R28"],
)  # fmt: skip
def test_non_plates_are_invalid(text: str) -> None:
    assert not is_valid_plate(text)


@pytest.mark.parametrize(
    ("typed", "plate"),
    [("皖 a·g2r28", "皖AG2R28"), ("皖ＡＧ２Ｒ２８", "皖AG2R28"), (" 沪-ad12345 ", "沪AD12345"),
     ("粤b 1234 学", "粤B1234学"), ("京A.12345", "京A12345")],
)  # fmt: skip
def test_normalise_cleans_admin_input(typed: str, plate: str) -> None:
    assert normalise_plate(typed) == plate


@pytest.mark.parametrize(
    ("typed", "why"),
    [("AG2R28", "province"), ("皖AG2R2", "7 or 8"), ("皖AO2R28", "I or O"), (None, "not text")],
)
def test_normalise_rejects_with_bilingual_reason(typed: object, why: str) -> None:
    with pytest.raises(PlateFormatError) as err:
        normalise_plate(typed)
    message = str(err.value)
    assert "not a valid plate" in message and why in message
    assert "车牌格式不正确" in err.value.render(translator("zh"))
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "plate"),
    [("皖A·G2R28", "皖AG2R28"), ("皖AGO2R8", "皖AG02R8"), ("皖AI2345", "皖A12345"),
     ("沪AD1O345", "沪AD10345"), ("皖ag2r28", "皖AG2R28")],
)  # fmt: skip
def test_repair_fixes_only_what_grammar_forces(raw: str, plate: str) -> None:
    assert repair_ocr(raw) == plate


@pytest.mark.parametrize("raw", ["", "皖OG2R28", "0AG2R28", "浣AG2R28", "皖AG2R28X", "hello"])
def test_repair_refuses_unforced_guesses(raw: str) -> None:
    """Letter position 2 'O', a look-alike province, an extra character: not guessed."""
    assert repair_ocr(raw) is None


# -- properties --------------------------------------------------------------------------
@given(plates)
def test_valid_plates_round_trip(plate: str) -> None:
    assert is_valid_plate(plate)
    assert normalise_plate(plate) == plate
    assert repair_ocr(plate) == plate
    spaced = f" {plate[:2].lower()}·{plate[2:].lower()} "
    assert normalise_plate(spaced) == plate


@given(st.text(max_size=12))
def test_normalise_is_idempotent_and_never_crashes(text: str) -> None:
    try:
        once = normalise_plate(text)
    except PlateFormatError:
        return
    assert normalise_plate(once) == once
    assert is_valid_plate(once)


@given(plates, st.data())
def test_i_or_o_in_serial_positions_is_never_valid(plate: str, data: st.DataObject) -> None:
    pos = data.draw(st.integers(min_value=2, max_value=len(plate) - 1))
    bad = plate[:pos] + data.draw(_c("IOio")) + plate[pos + 1 :]
    assert not is_valid_plate(bad)
    with pytest.raises(PlateFormatError):
        normalise_plate(bad)


@given(st.one_of(st.text(max_size=20), st.none(), st.integers(), st.binary(max_size=10)))
def test_junk_never_crashes(junk: object) -> None:
    assert isinstance(is_valid_plate(junk), bool)
    out = repair_ocr(junk)
    assert out is None or is_valid_plate(out)
