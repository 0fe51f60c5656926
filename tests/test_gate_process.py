"""`menwei gate` as a real process, and a gate whose camera never opens.

The process test runs the console script exactly as systemd will (config file, mock pin
factory, a folder camera) and stops it with SIGTERM; the in-process test checks that a
dead camera is reported as an event while the barrier stays down and the loop lives on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from edge.config import load_config
from edge.events.record import recent_events
from edge.gates.assembly import vehicle_gate
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.store.open import open_store

synth = pytest.importorskip("edge.plates.synth")

CONFIG = """
[storage]
data_dir = "data"
[hardware]
pin_factory = "mock"
[[gates]]
id = "north"
name = "North"
kind = "vehicle"
[gates.camera]
source = "{source}"
replay_fps = 10
read_timeout_s = 1
backoff_max_s = 1
[gates.barrier]
open_pin = 17
active_high = true
"""


def write_config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "menwei.toml"
    path.write_text(CONFIG.format(source=source), encoding="utf-8")
    return path


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_menwei_gate_process_decides_and_stops_cleanly(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:03d}.jpg"), synth.render_scene("皖A12345", seed=i))
    config_path = write_config(tmp_path, "frames")
    db = open_store(load_config(config_path))
    add_vehicle(db, VehicleInput("皖A12345", "resident", "3-1-402"))
    menwei = Path(sys.executable).parent / "menwei"
    process = subprocess.Popen(
        [str(menwei), "gate", "north", "-c", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert wait_for(lambda: recent_events(db), 60), "no event from the gate process"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    [event] = [e for e in recent_events(db) if e["kind"] == "vehicle_passage"]
    assert (event["plate"], event["decision"]) == ("皖A12345", "open")
    assert "皖A12345" in output and "OPEN" in output
    assert "relays in safe state" in output


def test_camera_that_never_opens_is_reported_and_barrier_stays_down(tmp_path, pin_factory):
    config = load_config(write_config(tmp_path, "no-such-folder"))
    stop = threading.Event()
    with vehicle_gate(config, "north", stop, pin_factory=pin_factory) as gate:
        db = gate.loop.db
        assert wait_for(lambda: any(e["kind"] == "camera_fault" for e in recent_events(db)), 10)
        assert gate.thread.is_alive()
        assert gate.camera.health().state in ("failed", "reconnecting")
    assert not any(change.state for change in pin_factory.pin(17).states)
    [fault] = recent_events(db)
    assert fault["decision"] == "none" and "no-such-folder" in fault["details"]["last_error"]
