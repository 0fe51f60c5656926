"""`menwei gate` as a real process on a read-only or full data disk: it starts, lets the
resident in, says what is wrong in one log line (no traceback), keeps the decision in its
spool through a SIGKILL, and the next start on a healthy disk stores it exactly once.

Real tmpfs mounts (the suite runs as root, as on a box; skipped where mounting is refused).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from helpers import GateProcess, clear_fault, fault_disk, mount_tmpfs, unmount

from edge.config import load_config
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.store.open import open_store

synth = pytest.importorskip("edge.plates.synth")
PLATE = "皖A12345"

CONFIG = """
[storage]
data_dir = "{data}"
spool_dir = "{spool}"
spool_reserve_mb = 1
[hardware]
pin_factory = "mock"
[[gates]]
id = "north"
name = "North"
kind = "vehicle"
[gates.camera]
source = "{frames}"
replay_fps = 10
[gates.barrier]
open_pin = 17
active_high = true
"""


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[Path, Path, Path]]:
    """(config file, data disk, spool disk): a resident enrolled, a camera replaying a car."""
    data, spool = tmp_path / "data", tmp_path / "spool"
    mount_tmpfs(data, "16m")
    try:
        mount_tmpfs(spool, "2m")
        frames = tmp_path / "frames"
        frames.mkdir()
        for i in range(4):
            cv2.imwrite(str(frames / f"{i:03d}.jpg"), synth.render_scene(PLATE, seed=i))
        config = tmp_path / "menwei.toml"
        config.write_text(CONFIG.format(data=data, spool=spool, frames=frames), "utf-8")
        db = open_store(load_config(config))
        add_vehicle(db, VehicleInput(PLATE, "resident", "3-1-402"))
        db.conn.close()
        yield config, data, spool
    finally:
        for folder in (spool, data):
            unmount(folder)


def menwei(*args: str) -> str:
    command = Path(sys.executable).parent / "menwei"
    return subprocess.run([str(command), *args], capture_output=True, text=True, check=True).stdout


def stored_passages(data: Path) -> int:
    db = sqlite3.connect(data / "menwei.db")
    try:
        return db.execute(
            "SELECT COUNT(*) FROM events e JOIN outbox o ON o.key = e.id"
            " WHERE e.kind = 'vehicle_passage' AND e.plate = ? AND e.decision = 'open'",
            [PLATE],
        ).fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_gate_starts_on_a_faulted_disk_lets_the_resident_in_and_keeps_the_event(site, fault):
    config, data, _spool = site
    fault_disk(data, fault)
    gate = GateProcess(config, "north")
    try:
        assert gate.wait_for("OPEN"), "".join(gate.lines)
        assert gate.wait_for("storage"), "".join(gate.lines)
        if fault == "full":  # the control socket still binds: health names the fault
            [status] = [
                g
                for g in json.loads(menwei("status", "--json", "-c", str(config)))
                if g["gate"] == "north"
            ]
            assert "not writable at start" in status["storage_fault"], status
            assert status["spool_error"] is None
            assert status["events_unsaved"] >= 1 and status["storage_faults"] >= 1
    finally:
        output = gate.kill()  # SIGKILL while faulted: the spool must hold the decision
    assert "Traceback" not in output, output
    assert PLATE in output and "OPEN" in output
    opened = sum(1 for line in output.splitlines() if "OPEN" in line)
    clear_fault(data, fault)
    assert stored_passages(data) == 0
    again = GateProcess(config, "north")
    try:
        deadline = time.monotonic() + 90
        while stored_passages(data) < opened and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        again.kill()
    assert stored_passages(data) >= opened  # each printed decision, once (the outbox join)
    db = sqlite3.connect(data / "menwei.db")
    try:
        ids = [r[0] for r in db.execute("SELECT id FROM events")]
        assert len(ids) == len(set(ids))
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == len(ids)
    finally:
        db.close()


DAMAGE = {
    "garbled header": lambda p: p.write_bytes(b"\x13\x37" * 50 + p.read_bytes()[100:]),
    "cut inside its pages": lambda p: os.truncate(p, 5 * 4096 + 1000),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_gate_restarted_on_a_file_sqlite_cannot_open_still_lets_the_resident_in(
    tmp_path, damage, monkeypatch
):
    """A restart finds a database that will not open at all: the gate runs on a stand-in,
    decides from its last good copy file, leaves the damaged file as it is."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the gate's stand-in: in the test's folder
    data, spool, frames = tmp_path / "data", tmp_path / "spool", tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:03d}.jpg"), synth.render_scene(PLATE, seed=i))
    key = tmp_path / "pii.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    config = tmp_path / "menwei.toml"
    text = CONFIG.format(data=data, spool=spool, frames=frames)
    config.write_text(text + f'[security]\npii_key_file = "{key}"\n', "utf-8")
    db = open_store(load_config(config))
    add_vehicle(db, VehicleInput(PLATE, "resident", "3-1-402"))
    db.conn.close()
    first = GateProcess(config, "north")
    try:
        assert first.wait_for("OPEN"), "".join(first.lines)
        deadline = time.monotonic() + 60
        while not (spool / "north.people").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        first.kill()
    assert (spool / "north.people").exists()
    path = data / "menwei.db"
    DAMAGE[damage](path)
    damaged = path.read_bytes()
    gate = GateProcess(config, "north")
    try:
        assert gate.wait_for("last good copy"), "".join(gate.lines)
        assert gate.wait_for("OPEN"), "".join(gate.lines)
    finally:
        output = gate.kill()
    assert "Traceback" not in output, output
    assert str(path) in output and "menwei db recover" in output
    assert path.read_bytes() == damaged  # never replaced: `menwei db recover` reads it
    assert list(tmp_path.glob("menwei-*/menwei-stand-in-*.db"))  # the one stand-in, by the database
