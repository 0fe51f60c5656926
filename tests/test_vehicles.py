"""Enrolment of vehicles and watchlist plates, and the facts the policy gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.people.vehicles import (
    EnrolmentError,
    VehicleInput,
    add_vehicle,
    add_watch,
    facts_for_plate,
    list_vehicles,
    list_watch,
    remove_vehicle,
    remove_watch,
)
from edge.plates.grammar import PlateFormatError
from edge.vocabulary import translator

NOW = datetime.now(UTC)


def count(db, table: str) -> int:
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_add_list_remove_resident_vehicle(db):
    add_vehicle(db, VehicleInput(" 皖a·12345 ", "resident", "3-1-402"))
    [row] = list_vehicles(db)
    assert (row["plate"], row["kind"], row["household"]) == ("皖A12345", "resident", "3-1-402")
    facts = facts_for_plate(db, "皖A12345")
    assert [v.label for v in facts.vehicles] == ["household 3-1-402"]
    assert facts_for_plate(db, "皖A99999").vehicles == ()
    assert remove_vehicle(db, "皖A12345") == 1
    assert list_vehicles(db) == []


def test_household_is_shared_between_vehicles(db):
    add_vehicle(db, VehicleInput("皖A12345", household="3-1-402"))
    add_vehicle(db, VehicleInput("皖A54321", household="3-1-402"))
    assert count(db, "households") == 1


@pytest.mark.parametrize("plate", ["", "12345", "皖AI2345", "ABCDEFG", "皖A1234", "皖A123456789"])
def test_malformed_plate_is_refused_and_nothing_stored(db, plate):
    with pytest.raises(PlateFormatError) as info:
        add_vehicle(db, VehicleInput(plate, household="1-1-101"))
    assert "车牌" in info.value.render(translator("zh"))
    assert count(db, "vehicles") == 0 and count(db, "households") == 0


def test_visitor_needs_an_end_and_a_sane_window(db):
    with pytest.raises(EnrolmentError, match="valid-to"):
        add_vehicle(db, VehicleInput("粤BD12345", "visitor"))
    with pytest.raises(EnrolmentError, match="before"):
        add_vehicle(db, VehicleInput("粤BD12345", "visitor", None, NOW, NOW - timedelta(hours=1)))
    with pytest.raises(EnrolmentError, match="time zone"):
        add_vehicle(db, VehicleInput("粤BD12345", "visitor", None, None, datetime(2030, 1, 1)))
    assert count(db, "vehicles") == 0


def test_duplicate_enrolment_refused_without_side_effects(db):
    add_vehicle(db, VehicleInput("皖A12345", household="1-1-101"))
    with pytest.raises(EnrolmentError, match="already enrolled"):
        add_vehicle(db, VehicleInput("皖A12345", household="9-9-909"))
    assert count(db, "households") == 1  # the refused call's household was rolled back


def test_watchlist_add_list_remove(db):
    add_watch(db, "京A88888", "stolen", expires_at=NOW + timedelta(days=1))
    [row] = list_watch(db)
    assert (row["plate"], row["reason"]) == ("京A88888", "stolen")
    [fact] = facts_for_plate(db, "京A88888").watchlist
    assert fact.expires_at is not None and fact.expires_at > NOW
    assert remove_watch(db, "京A88888") == 1 and list_watch(db) == []
    with pytest.raises(PlateFormatError):
        add_watch(db, "not a plate")
