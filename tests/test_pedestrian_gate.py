"""A whole pedestrian gate from config: real face models, a folder camera replaying real
photos, a real SQLite file, a FIFO keypad and MockFactory pins for the lock and door inputs.

What must hold: a resident opens and the lock relay releases once; a stranger is recorded as
face_unknown and the lock stays put; the console's manual open and health work through the
control socket; a resident enrolled while the gate runs is recognised within seconds; the
keypad works end to end; the exit button and a normally-closed fire input release the lock;
a missing PII key turns faces off (PIN and QR pass still open); ``menwei gate`` runs it as a
process and ``menwei relays-safe`` puts the lock relay at rest.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from gpiozero.pins.mock import MockFactory
from helpers import FACES, live_frames

from edge.cli.main import main
from edge.config import load_config
from edge.db import connect
from edge.events.record import recent_events
from edge.faces.detector import FaceDetector
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.assembly import pedestrian_gate
from edge.gates.control import send_gate_command
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident, set_pin
from edge.pii import PiiVault, create_key_file
from edge.store.open import open_store
from gate_drivers.door import rest_lock_relay

LOCK, CONTACT, EXIT, FIRE = 17, 22, 27, 5

CONFIG = """
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
[hardware]
pin_factory = "mock"
[recognition.faces]
dedupe_s = 30
[[gates]]
id = "east"
name = "East door"
kind = "pedestrian"
[gates.camera]
source = "frames"
replay_fps = 8
replay_every_frame = true
read_timeout_s = 5
[gates.lock]
relay_pin = {lock}
active_high = true
release_s = 0.5
[gates.door]
held_open_s = 30
[gates.door.contact]
pin = {contact}
debounce_s = 0.01
[gates.door.exit_button]
pin = {exit}
debounce_s = 0.01
[gates.door.fire_alarm]
pin = {fire}
debounce_s = 0.01
normally_closed = {nc}
[gates.keypad]
source = "keypad.fifo"
"""


@pytest.fixture(scope="module")
def recogniser(face_labels) -> FaceRecogniser:  # skips the module's tests without the photos
    return FaceRecogniser()


def write_frames(folder: Path, plan: list[tuple[str | None, int]]) -> None:
    """Numbered frames: each (photo file or None for an empty grey scene, frames). A photo
    is the person standing at the door alive (their head moving a little: a still photo
    replayed is what a photo attack looks like, and liveness refuses it)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = 0
    detector = FaceDetector()
    for number, (name, repeats) in enumerate(plan):
        if name:
            images = live_frames(detector, name, repeats, seed=number)
        else:
            images = [np.full((480, 640, 3), 90, np.uint8)] * repeats
        for image in images:
            cv2.imwrite(str(folder / f"{index:04d}.jpg"), image)
            index += 1


def make_site(
    tmp_path: Path, plan: list[tuple[str | None, int]], fire_normally_closed: bool = False
) -> Path:
    path = tmp_path / "menwei.toml"
    text = CONFIG.format(
        lock=LOCK, contact=CONTACT, exit=EXIT, fire=FIRE, nc=str(fire_normally_closed).lower()
    )
    path.write_text(text, encoding="utf-8")
    create_key_file(tmp_path / "pii.key")
    os.mkfifo(tmp_path / "keypad.fifo")
    write_frames(tmp_path / "frames", plan)
    return path


def enrol(db, path: Path, recogniser, photos: tuple[str, ...], household: str) -> int:
    vault = PiiVault.from_key_file(path.parent / "pii.key")
    rid = add_resident(db, vault, "Test Resident", household)
    images = [(n, read_image_file(FACES / n)) for n in photos]
    enrol_faces(db, vault, recogniser, rid, images, "admin", consent=True)
    return rid


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def kinds(db) -> list[tuple[str, str]]:
    return [(e["kind"], e["decision"]) for e in reversed(recent_events(db, 100))]


def releases(factory: MockFactory) -> int:
    """Times the (fail-safe, active-high) lock relay dropped: each is one release."""
    states = [s.state for s in factory.pin(LOCK).states]
    return sum(1 for a, b in itertools.pairwise(states) if a and not b)


def test_resident_opens_stranger_is_recorded_manual_open_and_health(
    tmp_path, recogniser, pin_factory
):
    path = make_site(tmp_path, [("fr_obama1.jpg", 8), (None, 4), ("fr_biden.jpg", 8), (None, 4)])
    config = load_config(path)
    db = open_store(config)
    enrol(db, path, recogniser, ("fr_obama.jpg", "fr_obama2.jpg"), "3-1-402")
    seen = []
    with pedestrian_gate(
        config,
        "east",
        threading.Event(),
        pin_factory=pin_factory,
        recogniser=recogniser,
        on_outcome=seen.append,
    ) as gate:
        assert gate.keypad is not None
        assert wait_for(lambda: {"face_passage", "face_unknown"} <= {k for k, _ in kinds(db)}, 30)
        assert releases(pin_factory) == 1, "the lock released for the resident only"
        confirm = {"cmd": "open", "operator": "guard1", "reason": "confirm", "plate": "皖A12345"}
        refused = send_gate_command(config.storage.run_dir, "east", confirm)
        assert refused == {
            "ok": False,
            "code": "no_plates",
            "error": "gate east reads no plates: nothing to confirm",
        }
        reply = send_gate_command(
            config.storage.run_dir,
            "east",
            {"cmd": "open", "operator": "guard1", "reason": "parcel"},
        )
        assert reply["ok"], reply
        assert wait_for(lambda: releases(pin_factory) == 2, 10)
        health = send_gate_command(config.storage.run_dir, "east", {"cmd": "health"})["health"]
        assert health["gate"] == "east" and health["templates"] == 2
        assert health["camera"]["state"] == "ok" and health["frames"] > 0
        assert health["lock"]["grants"] == 2 and health["fire_alarm"] is False
        assert health["last_decision"]["kind"] == "manual_open"
    events = kinds(db)
    assert ("face_passage", "open") in events and ("face_unknown", "deny") in events
    assert events.count(("manual_open", "open")) == 1, "the plate confirmation opened nothing"
    passage = next(e for e in recent_events(db, 100) if e["kind"] == "face_passage")
    assert passage["subject"] == "residents: resident 1 of household 3-1-402"
    assert "Test Resident" not in str(recent_events(db, 100))
    assert passage["snapshot_path"]
    assert not pin_factory.pin(LOCK).state, "lock relay at rest after the gate stopped"
    assert any(o.kind == "face_passage" and o.occurred_at for o in seen)


def test_resident_enrolled_while_running_is_recognised_within_seconds(
    tmp_path, recogniser, pin_factory
):
    path = make_site(tmp_path, [("fr_kit_harington_john2.jpeg", 4), (None, 2)])
    config = load_config(path)
    db = open_store(config)
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=pin_factory, recogniser=recogniser
    ) as gate:
        assert wait_for(lambda: ("face_unknown", "deny") in kinds(db), 20)
        assert gate.loop.health()["templates"] == 0
        other = connect(config.storage.database_path)  # like `menwei resident enrol-face`
        enrol(other, path, recogniser, ("fr_kit_harington_john1.jpeg",), "5-2-1101")
        assert wait_for(lambda: ("face_passage", "open") in kinds(db), 20)
        assert gate.loop.health()["templates"] == 1
        assert wait_for(lambda: releases(pin_factory) == 1, 5)


def test_keypad_exit_button_and_fire_alarm(tmp_path, recogniser, pin_factory):
    path = make_site(tmp_path, [(None, 2)], fire_normally_closed=True)
    config = load_config(path)
    db = open_store(config)
    rid = enrol(db, path, recogniser, ("fr_obama.jpg",), "3-1-402")
    set_pin(db, rid, "480915")
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=pin_factory, recogniser=recogniser
    ) as gate:
        # The mock pin starts pulled up: an open normally-closed contact, as with a cut wire.
        # That is a fire alarm from the first moment, recorded although the Door reported it
        # while still being built.
        assert wait_for(lambda: kinds(db) == [("fire_alarm", "open")], 5)
        assert not gate.door.lock.is_locked
        pin_factory.pin(FIRE).drive_low()  # the panel's contact closes: no alarm
        assert wait_for(lambda: ("fire_alarm_cleared", "none") in kinds(db), 5)
        assert gate.door.lock.is_locked
        pin_factory.pin(LOCK).clear_states()
        fd = os.open(tmp_path / "keypad.fifo", os.O_WRONLY)
        os.write(fd, f"{rid}*000001\n{rid}*480915#".encode())
        os.close(fd)
        assert wait_for(lambda: len([k for k in kinds(db) if k[0] == "pin_passage"]) == 2, 10)
        assert kinds(db)[2:] == [("pin_passage", "deny"), ("pin_passage", "open")]
        assert wait_for(lambda: releases(pin_factory) == 1, 10)
        pin_factory.pin(EXIT).drive_low()
        assert wait_for(lambda: ("exit_button", "open") in kinds(db), 5)
        pin_factory.pin(EXIT).drive_high()
        assert wait_for(lambda: gate.door.lock.is_locked, 3)
        pin_factory.pin(FIRE).drive_high()  # alarm: the contact opens
        assert wait_for(lambda: kinds(db).count(("fire_alarm", "open")) == 2, 5)
        time.sleep(0.8)  # longer than release_s: the fire hold keeps it released
        assert not gate.door.lock.is_locked
    pin_events = [e for e in recent_events(db, 100) if e["kind"] == "pin_passage"]
    assert all("480915" not in str(e) for e in pin_events), "PINs are never stored"


def test_missing_pii_key_turns_faces_off_and_says_so(tmp_path, recogniser, pin_factory):
    """The key seals face templates, not PIN hashes or passes: the door runs without it,
    faces off (strangers refused as ever), and its health names the key."""
    path = make_site(tmp_path, [(None, 1)])
    (tmp_path / "pii.key").unlink()
    config = load_config(path)
    with pedestrian_gate(config, "east", threading.Event(), pin_factory=pin_factory) as gate:
        assert gate.loop.recogniser is None and len(gate.loop.index) == 0
        assert "PII key unusable (faces off)" in gate.loop.health()["storage_fault"]


def test_rest_lock_relay_and_relays_safe_command(tmp_path, pin_factory):
    rest_lock_relay(LOCK, True, pin_factory)
    assert [s.state for s in pin_factory.pin(LOCK).states][-1] is False
    path = tmp_path / "menwei.toml"
    text = CONFIG.format(lock=LOCK, contact=CONTACT, exit=EXIT, fire=FIRE, nc="false")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["relays-safe", "east", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "lock relay at rest (fail_safe: door released)" in result.output


@pytest.mark.slow
def test_menwei_gate_process_runs_a_pedestrian_gate(tmp_path, recogniser):
    path = make_site(tmp_path, [("fr_obama1.jpg", 4), (None, 4)])
    db = open_store(load_config(path))
    enrol(db, path, recogniser, ("fr_obama.jpg", "fr_obama2.jpg"), "3-1-402")
    menwei = Path(sys.executable).parent / "menwei"
    assert shutil.which(str(menwei))
    process = subprocess.Popen(
        [str(menwei), "gate", "east", "-c", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert wait_for(lambda: ("face_passage", "open") in kinds(db), 60), "no passage"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "pedestrian gate east running" in output
    assert "OPEN  → lock released" in output and "lock relay at rest" in output
    assert "Test Resident" not in output, "names never reach the log"
