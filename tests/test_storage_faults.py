"""Disk full and read-only file system: the gate keeps deciding and opening for residents,
reports the fault, and writes what it kept once storage recovers.

Uses a real small tmpfs mounted for the test (needs root, as on the CI machine and a box);
skipped with the reason where mounting is not allowed.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import clear_fault, fault_disk, mount_tmpfs, unmount

from edge.db import connect
from edge.events.record import recent_events
from edge.gates.vehicle import VehicleGateLoop
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import GateFacts
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier

synth = pytest.importorskip("edge.plates.synth")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
RESIDENTS = ("皖A12345", "皖B23456", "皖C34567")


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "mnt"
    mount_tmpfs(mount, "3m")
    yield mount
    unmount(mount)


@pytest.fixture
def gate(small_disk, reader, pin_factory):
    db = connect(small_disk / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    for plate in RESIDENTS:
        add_vehicle(db, VehicleInput(plate, "resident", "3-1-402"))
    barrier = Barrier(17, pulse_s=0.05, active_high=True, pin_factory=pin_factory)
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        None,
        barrier,
        reader,
        PlateVoter(),
        db,
        SnapshotStore(small_disk / "snapshots", ZoneInfo("UTC")),
    )
    loop.writer.retry_every_s = 0  # retry on every tick in the test
    yield loop, db, pin_factory.pin(17)
    barrier.close()
    db.conn.close()


def drive(loop, plate, start):
    outcomes = []
    for i in range(3):
        outcomes += loop.process_frame(
            synth.render_scene(plate, seed=i), start + timedelta(milliseconds=200 * i)
        )
    return outcomes + loop.tick(start + timedelta(seconds=3))


def pulses(pin) -> int:
    states = [change.state for change in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if not a and b)


def test_disk_full_keeps_opening_and_recovers(gate, small_disk):
    loop, db, pin = gate
    assert [o.decision for o in drive(loop, RESIDENTS[0], T0)] == ["open"]
    fault_disk(small_disk, "full")
    [outcome] = drive(loop, RESIDENTS[1], T0 + timedelta(minutes=1))
    assert outcome.decision == "open" and outcome.event_id == ""  # opened, not yet stored
    assert pulses(pin) == 2
    assert loop.writer.fault and loop.writer.spooled == 2  # the passage and the fault's event
    assert loop.health()["storage_fault"] and loop.health()["storage_faults"] >= 1
    clear_fault(small_disk, "full")
    loop.tick(T0 + timedelta(minutes=2))
    assert loop.writer.fault is None and loop.writer.spooled == 0
    stored = recent_events(db)
    events = {e["plate"]: e for e in stored if e["plate"]}
    assert set(events) == {RESIDENTS[0], RESIDENTS[1]}
    assert "storage fault" in events[RESIDENTS[1]]["details"]["snapshot_error"]
    # the fault and its end reach the guard's alerts and the district, once each
    assert sorted(e["kind"] for e in stored if not e["plate"]) == [
        "storage_fault",
        "storage_recovered",
    ]
    [fault] = [e for e in stored if e["kind"] == "storage_fault"]
    assert fault["reasons"][0]["params"] == {"operation": "write"}
    assert "disk is full" in fault["details"]["error"]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 4


def test_read_only_snapshot_filesystem_keeps_opening_and_recovers(gate, tmp_path):
    """Snapshots on their own file system that turns read-only (as a failing card does).

    The kernel refuses to remount a file system read-only while a process holds a file
    open for writing (EBUSY), so the database's own file system cannot be flipped under a
    running SQLite in a test; its write errors (SQLITE_READONLY/IOERR) take the same path
    as the disk-full case above. The snapshot folder has no open files and can be flipped.
    """
    loop, db, pin = gate
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    mount_tmpfs(snaps, "2m")
    try:
        loop.writer.snapshots = SnapshotStore(snaps, ZoneInfo("UTC"))
        fault_disk(snaps, "read-only")
        [outcome] = drive(loop, RESIDENTS[2], T0)
        assert outcome.decision == "open" and outcome.event_id and pulses(pin) == 1
        [event] = recent_events(db)
        assert event["snapshot_path"] is None and "Read-only" in event["details"]["snapshot_error"]
        clear_fault(snaps, "read-only")
        [again] = drive(loop, RESIDENTS[0], T0 + timedelta(minutes=1))
        assert again.decision == "open" and recent_events(db)[0]["snapshot_path"]
    finally:
        unmount(snaps)


def test_disk_full_lets_a_counted_visitor_pass_in_and_says_the_use_was_not_counted(
    gate, small_disk
):
    """The use of a counted plate pass cannot be written on a full disk: the visitor still
    gets in (as residents do during the fault) and the stored event says the use was not
    counted, instead of the passage being lost to a storage error."""
    from edge.db import utc_now

    loop, db, pin = gate
    now = utc_now()
    visit = VehicleInput("粤B54321", "visitor", "5-2-1101", now - timedelta(hours=1),
                         now + timedelta(hours=1))  # fmt: skip
    vehicle_id = add_vehicle(db, visit)
    db.execute("UPDATE vehicles SET max_uses = 2 WHERE id = ?", [vehicle_id])
    fault_disk(small_disk, "full")
    [outcome] = drive(loop, "粤B54321", T0)
    assert outcome.decision == "open" and pulses(pin) == 1
    assert "pass_use_not_counted" in [r["code"] for r in outcome.reasons]
    clear_fault(small_disk, "full")
    loop.tick(T0 + timedelta(minutes=1))
    [event] = [e for e in recent_events(db) if e["kind"] == "vehicle_passage"]
    assert event["decision"] == "open" and "pass_use" not in event["details"]
    assert event["reasons"][-1]["code"] == "pass_use_not_counted"
    assert db.execute("SELECT uses FROM vehicles WHERE id = ?", [vehicle_id]).fetchone()[0] == 0
