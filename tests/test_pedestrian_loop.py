"""Pedestrian gate loop on real faces, mock pins and a real SQLite file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
import qrcode
from gpiozero.pins.mock import MockFactory
from helpers import FACES

from edge.db import connect
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.people.passes import issue_pass
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident, set_pin
from edge.pii import PiiVault
from edge.policy.person import GateFacts
from gate_drivers.door import Door, DoorLock
from gate_drivers.inputs import DebouncedInput

GATE = GateFacts("east-door", "pedestrian", (("residents", "always"), ("visitors", "always")))


@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


@pytest.fixture
def gate(tmp_path, recogniser, face_labels):
    factory = MockFactory()
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('east-door', 'East', 'pedestrian', 'x')")
    vault = PiiVault(bytes(range(32)))
    rid = add_resident(db, vault, "Resident", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    enrol_faces(db, vault, recogniser, rid, photos, "admin", consent=True)
    holder: dict = {}
    lock = DoorLock(17, "fail_safe", 0.5, active_high=True, pin_factory=factory)
    contact = DebouncedInput(22, factory, debounce_s=0.01, name="contact")
    door = Door(lock, lambda k, d: holder["loop"].door_event(k, d), contact=contact)
    loop = PedestrianGateLoop(GATE, door, recogniser, db, vault, None, PedestrianSettings())
    holder["loop"] = loop
    yield loop, door, db, rid, factory
    door.close()
    factory.reset()


def frames(image, n, start):
    return [(image, start + timedelta(seconds=0.2 * k)) for k in range(n)]


def events(db):
    return [
        (k, d, json.loads(r))
        for k, d, r in db.execute("SELECT kind, decision, reasons FROM events")
    ]


def test_enrolled_face_opens_after_agreeing_frames_and_stranger_is_recorded(gate):
    loop, door, db, _rid, _ = gate
    t0 = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)
    resident = read_image_file(FACES / "fr_obama1.jpg")
    outcomes = [o for img, at in frames(resident, 2, t0) for o in loop.process_frame(img, at)]
    assert outcomes == [] and door.lock.is_locked  # two frames are not enough
    outcomes = loop.process_frame(resident, t0 + timedelta(seconds=0.4))
    assert [o.decision for o in outcomes] == ["open"] and not door.lock.is_locked
    stranger = read_image_file(FACES / "fr_biden.jpg")
    start = t0 + timedelta(seconds=30)
    outcomes = [o for img, at in frames(stranger, 3, start) for o in loop.process_frame(img, at)]
    assert [(o.kind, o.decision) for o in outcomes] == [("face_unknown", "deny")]
    kinds = [(k, d) for k, d, _ in events(db)]
    assert kinds == [("face_passage", "open"), ("face_unknown", "deny")]


def test_black_and_broken_frames_never_open(gate):
    loop, door, db, *_ = gate
    t0 = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)
    for k in range(5):
        assert (
            loop.process_frame(np.zeros((480, 640, 3), np.uint8), t0 + timedelta(seconds=k)) == []
        )
    assert loop.process_frame(np.zeros((10, 10), np.uint8), t0) == []
    assert loop.stats.frame_errors == 1
    assert door.lock.is_locked and events(db) == []


def test_pin_and_qr_pass_are_ways_in_without_a_face(gate):
    loop, _door, db, rid, _ = gate
    set_pin(db, rid, "480915")
    assert loop.keypad_entry(f"{rid}*000000").decision == "deny"
    assert loop.keypad_entry(f"{rid}*480915").decision == "open"
    assert loop.keypad_entry("garbage") is None
    now = datetime.now(UTC)
    _, token = issue_pass(
        db, "visitor of 3-1-402", now - timedelta(minutes=1), now + timedelta(hours=1), 1
    )
    canvas = np.full((480, 640, 3), 255, np.uint8)
    qr = cv2.QRCodeEncoder.create().encode(token)
    scale = 300 // qr.shape[0]  # whole pixels per module, as a phone screen shows it
    qr = cv2.resize(qr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    h, w = qr.shape
    canvas[90 : 90 + h, 170 : 170 + w] = cv2.cvtColor(qr, cv2.COLOR_GRAY2BGR)
    out = loop.process_frame(canvas, now)
    assert [(o.kind, o.decision) for o in out] == [("qr_pass", "open")]
    assert loop.process_frame(canvas, now + timedelta(seconds=1)) == []  # same pass held up
    out = loop.process_frame(canvas, now + timedelta(seconds=20))
    assert [(o.kind, o.decision) for o in out] == [("qr_pass", "deny")]  # single use spent


def test_a_pass_held_up_longer_than_the_quiet_time_is_one_showing_not_a_second_use(gate):
    """A visitor who keeps the phone raised (or a door whose frames come slowly) must not
    be told the pass is used up while walking through on it: each sighting of the same pass
    extends its quiet time; only a pass shown again after it left view is a new showing."""
    loop, _door, db, _rid, _ = gate
    now = datetime.now(UTC)
    _, token = issue_pass(
        db, "visitor of 3-1-402", now - timedelta(minutes=1), now + timedelta(hours=1), 1
    )
    canvas = np.full((480, 640, 3), 255, np.uint8)
    qr = cv2.QRCodeEncoder.create().encode(token)
    scale = 300 // qr.shape[0]
    qr = cv2.resize(qr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    h, w = qr.shape
    canvas[90 : 90 + h, 170 : 170 + w] = cv2.cvtColor(qr, cv2.COLOR_GRAY2BGR)
    quiet = loop.settings.dedupe_s
    held = [now + timedelta(seconds=k * quiet * 0.8) for k in range(6)]  # 4 quiet times long
    out = [o for at in held for o in loop.process_frame(canvas, at)]
    assert [(o.kind, o.decision) for o in out] == [("qr_pass", "open")]
    blank = np.full((480, 640, 3), 255, np.uint8)
    assert loop.process_frame(blank, held[-1] + timedelta(seconds=1)) == []
    again = held[-1] + timedelta(seconds=quiet + 1)  # out of view for longer than quiet time
    out = loop.process_frame(canvas, again)
    assert [(o.kind, o.decision) for o in out] == [("qr_pass", "deny")]
    kinds = [(k, d) for k, d, _ in events(db)]
    assert kinds == [("qr_pass", "open"), ("qr_pass", "deny")]


def test_pin_lockout_after_repeated_failures(gate):
    loop, _, db, rid, _ = gate
    set_pin(db, rid, "480915")
    for _ in range(5):
        loop.keypad_entry(f"{rid}*111112")
    assert loop.keypad_entry(f"{rid}*480915").decision == "deny"  # locked out


def test_forced_door_is_an_event(gate):
    _loop, _door, db, _, factory = gate
    factory.pin(22).drive_low()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not events(db):
        time.sleep(0.02)
    assert [(k, d) for k, d, _ in events(db)] == [("door_forced", "none")]


def test_a_pass_code_opencvs_default_reader_misses_is_still_read(gate, monkeypatch):
    """About 1 in 100 pass codes is not read by OpenCV's default QR reader even as a clean
    image; the door reads those with its second (ArUco-based) reader."""
    loop, _door, db, _rid, _ = gate
    missed = "KILEyuI0T0yxTNmNXyqzs7x2mBXbH-Wb"  # found by search: the default reader fails
    monkeypatch.setattr("edge.people.passes.secrets.token_urlsafe", lambda n: missed)
    now = datetime.now(UTC)
    _, token = issue_pass(
        db, "visitor of 3-1-402", now - timedelta(minutes=1), now + timedelta(hours=1), 1
    )
    assert token.endswith(missed)
    image = qrcode.make(token, box_size=8, border=4).get_image().convert("RGB")
    code = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # as the pass's PNG shows it
    canvas = np.full((480, 640, 3), 255, np.uint8)
    h, w = code.shape[:2]
    canvas[(480 - h) // 2 : (480 - h) // 2 + h, (640 - w) // 2 : (640 - w) // 2 + w] = code
    assert cv2.QRCodeDetector().detectAndDecode(canvas)[0] == "", "still a code it misses"
    out = loop.process_frame(canvas, now)
    assert [(o.kind, o.decision) for o in out] == [("qr_pass", "open")]
