"""One passage per car: voting over frames, single-frame cars, dedupe. Times injected."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta

import numpy as np
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


def test_passage_carries_the_frame_of_its_most_confident_read_and_lets_go() -> None:
    """The snapshot is the frame where the decided plate read best, not a misread's frame;
    once decided, the track keeps guarding against repeats without holding any frame."""
    voter = PlateVoter(min_votes=3, vote_window_s=1.0)
    frames = [np.full((4, 4, 3), shade, np.uint8) for shade in (10, 20, 30, 40, 50)]
    reads = [("皖AG2R28", 0.90), ("皖AG2R2B", 0.99), ("皖AG2R28", 0.97), ("皖AG2R28", 0.91)]
    out = []
    for i, (text, conf) in enumerate(reads):
        out += voter.add([read(text, conf)], at(0.1 * i), frames[i])
    [passage] = out
    assert passage.plate == "皖AG2R28" and passage.evidence.frame is frames[2]
    assert passage.evidence.box() == [0, 0, 10, 3]  # the read's corners in that frame
    assert voter.add([read("皖AG2R28", 0.99)], at(0.5), frames[4]) == []  # same car, seen on
    held = [weakref.ref(frame) for frame in frames]
    del frames, passage, out
    gc.collect()
    assert [ref() for ref in held] == [None] * 5, "the voter holds no frame once decided"
    assert voter.flush(at(5)) == []


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


def test_frames_disagreeing_on_a_character_decide_nothing_and_go_to_the_guard() -> None:
    """Two valid frames, one character apart: no confident plate, however the confidence
    splits; when the car leaves it is reported as unsure with both candidates."""
    voter = PlateVoter(min_votes=5, vote_window_s=0.5)
    voter.add([read("皖A0V790", 0.99)], at(0))
    voter.add([read("皖A0Y790", 0.86)], at(0.1))
    assert voter.flush(at(0.5)) == []
    assert [u.candidates for u in voter.pending()] == [(("皖A0V790", 1), ("皖A0Y790", 1))]
    assert voter.flush(at(1.0)) == []  # gone: no read for longer than the vote window
    [unsure] = voter.pop_unsure()
    assert {c for c, _ in unsure.candidates} == {"皖A0V790", "皖A0Y790"}
    assert unsure.agreement < 0.7 and unsure.frames == 2
    assert voter.pop_unsure() == []


def test_per_character_agreement_outvotes_a_minority_with_more_frames() -> None:
    """V, Y, V, V: the fourth frame brings position 4 above the agreement share."""
    voter = PlateVoter(min_votes=2, vote_window_s=1.0)
    out = []
    for i, text in enumerate(["皖A0V790", "皖A0Y790", "皖A0V790"]):
        out += voter.add([read(text, 0.95)], at(0.1 * i))
    assert out == []  # 2 of 3 frames: 0.67 < 0.7
    [passage] = voter.add([read("皖A0V790", 0.95)], at(0.3))
    assert (passage.plate, passage.votes, passage.frames) == ("皖A0V790", 3, 4)
    assert passage.agreement == 0.75


def test_an_unsure_frame_of_the_same_car_is_evidence_against_agreement() -> None:
    """A frame the reader held back (second reader disagreed on the province) still
    counts as a dissenting vote for that character."""
    voter = PlateVoter(min_votes=1, vote_window_s=0.5)
    voter.add([read("闽EVL838", 0.98, valid=False)], at(0))
    assert voter.add([read("皖EVL838", 0.97)], at(0.1)) == []
    assert voter.flush(at(2)) == []
    [unsure] = voter.pop_unsure()
    assert unsure.candidates[0] == ("皖EVL838", 1)


def test_per_character_weights_come_from_char_probs() -> None:
    """Where char_probs are given, the doubtful character weighs what it was read at."""
    voter = PlateVoter(min_votes=2, vote_window_s=1.0)
    sure = PlateRead("皖AG2R28", 0.95, "blue", None, True, char_probs=(0.99,) * 7)
    doubt = PlateRead("皖AG2R2B", 0.3, "blue", None, False, char_probs=(0.99,) * 6 + (0.3,))
    voter.add([sure], at(0))
    voter.add([doubt], at(0.1))
    [passage] = voter.add([sure], at(0.2))
    assert passage.plate == "皖AG2R28" and passage.agreement == round(1.98 / 2.28, 4)


def test_military_plate_is_decided_but_never_auto_opens() -> None:
    voter = PlateVoter(min_votes=2)
    voter.add([read("VA12345", colour="white")], at(0))
    [passage] = voter.add([read("VA12345", colour="white")], at(0.1))
    assert passage.plate_class == "military" and passage.auto_open is False


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


def test_the_passage_carries_the_colour_the_reader_named() -> None:
    """Frames where the colour could not be told do not outvote those where it could (the
    platform's PlateColor comes from this); with no named colour it stays unknown."""
    voter = PlateVoter(min_votes=5, vote_window_s=2.0)
    colours = ["unknown", "yellow", "unknown", "yellow", "unknown"]
    out = []
    for i, colour in enumerate(colours):
        out += voter.add([read("皖AG2R28", colour=colour)], at(0.1 * i))
    assert [p.colour for p in out] == ["yellow"]
    voter = PlateVoter(min_votes=2, vote_window_s=2.0)
    voter.add([read("皖AH1234", colour="unknown")], at(10))
    [passage] = voter.add([read("皖AH1234", colour="unknown")], at(10.1))
    assert passage.colour == "unknown"
