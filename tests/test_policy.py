"""The access policy, rule by rule, plus properties over random facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.policy.vehicle import (
    Facts,
    GateFacts,
    PolicySettings,
    Sighting,
    VehicleFact,
    WatchFact,
    decide_vehicle,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
GATE = GateFacts("north", "vehicle")
PLATE = "皖A12345"
READ = Sighting(PLATE, 0.97, readable=True)


def vehicle(kind="resident", start=None, end=None, plate=PLATE, vid=1) -> VehicleFact:
    return VehicleFact(vid, plate, kind, start, end, "household 3-1-402")


def codes(decision) -> list[str]:
    return [r.code for r in decision.reasons]


def test_resident_without_limits_opens():
    decision = decide_vehicle(READ, GATE, NOW, Facts((vehicle(),)))
    assert decision.action == "open"
    assert codes(decision) == ["resident_vehicle"]
    assert decision.subject == "resident: household 3-1-402"


def test_resident_within_validity_opens_and_says_until_when():
    fact = vehicle(start=NOW - timedelta(days=1), end=NOW + timedelta(days=1))
    decision = decide_vehicle(READ, GATE, NOW, Facts((fact,)))
    assert decision.action == "open"
    assert "valid until" in decision.reasons[0].message


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (None, NOW, "resident_expired"),  # the end is exclusive
        (None, NOW - timedelta(seconds=1), "resident_expired"),
        (NOW + timedelta(seconds=1), None, "resident_not_yet_valid"),
    ],
)
def test_resident_outside_validity_denied_with_reason(start, end, code):
    decision = decide_vehicle(READ, GATE, NOW, Facts((vehicle(start=start, end=end),)))
    assert decision.action == "deny"
    assert codes(decision) == [code]


@pytest.mark.parametrize("kind", ["visitor", "temporary"])
def test_pass_valid_now_opens(kind):
    fact = vehicle(kind, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    decision = decide_vehicle(READ, GATE, NOW, Facts((fact,)))
    assert (decision.action, codes(decision)) == ("open", [f"{kind}_pass_valid"])


@pytest.mark.parametrize("kind", ["visitor", "temporary"])
def test_expired_pass_denied(kind):
    fact = vehicle(kind, NOW - timedelta(days=2), NOW - timedelta(days=1))
    decision = decide_vehicle(READ, GATE, NOW, Facts((fact,)))
    assert (decision.action, codes(decision)) == ("deny", [f"{kind}_expired"])


def test_expired_visitor_pass_does_not_hide_valid_resident_enrolment():
    facts = Facts(
        (
            vehicle("visitor", NOW - timedelta(days=2), NOW - timedelta(days=1), vid=2),
            vehicle(vid=1),
        )
    )
    assert decide_vehicle(READ, GATE, NOW, facts).action == "open"


def test_unknown_denied_by_default():
    decision = decide_vehicle(READ, GATE, NOW, Facts())
    assert (decision.action, codes(decision)) == ("deny", ["unknown_vehicle"])


def test_unknown_opened_for_registration_when_configured():
    decision = decide_vehicle(READ, GATE, NOW, Facts(), PolicySettings("open_for_registration"))
    assert (decision.action, codes(decision)) == ("open", ["unknown_open_for_registration"])


def test_other_plates_facts_are_ignored():
    decision = decide_vehicle(READ, GATE, NOW, Facts((vehicle(plate="皖A99999"),)))
    assert decision.action == "deny"


def test_watchlisted_unknown_is_denied_and_alerts():
    watch = WatchFact(7, PLATE, "stolen", "district", None)
    decision = decide_vehicle(READ, GATE, NOW, Facts((), (watch,)))
    assert decision.action == "deny"
    assert [a.watch_ids for a in decision.alerts] == [(7,)]
    assert "watchlisted" in codes(decision)


def test_watchlisted_resident_still_opens_but_alerts():
    watch = WatchFact(7, PLATE, "", "local", None)
    decision = decide_vehicle(READ, GATE, NOW, Facts((vehicle(),), (watch,)))
    assert decision.action == "open"
    assert decision.alerts and codes(decision) == ["resident_vehicle", "watchlisted"]


def test_expired_watch_entry_does_not_alert():
    watch = WatchFact(7, PLATE, "", "local", NOW - timedelta(minutes=1))
    assert decide_vehicle(READ, GATE, NOW, Facts((), (watch,))).alerts == ()


@pytest.mark.parametrize("sighting", [Sighting("", 0.3, False), Sighting(PLATE, 0.5, False)])
def test_unreadable_never_opens_even_when_unknown_would(sighting):
    decision = decide_vehicle(
        sighting, GATE, NOW, Facts((vehicle(),)), PolicySettings("open_for_registration")
    )
    assert (decision.action, codes(decision)) == ("deny", ["plate_unread"])


def test_plate_at_pedestrian_gate_never_opens():
    decision = decide_vehicle(READ, GateFacts("door", "pedestrian"), NOW, Facts((vehicle(),)))
    assert (decision.action, codes(decision)) == ("deny", ["wrong_gate_kind"])


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        decide_vehicle(READ, GATE, NOW.replace(tzinfo=None), Facts())


offsets = st.one_of(
    st.none(), st.integers(-10_000, 10_000).map(lambda s: NOW + timedelta(seconds=s))
)


@given(
    kinds=st.lists(st.sampled_from(["resident", "visitor", "temporary"]), max_size=4),
    starts=st.lists(offsets, min_size=4, max_size=4),
    ends=st.lists(offsets, min_size=4, max_size=4),
    unknown=st.sampled_from(["deny", "open_for_registration"]),
    readable=st.booleans(),
)
def test_opens_exactly_when_some_enrolment_is_valid_now(kinds, starts, ends, unknown, readable):
    enrolments = zip(kinds, starts, ends, strict=False)
    facts = Facts(tuple(vehicle(k, s, e, vid=i) for i, (k, s, e) in enumerate(enrolments)))
    decision = decide_vehicle(
        Sighting(PLATE, 0.9, readable), GATE, NOW, facts, PolicySettings(unknown)
    )
    valid = any(
        (s is None or s <= NOW) and (e is None or e > NOW)
        for _, s, e in zip(kinds, starts, ends, strict=False)
    )
    if not readable:
        assert decision.action == "deny"
    elif valid:
        assert decision.action == "open" and decision.vehicle is not None
    elif kinds:
        assert decision.action == "deny"
    else:
        assert decision.action == ("open" if unknown == "open_for_registration" else "deny")
    assert decision.reasons, "every decision carries at least one reason"
