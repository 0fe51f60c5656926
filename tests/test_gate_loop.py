"""The vehicle gate loop end to end: real reader and models, real database, mock pins.

Frames are rendered in code (edge.plates.synth) and fed with injected times, so the
vote and dedupe windows are exercised without sleeping; the barrier is a real
gate_drivers.Barrier on gpiozero's MockFactory.
"""

from __future__ import annotations

import gc
import time
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.db import connect
from edge.events.record import recent_events
from edge.gates.vehicle import VehicleGateLoop
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import GateFacts
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier

synth = pytest.importorskip("edge.plates.synth")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
OPEN_PIN = 17


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture
def gate(tmp_path, reader):
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput("皖A12345", "resident", "3-1-402"))
    add_watch(db, "京A88888", "stolen")
    factory = MockFactory()
    barrier = Barrier(OPEN_PIN, pulse_s=0.2, active_high=True, pin_factory=factory)
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        camera=None,  # frames are fed directly
        barrier=barrier,
        reader=reader,
        voter=PlateVoter(min_votes=2, vote_window_s=1.5, dedupe_window_s=30),
        db=db,
        snapshots=SnapshotStore(tmp_path / "snapshots", ZoneInfo("Asia/Shanghai")),
    )
    yield loop, db, factory.pin(OPEN_PIN), tmp_path
    barrier.close()


def drive(loop, plate, colour=None, frames=4, start=T0, **scene):
    outcomes = []
    for i in range(frames):
        image = synth.render_scene(plate, colour, seed=i, **scene)
        outcomes += loop.process_frame(image, start + timedelta(milliseconds=200 * i))
    outcomes += loop.tick(start + timedelta(seconds=5))
    return outcomes


def relay_went_high(pin) -> bool:
    """MockPin keeps its history of (time, state) changes."""
    return any(change.state for change in pin.states)


def test_resident_opens_and_event_has_snapshot(gate):
    loop, db, pin, tmp_path = gate
    [outcome] = drive(loop, "皖A12345")
    assert (outcome.plate, outcome.decision) == ("皖A12345", "open")
    assert relay_went_high(pin)
    [event] = recent_events(db)
    assert event["kind"] == "vehicle_passage" and event["decision"] == "open"
    assert event["reasons"][0]["code"] == "resident_vehicle"
    assert event["subject"] == "resident: household 3-1-402"
    assert (tmp_path / "snapshots" / event["snapshot_path"]).is_file()
    assert db.execute("SELECT key FROM outbox").fetchone()[0] == event["id"]


def test_unknown_is_denied_and_barrier_never_moves(gate):
    loop, db, pin, _ = gate
    [outcome] = drive(loop, "沪C0L876")
    assert outcome.decision == "deny"
    assert not relay_went_high(pin)
    assert recent_events(db)[0]["reasons"][0]["code"] == "unknown_vehicle"


def test_watchlisted_plate_raises_linked_alert(gate):
    loop, db, _, _ = gate
    [outcome] = drive(loop, "京A88888")
    assert outcome.decision == "deny" and outcome.alert_event_id
    events = {e["kind"]: e for e in recent_events(db)}
    alert, passage = events["watchlist_alert"], events["vehicle_passage"]
    assert alert["kind"] == "watchlist_alert" and alert["related_event_id"] == passage["id"]
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2


def test_same_plate_within_dedupe_window_is_one_passage(gate):
    loop, db, _, _ = gate
    first = drive(loop, "皖A12345", frames=4, start=T0)
    again = drive(loop, "皖A12345", frames=4, start=T0 + timedelta(seconds=10))
    later = drive(loop, "皖A12345", frames=4, start=T0 + timedelta(seconds=60))
    assert (len(first), len(again), len(later)) == (1, 0, 1)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2


def test_unreadable_plate_records_unread_and_never_opens(gate):
    loop, db, pin, _ = gate
    outcomes = drive(loop, "浙B54321", frames=10, blur=15.0, brightness=0.35)
    assert all(o.decision == "deny" for o in outcomes)
    assert not relay_went_high(pin)
    events = recent_events(db)
    assert [e["kind"] for e in events] == ["plate_unread"]
    assert events[0]["decision"] == "deny" and events[0]["snapshot_path"]


def test_unread_plate_is_decided_without_looking_up_facts(gate):
    """An unread plate has no facts: the policy denies it without a query for them."""
    loop, db, _, _ = gate
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        outcomes = drive(loop, "浙B54321", frames=10, blur=15.0, brightness=0.35)
    finally:
        db.conn.set_trace_callback(None)
    assert [o.kind for o in outcomes] == ["plate_unread"]
    looked_up = [s for s in statements if "FROM vehicles" in s or "FROM watchlist" in s]
    assert looked_up == [] and any("INSERT INTO events" in s for s in statements)


def test_approaching_car_unreadable_at_first_gives_no_unread_event(gate):
    """Far away (blurred, dark) for 2 s, then readable: one passage, nothing else."""
    loop, db, _, _ = gate
    outcomes = []
    for i in range(10):  # blur 9: the plate is found in every frame but read too unsure
        image = synth.render_scene("皖A12345", seed=i, blur=9.0)
        outcomes += loop.process_frame(image, T0 + timedelta(milliseconds=200 * i))
    outcomes += drive(loop, "皖A12345", start=T0 + timedelta(milliseconds=2000))
    assert [(o.kind, o.decision) for o in outcomes] == [("vehicle_passage", "open")]
    assert [e["kind"] for e in recent_events(db)] == ["vehicle_passage"]


def test_car_standing_unread_is_reported_while_still_there(gate):
    """A dirty plate at the barrier: the guard hears of it after a few seconds, once."""
    loop, db, pin, _ = gate
    image = synth.render_scene("皖A12345", seed=3, blur=9.0)
    outcomes = []
    for i in range(30):  # 6 s at 5 frames/s, the car never leaves
        outcomes += loop.process_frame(image, T0 + timedelta(milliseconds=200 * i))
    assert [(o.kind, o.decision) for o in outcomes] == [("plate_unread", "deny")]
    assert [e["kind"] for e in recent_events(db)] == ["plate_unread"]
    assert not relay_went_high(pin)


@pytest.mark.parametrize(
    "bad",
    [
        None,
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((480, 640), np.float64),
    ],
)
def test_bad_frames_never_crash_and_never_open(gate, bad):
    loop, db, pin, _ = gate
    assert loop.process_frame(bad, T0) == []
    assert not relay_went_high(pin)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_empty_lane_produces_nothing(gate):
    loop, db, _, _ = gate
    for i in range(5):
        assert loop.process_frame(synth.render_empty_scene(seed=i), T0 + timedelta(seconds=i)) == []
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "plates"


@pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"real plate fixtures not found at {FIXTURES}")
def test_real_street_photo_of_enrolled_car_opens(gate):
    """A real CCPD frame (labelled 皖AG2R28) through the whole loop, repeated as a camera would."""
    loop, db, pin, _ = gate
    add_vehicle(db, VehicleInput("皖AG2R28", "resident", "7-2-1601"))
    image = cv2.imread(str(FIXTURES / "dev_ff_01.jpg"))
    outcomes = []
    for i in range(3):
        outcomes += loop.process_frame(image, T0 + timedelta(milliseconds=100 * i))
    outcomes += loop.tick(T0 + timedelta(seconds=5))
    assert [(o.plate, o.decision) for o in outcomes] == [("皖AG2R28", "open")]
    assert relay_went_high(pin)


def test_frames_kept_for_snapshots_are_released(gate):
    """A duplicate passage never becomes an event; the loop must not hoard its frames."""
    loop, db, _, _ = gate
    held = []
    for start in (T0, T0 + timedelta(seconds=10)):  # the second car is a suppressed duplicate
        for i in range(4):
            image = synth.render_scene("皖A12345", seed=i)
            held.append(weakref.ref(image))
            loop.process_frame(image, start + timedelta(milliseconds=200 * i))
            del image
    loop.tick(T0 + timedelta(seconds=20))
    gc.collect()
    assert [ref() for ref in held] == [None] * 8
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_loop_detector_gates_reading_when_required(tmp_path, reader):
    """With require_presence, frames are only read while a vehicle is on the loop."""
    from gate_drivers.inputs import VehicleLoop

    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput("皖A12345", "resident", "3-1-402"))
    factory = MockFactory()
    barrier = Barrier(OPEN_PIN, pulse_s=0.05, active_high=True, pin_factory=factory)
    presence = VehicleLoop(22, pin_factory=factory, debounce_s=0.01)
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        None,
        barrier,
        reader,
        PlateVoter(),
        db,
        SnapshotStore(tmp_path / "snapshots", ZoneInfo("UTC")),
        presence=presence,
        require_presence=True,
    )
    try:
        assert drive(loop, "皖A12345") == []  # car in the picture, but not on the loop
        factory.pin(22).drive_low()  # the loop detector closes its contact
        deadline = datetime.now(UTC) + timedelta(seconds=2)
        while not presence.is_occupied and datetime.now(UTC) < deadline:
            time.sleep(0.005)
        [outcome] = drive(loop, "皖A12345", start=T0 + timedelta(minutes=5))
        assert outcome.decision == "open"
    finally:
        presence.close()
        barrier.close()
