"""One passage per car: voting over frames, single-frame cars, dedupe. Times injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.plates.reader import PlateRead
from edge.plates.voting import Passage, PlateVoter

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def read(text: str, conf: float = 0.95, colour: str = "blue", valid: bool = True) -> PlateRead:
    return PlateRead(text, conf, colour, ((0, 0), (10, 0), (10, 3), (0, 3)), valid)


def test_two_agreeing_reads_decide_at_once() -> None:
    voter = PlateVoter(min_votes=2, vote_window_s=0.8)
    assert voter.add([read("皖AG2R28")], at(0)) == []
    passages = voter.add([read("皖AG2R28", 0.9)], at(0.1))
    assert passages == [
        Passage("皖AG2R28", 0.925, "blue", votes=2, frames=2, first_seen=at(0), last_seen=at(0.1))
    ]


def test_single_read_car_passes_when_window_closes() -> None:
    """A car seen in one frame is decided by flush, not held indefinitely."""
    voter = PlateVoter(min_votes=2, vote_window_s=0.8)
    assert voter.add([read("闽GM1862", 0.97)], at(0)) == []
    assert voter.flush(at(0.5)) == []
    [passage] = voter.flush(at(0.8))
    assert (passage.plate, passage.votes, passage.frames) == ("闽GM1862", 1, 1)
    assert voter.flush(at(2)) == []  # decided once only


def test_window_closing_during_add_is_reported_by_add() -> None:
    voter = PlateVoter(min_votes=3, vote_window_s=0.5)
    voter.add([read("皖AG2R28")], at(0))
    [passage] = voter.add([], at(0.6))
    assert passage.plate == "皖AG2R28"


def test_misread_is_outvoted_and_absorbed() -> None:
    voter = PlateVoter(min_votes=3, vote_window_s=1.0)
    out = []
    for i, text in enumerate(["皖AG2R28", "皖AG2R2B", "皖AG2R28", "皖AG2R28"]):
        out += voter.add([read(text, 0.9)], at(0.1 * i))
    assert [(p.plate, p.votes, p.frames) for p in out] == [("皖AG2R28", 3, 4)]
    # The misread of the same car, while still in view, is not a new passage.
    assert voter.add([read("皖AG2R2B")], at(0.5)) == []
    assert voter.flush(at(3)) == []


def test_dropped_character_misread_stays_the_same_car() -> None:
    """沪AD1234 (7 chars) is a valid plate too: a green plate missing a character."""
    voter = PlateVoter(min_votes=2, vote_window_s=0.8)
    out = voter.add([read("沪AD12345", 0.9, "green")], at(0))
    out += voter.add([read("沪AD1234", 0.85, "green")], at(0.1))
    out += voter.add([read("沪AD12345", 0.95, "green")], at(0.2))
    assert [(p.plate, p.votes, p.frames) for p in out] == [("沪AD12345", 2, 3)]
    assert voter.flush(at(5)) == []


def test_confidence_weights_a_tie() -> None:
    voter = PlateVoter(min_votes=5, vote_window_s=0.5)
    voter.add([read("皖AG2R28", 0.99)], at(0))
    voter.add([read("皖AG2R2B", 0.81)], at(0.1))
    [passage] = voter.flush(at(0.5))
    assert passage.plate == "皖AG2R28"


def test_invalid_reads_never_decide() -> None:
    voter = PlateVoter(min_votes=1)
    assert voter.add([read("", 0.0, "unknown", valid=False)], at(0)) == []
    assert voter.add([read("皖AG2R28", 0.5, valid=False)], at(0.1)) == []
    assert voter.flush(at(5)) == []


def test_same_plate_within_dedupe_window_is_one_passage() -> None:
    voter = PlateVoter(min_votes=1, vote_window_s=0.5, dedupe_window_s=30)
    assert len(voter.add([read("皖AG2R28")], at(0))) == 1
    assert voter.add([read("皖AG2R28")], at(10)) == []  # car still there / came back
    assert voter.add([read("皖AG2R28")], at(35)) == []  # window slides with each sighting
    assert voter.flush(at(60)) == []
    [again] = voter.add([read("皖AG2R28")], at(66))  # 31 s after it was last seen
    assert again.first_seen == at(66)


def test_similar_plate_later_is_a_different_car() -> None:
    voter = PlateVoter(min_votes=1, vote_window_s=0.5, dedupe_window_s=30)
    voter.add([read("皖AG2R28")], at(0))
    [other] = voter.add([read("皖AG2R29")], at(5))
    assert other.plate == "皖AG2R29"


def test_two_cars_in_one_frame_are_two_passages() -> None:
    voter = PlateVoter(min_votes=2, vote_window_s=0.8)
    voter.add([read("皖AG2R28"), read("沪AD12345", colour="green")], at(0))
    out = voter.add([read("皖AG2R28"), read("沪AD12345", colour="green")], at(0.1))
    assert sorted((p.plate, p.colour, p.frames) for p in out) == [
        ("沪AD12345", "green", 2),
        ("皖AG2R28", "blue", 2),
    ]


def test_dedupe_zero_means_every_new_sighting_counts() -> None:
    voter = PlateVoter(min_votes=1, vote_window_s=0.5, dedupe_window_s=0)
    assert len(voter.add([read("皖AG2R28")], at(0))) == 1
    assert len(voter.add([read("皖AG2R28")], at(1))) == 1


@pytest.mark.parametrize(
    "kwargs", [{"min_votes": 0}, {"vote_window_s": 0}, {"dedupe_window_s": -1}]
)
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        PlateVoter(**kwargs)
