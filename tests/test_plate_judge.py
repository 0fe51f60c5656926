"""Per-class confidence rules and corroboration by the second reader, as pure functions."""

from __future__ import annotations

import pytest

from edge.plates.judge import JudgeSettings, judge


def knows_all(_char: str) -> bool:
    return True


def sure(text: str, p: float = 0.99) -> tuple[float, ...]:
    return (p,) * len(text)


def test_agreeing_readers_make_a_valid_read() -> None:
    verdict = judge("皖AG2R28", sure("皖AG2R28"), "blue", ("皖AG2R28", sure("皖AG2R28")), knows_all)
    assert verdict.valid and verdict.plate_class.code == "ordinary"


def test_province_disagreement_is_unsure_however_sure_the_first_reader_is() -> None:
    """闽EVL838 read as 皖EVL838 at 0.976: the second reader's 闽 makes it unsure."""
    second = ("闽EVL838", sure("闽EVL838", 0.6))
    verdict = judge("皖EVL838", sure("皖EVL838", 0.976), "blue", second, knows_all)
    assert not verdict.valid and verdict.unsure == "disagree"


def test_doubtful_character_needs_agreement() -> None:
    """皖A0V790 read as 皖A0Y790 with Y at 0.859: the second reader must read Y too."""
    probs = (0.99, 0.99, 0.99, 0.859, 0.99, 0.99, 0.99)
    weak = (0.99, 0.99, 0.99, 0.5, 0.99, 0.99, 0.99)
    assert judge("皖A0Y790", probs, "blue", ("皖A0V790", weak), knows_all).unsure == "disagree"
    assert judge("皖A0Y790", probs, "blue", ("皖A0Y790", weak), knows_all).valid


def test_sure_character_is_vetoed_only_by_a_firm_dissent() -> None:
    """A character the first reader is sure of needs no vote, unless the second reader
    firmly reads something else there."""
    text = "皖AG2R28"
    shaky = (0.99, 0.99, 0.99, 0.99, 0.6, 0.99, 0.99)
    assert judge(text, sure(text), "blue", ("皖AG2B28", shaky), knows_all).valid
    firm = sure(text, 0.95)
    assert judge(text, sure(text), "blue", ("皖AG2B28", firm), knows_all).unsure == "disagree"


def test_no_second_reader_means_first_reader_rules_only() -> None:
    assert judge("皖AG2R28", sure("皖AG2R28"), "blue", None, knows_all).valid
    low = judge("皖AG2R28", sure("皖AG2R28", 0.7), "blue", None, knows_all)
    assert low.unsure == "low_confidence"


def test_second_reader_cannot_vote_on_characters_it_does_not_know() -> None:
    text = "京X1234应急"
    other = ("京X1234??", (0.99,) * 6 + (0.0, 0.0))
    verdict = judge(text, sure(text), "white", other, lambda c: c not in "应急")
    assert verdict.valid and verdict.plate_class.code == "emergency"


@pytest.mark.parametrize(
    ("text", "colour"),
    [("粤B1234学", "blue"), ("皖AG2R28", "green"), ("京A1234警", "blue"), ("使014578", "white")],
)
def test_colour_contradicting_the_class_is_unsure(text: str, colour: str) -> None:
    """A blue plate read with a 学 suffix, a green plate read as 7 characters: misreads."""
    verdict = judge(text, sure(text), colour, (text, sure(text)), knows_all)
    assert verdict.unsure == "colour_mismatch"


def test_unknown_colour_does_not_block() -> None:
    """At night under IR the colour is often unknown; the characters decide."""
    assert judge("京A1234警", sure("京A1234警"), "unknown", ("京A1234警", sure("京A1234警")),
                 knows_all).valid  # fmt: skip


def test_police_suffix_has_its_own_floor_but_must_be_corroborated() -> None:
    """The red 警 is read less surely (0.6) than the floor (0.8): valid when the second
    reader reads 警 too, unsure when it does not."""
    probs = (0.99,) * 6 + (0.6,)
    assert judge(
        "京A1234警", probs, "white", ("京A1234警", sure("京A1234警", 0.7)), knows_all
    ).valid
    other = ("京A12340", (0.99,) * 6 + (0.5,))
    assert judge("京A1234警", probs, "white", other, knows_all).unsure == "disagree"
    assert judge("京A12345", probs, "white", None, knows_all).unsure == "low_confidence"


def test_military_plate_is_valid_but_not_for_opening() -> None:
    verdict = judge("VA12345", sure("VA12345"), "white", ("VA12345", sure("VA12345")), knows_all)
    assert verdict.valid and not verdict.plate_class.auto_open


@pytest.mark.parametrize("text", ["", "皖AG2R2", "hello", "皖AO2R28"])
def test_non_plates_are_unread(text: str) -> None:
    assert judge(text, sure(text), "blue", None, knows_all).unsure == "unread"


def test_length_mismatch_between_readers_is_disagreement() -> None:
    text = "沪AD12345"
    assert judge(text, sure(text), "green", ("沪AD1234", sure("沪AD1234")), knows_all).unsure == (
        "disagree"
    )


def test_settings_move_the_thresholds() -> None:
    probs = (0.99,) * 6 + (0.9,)
    strict = JudgeSettings(min_confidence=0.95)
    assert judge("皖AG2R28", probs, "blue", None, knows_all, strict).unsure == "low_confidence"
    lax = JudgeSettings(sure=0.85)
    other = ("皖AG2R2B", (0.99,) * 6 + (0.5,))
    assert judge("皖AG2R28", probs, "blue", other, knows_all, lax).valid


def test_a_doubtful_character_firmly_seconded_counts() -> None:
    """Province at 0.67 (below the 0.8 floor) but the second reader reads the same at 0.96:
    valid. Seconded only weakly, or below the corroborated floor: still unsure."""
    probs = (0.67,) + (0.99,) * 6
    text = "黑E0HX5S"
    assert judge(text, probs, "blue", (text, (0.96,) + (0.99,) * 6), knows_all).valid
    weak = judge(text, probs, "blue", (text, (0.7,) + (0.99,) * 6), knows_all)
    assert weak.unsure == "low_confidence"
    low = (0.4,) + (0.99,) * 6
    assert judge(text, low, "blue", (text, (0.99,) * 7), knows_all).unsure == "low_confidence"


def recall(char: str) -> float:
    """The second reader's measured weakness on 藏 and 琼 (SECOND.weak_provinces)."""
    return {"藏": 0.28, "琼": 0.61}.get(char, 1.0)


def test_dissent_on_a_province_the_second_reader_misreads_is_weighed_not_obeyed() -> None:
    """藏 read at 0.96; the plate CRNN, which reads 藏 right 28 % of the time, says 苏 at
    0.65: that is its known weakness, and the first read still clears the floor."""
    text = "藏V3QBJR"
    probs = (0.96, *sure(text)[1:])
    second = ("苏V3QBJR", (0.65, *sure(text)[1:]))
    assert judge(text, probs, "blue", second, knows_all, second_recall=recall).valid


@pytest.mark.parametrize(
    ("text", "p", "other", "q", "valid"),
    [
        # The second reader is itself unsure (its province at 0.7-0.9 is wrong 15 % of the
        # time): 0.99 x that still clears the floor; 0.83 against its 0.41 (45 %) does not.
        ("宁CWRMGW", 0.99, "沪CWRMGW", 0.77, True),
        ("粤DJ1VTW", 0.83, "鄂DJ1VTW", 0.41, False),
        ("藏V3QBJR", 0.96, "苏V3QBJR", 0.65, True),  # no measured weakness needed
        ("藏V3QBJR", 0.90, "苏V3QBJR", 0.65, False),
        ("青A12345", 0.99, "贵A12345", 0.39, True),
        ("浙A12345", 0.99, "沪A12345", 0.99, False),  # firm, on a province it knows
        ("闽EVL838", 0.999, "皖EVL838", 0.3, False),  # a pair the first reader confuses
    ],
)
def test_an_unsure_province_dissent_is_weighed_by_how_often_it_is_wrong(
    text: str, p: float, other: str, q: float, valid: bool
) -> None:
    probs = (p, *sure(text)[1:])
    second = (other, (q, *sure(text)[1:]))
    assert judge(text, probs, "blue", second, knows_all).valid is valid


@pytest.mark.parametrize(
    ("text", "p", "other", "q"),
    [
        ("藏V3QBJR", 0.96, "川V3QBJR", 0.93),  # a firm dissent it was never seen to make
        ("藏V3QBJR", 0.84, "苏V3QBJR", 0.2),  # the first reader is not sure enough
        ("琼N3ZM6F", 0.99, "京N3ZM6F", 0.75),  # 琼/京: a pair the first reader confuses
        ("皖EVL838", 0.976, "闽EVL838", 0.6),  # a province the second reader knows
    ],
)
def test_province_dissent_still_blocks(text: str, p: float, other: str, q: float) -> None:
    probs = (p, *sure(text)[1:])
    second = (other, (q, *sure(text)[1:]))
    verdict = judge(text, probs, "blue", second, knows_all, second_recall=recall)
    assert verdict.unsure == "disagree"


def test_a_measured_misread_is_weighed_even_when_firm() -> None:
    """赣 read as 豫 is the plate CRNN's most frequent misread (4 of 18 赣 plates in the
    calibration, once at 0.86): its firmness says little there."""
    text, probs = "赣Y71WQ5", sure("赣Y71WQ5", 1.0)
    second = ("豫Y71WQ5", (0.96, *sure(text)[1:]))
    assert judge(text, probs, "blue", second, knows_all, second_recall=lambda c: 0.61).valid


def test_weighing_is_only_for_the_province() -> None:
    """A serial character the first reader doubts still needs the second reader's vote."""
    text = "藏A0Y790"
    probs = (0.99, 0.99, 0.99, 0.859, 0.99, 0.99, 0.99)
    second = ("藏A0V790", (0.99, 0.99, 0.99, 0.5, 0.99, 0.99, 0.99))
    assert judge(text, probs, "blue", second, knows_all, second_recall=recall).unsure == "disagree"
