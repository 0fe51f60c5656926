"""Damaged people tables under a running gate: it decides from its last good copy in memory
(edge.people.memory_copy), residents still get in (a plate at the barrier, a face and a PIN
at the door), health and a ``storage_fault`` event say so, and after ``menwei db recover``
every decision the gate made is in events once, with one outbox row.

A gate *starting* on unreadable people tables takes the copy's file (sealed with the PII
key) and says which database is damaged and what to run. Real SQLite files with a page
zeroed the way a worn card loses one; real plate and face models.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from gpiozero.pins.mock import MockFactory
from helpers import FACES

from edge.box.store_check import read_status, status_path
from edge.cli.main import main
from edge.db import connect
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.vehicle import VehicleGateLoop
from edge.people.memory_copy import PeopleCopy
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident, set_pin
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.pii import PiiVault
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy import person, vehicle
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.door import Door, DoorLock

synth = pytest.importorskip("edge.plates.synth")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
RESIDENT = "皖A12345"
VAULT = PiiVault(bytes(range(32)))
DOOR = person.GateFacts("east", "pedestrian", (("residents", "always"),))


def zero_interior_page(path: Path, table: str) -> int:
    """Zero the table's b-tree root (an interior page once the table spans several pages):
    every row of it is then unreachable. Returns the page number."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pageno, page_size, kind = conn.execute(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size),"
        " (SELECT pagetype FROM dbstat WHERE name = ? AND pageno = rootpage)"
        " FROM sqlite_master WHERE name = ?",
        [table, table],
    ).fetchone()
    conn.close()
    assert kind == "internal", f"{table} fits one page: nothing interior to damage"
    with open(path, "r+b") as handle:
        handle.seek((pageno - 1) * page_size)
        handle.write(b"\0" * page_size)
    # Another process's commit: every connection drops its cached pages and reads the card
    # again (as the gate does after any write of the web or another gate).
    conn = sqlite3.connect(path)
    conn.execute("UPDATE gates SET updated_at = 'touched'")
    conn.commit()
    conn.close()
    return int(pageno)


def pulses(pin) -> int:
    states = [change.state for change in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if not a and b)


def toml(config, tmp_path: Path) -> Path:
    path = tmp_path / "menwei.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{config.storage.data_dir}"\n'
        f'[security]\npii_key_file = "{tmp_path / "keys" / "pii.key"}"\n'
        '[[gates]]\nid = "north"\nname = "North"\nkind = "vehicle"\n'
        '[gates.camera]\nsource = "/dev/null"\n[gates.barrier]\nopen_pin = 17\n',
        encoding="utf-8",
    )
    return path


def recovered_events(path: Path) -> tuple[list[str], int, list[str]]:
    """(event ids, outbox rows, event kinds) of the file ``menwei db recover`` wrote."""
    [recovered] = path.parent.glob(f"{path.name}.recovered-*")
    conn = sqlite3.connect(recovered)
    try:
        rows = conn.execute("SELECT id, kind FROM events").fetchall()
        outbox = conn.execute("SELECT COUNT(*) FROM outbox o JOIN events e ON e.id = o.key")
        return [r[0] for r in rows], outbox.fetchone()[0], [r[1] for r in rows]
    finally:
        conn.close()


# -- the barrier ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


def many_vehicles(db, n: int = 3000) -> None:
    """A community's cars: enough rows that the table has interior pages."""
    db.conn.executemany(
        "INSERT INTO vehicles (plate, kind, created_at) VALUES (?, 'resident', 'x')",
        [(f"沪B{i:05d}",) for i in range(n)],
    )


@pytest.fixture
def barrier_gate(gate_config, tmp_path, reader):
    config = gate_config(tmp_path)
    path = config.storage.database_path
    db = connect(path)
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
    many_vehicles(db)
    factory = MockFactory()
    barrier = Barrier(17, pulse_s=0.05, active_high=True, pin_factory=factory)
    north = vehicle.GateFacts("north", "vehicle")
    loop = VehicleGateLoop(north, None, barrier, reader, PlateVoter(), db,
                           SnapshotStore(tmp_path / "snapshots", ZoneInfo("UTC")))  # fmt: skip
    copy_file = tmp_path / "spool" / "north.people"
    loop.start_people(PeopleCopy(copy_file, VAULT), str(path))
    yield loop, db, factory.pin(17), config, copy_file
    barrier.close()
    db.conn.close()
    factory.reset()


def drive(loop, plate, start):
    outcomes = []
    for i in range(3):
        outcomes += loop.process_frame(
            synth.render_scene(plate, seed=i), start + timedelta(milliseconds=200 * i)
        )
    return outcomes + loop.tick(start + timedelta(seconds=3))


def test_a_zeroed_interior_page_of_vehicles_under_a_running_barrier(barrier_gate, tmp_path):
    loop, _db, pin, config, copy_file = barrier_gate
    path = config.storage.database_path
    decided = drive(loop, RESIDENT, T0)
    assert [o.decision for o in decided] == ["open"]
    assert loop.health()["people_copy"]["rows"]["vehicles"] == 3001
    assert copy_file.exists() and b"3-1-402" not in copy_file.read_bytes()  # sealed
    zero_interior_page(path, "vehicles")
    for minute in (1, 2):
        decided += drive(loop, RESIDENT, T0 + timedelta(minutes=minute))
    assert [o.decision for o in decided] == ["open"] * 3 and pulses(pin) == 3
    [stranger] = drive(loop, "皖Z99999", T0 + timedelta(minutes=3))
    assert stranger.decision == "deny"  # the policy is unchanged: only the source of facts
    decided.append(stranger)
    assert loop.refresh_people() is False  # a whole reload still fails: the fault stays
    health = loop.health()
    assert "people data unreadable" in health["storage_fault"]
    assert "malformed" in health["people_copy"]["read_fault"]
    assert health["people_copy"]["read_faults"] >= 3
    loop.writer.retry(force=True)  # what a write refused meanwhile (if any) is written now
    assert loop.writer.spooled == 0
    result = CliRunner().invoke(main, ["db", "recover", "-c", str(toml(config, tmp_path))])
    assert result.exit_code == 0, result.output
    assert "vehicles" in result.output  # what could not be salvaged is named
    assert_each_decision_once(path, decided, "vehicle_passage")


def assert_each_decision_once(path: Path, decided: list, *kinds: str) -> None:
    """Every decision in the recovered file once (by id where it was stored at once, by
    count for one spooled and replayed), each event with one outbox row, one read fault."""
    ids, outbox, stored_kinds = recovered_events(path)
    assert len(ids) == len(set(ids)) == outbox
    assert {o.event_id for o in decided if o.event_id} <= set(ids)
    assert sorted(k for k in stored_kinds if k in kinds) == sorted(o.kind for o in decided)
    faults = [k for k in stored_kinds if k == "storage_fault"]
    assert 1 <= len(faults) <= 2  # the read fault, and a write refused while it began


def test_a_gate_starting_on_unreadable_vehicles_takes_its_sealed_copy(
    barrier_gate, reader, tmp_path, caplog
):
    _loop, _db, _pin, config, copy_file = barrier_gate
    path = config.storage.database_path
    zero_interior_page(path, "vehicles")
    factory = MockFactory()
    barrier = Barrier(18, pulse_s=0.05, active_high=True, pin_factory=factory)
    north = vehicle.GateFacts("north", "vehicle")
    again = VehicleGateLoop(north, None, barrier, reader, PlateVoter(), connect(path), None)
    try:
        with caplog.at_level(logging.ERROR):
            again.start_people(PeopleCopy(copy_file, VAULT), str(path))
        message = caplog.text
        assert str(path) in message and str(copy_file) in message
        assert "menwei db check" in message and "menwei db recover" in message
        assert again.health()["people_copy"]["source"] == "file"
        [outcome] = drive(again, RESIDENT, T0)
        assert outcome.decision == "open" and pulses(factory.pin(18)) == 1
        # without the file (or with another box's key) it says so: nobody to let in by plate
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            again.start_people(PeopleCopy(copy_file, PiiVault(bytes(32))), str(path))
        assert "no last good copy" in caplog.text and "key" in caplog.text
    finally:
        barrier.close()
        factory.reset()


def test_the_copy_follows_the_lists_and_reloads_only_what_changed(barrier_gate):
    loop, db, _pin, _config, _file = barrier_gate
    assert loop.refresh_people() is False  # nothing changed: one small query
    add_vehicle(db, VehicleInput("皖C34567", "resident", "3-1-403"))
    assert loop.refresh_people() is True
    assert loop.people.state.rows["vehicles"] == 3002
    [found] = loop.people.read(
        lambda copy: copy.execute("SELECT plate FROM vehicles WHERE plate = '皖C34567'").fetchall()
    )
    assert found[0] == "皖C34567"
    columns = loop.people.read(
        lambda copy: [r[1] for r in copy.execute("PRAGMA table_info(residents)")]
    )
    assert "name_enc" not in columns and "phone_enc" not in columns  # no names, no phones


# -- the door ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recogniser(face_labels) -> FaceRecogniser:  # skips without the photos
    return FaceRecogniser()


def test_a_zeroed_interior_page_of_residents_under_a_running_door(
    gate_config, tmp_path, recogniser
):
    config = gate_config(tmp_path)
    path = config.storage.database_path
    db = connect(path)
    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    rid = add_resident(db, VAULT, "Resident", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    enrol_faces(db, VAULT, recogniser, rid, photos, "admin", consent=True)
    set_pin(db, rid, "480915")
    for n in range(1500):  # the community: enough residents for interior pages
        add_resident(db, VAULT, f"住户{n}", f"9-1-{n}")
    factory = MockFactory()
    lock = DoorLock(17, "fail_safe", 0.5, active_high=True, pin_factory=factory)
    door = Door(lock, lambda kind, details: None)
    loop = PedestrianGateLoop(DOOR, door, recogniser, db, VAULT, None, PedestrianSettings())
    loop.start_people(PeopleCopy(tmp_path / "spool" / "east.people", VAULT), str(path))
    try:
        zero_interior_page(path, "residents")
        decided = [loop.keypad_entry(f"{rid}*480915")]
        face = read_image_file(FACES / "fr_obama1.jpg")
        start = T0 + timedelta(minutes=1)
        for k in range(3):
            decided += loop.process_frame(face, start + timedelta(seconds=0.2 * k))
        assert [(o.kind, o.decision) for o in decided] == [
            ("pin_passage", "open"),
            ("face_passage", "open"),
        ]
        wrong = loop.keypad_entry(f"{rid}*111111")
        assert wrong is not None and wrong.decision == "deny"
        decided.append(wrong)
        health = loop.health()
        assert "people data unreadable" in health["storage_fault"]
        assert health["templates"] == 2  # the index stayed
        loop.writer.retry(force=True)
        result = CliRunner().invoke(main, ["db", "recover", "-c", str(toml(config, tmp_path))])
        assert result.exit_code == 0, result.output
        assert_each_decision_once(path, decided, "pin_passage", "face_passage")
    finally:
        door.close()
        db.conn.close()
        factory.reset()


# -- the hourly check ----------------------------------------------------------------------------
def test_the_hourly_integrity_check_finds_damage_and_raises_the_alarm(gate_config, tmp_path):
    config = gate_config(tmp_path)
    path = config.storage.database_path
    db = connect(path)
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    many_vehicles(db)
    db.conn.close()
    settings = toml(config, tmp_path)
    result = CliRunner().invoke(main, ["retention", "-c", str(settings)])
    assert result.exit_code == 0, result.output
    assert "integrity_check: ok" in result.output
    zero_interior_page(path, "vehicles")
    result = CliRunner().invoke(main, ["retention", "-c", str(settings)])
    assert "integrity_check: DAMAGED" in result.output, result.output
    from edge.config import load_config

    status = read_status(status_path(load_config(settings)))
    assert status is not None and status.damaged and status.problems
    conn = sqlite3.connect(path)
    kinds = [json.loads(r[0])[0]["params"] for r in conn.execute(
        "SELECT reasons FROM events WHERE kind = 'storage_fault'")]  # fmt: skip
    conn.close()
    assert kinds == [{"operation": "check"}]  # once, however often it runs
    CliRunner().invoke(main, ["retention", "-c", str(settings)])
    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'storage_fault'").fetchone()[0] == 1
    )
    conn.close()
