"""Liveness at the pedestrian door, through the real PedestrianGateLoop: real face and
liveness models, a real SQLite file, the door on MockFactory pins; the presentations are made
from the real fixture photos (edge.faces.liveness.synthetic: a live head turning a little, the
held-out photo of an enrolled resident printed, on a screen, on a phone), read in place.

What must hold: a live resident opens; a print, a screen replay or a phone of that resident
never opens and is a ``face_spoof_suspected`` event with its snapshot and cue parts; at
``required_or_pin`` the resident's bare PIN then opens (once, within the window); repeated
attempts raise ``face_spoof_repeated`` and pause faces but not the PIN; the alert reaches the
console in Chinese; a stranger and a resident outside their schedule stay refused; a missing
or altered liveness model takes faces off the door (PIN still opens), named in the log and on
the health page; ``off`` is off.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from gpiozero.pins.mock import MockFactory
from helpers import (
    FACES,
    PASSWORD,
    USERS,
    Clock,
    attack_frames,
    client_as,
    form_fields,
    live_frames,
    watch_problems,
)

from edge.box.health import GateHealth
from edge.cli.main import main
from edge.config import ConfigError, MenweiConfig, parse_config
from edge.config.liveness import IDENTITY, IrCameraConfig
from edge.db import connect
from edge.events.record import recent_events
from edge.faces.images import read_image_file
from edge.faces.liveness import models, synthetic
from edge.faces.liveness.checker import LivenessChecker
from edge.faces.liveness.infrared import IrGeometry
from edge.faces.liveness.stage import LivenessStage, StageSettings
from edge.faces.recogniser import FaceRecogniser
from edge.gates.assembly import pedestrian_gate
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident, set_pin
from edge.pii import PiiVault, create_key_file
from edge.policy.person import GateFacts, Schedule
from edge.store.snapshots import SnapshotStore
from edge.web.console.event_labels import vocabulary
from edge.web.console.health_view import gate_cells
from gate_drivers.door import Door, DoorLock

GATE = GateFacts("east", "pedestrian", (("residents", "always"), ("visitors", "always")))
PIN = "480915"
# enrolled from some photos, presented at the door with a photo not enrolled
PEOPLE = {
    "obama": (("fr_obama.jpg", "fr_obama2.jpg"), "fr_obama1.jpg"),
    "biden": (("fr_biden.jpg",), "fr_biden_biden2.jpg"),
    "rose_leslie": (("fr_rose_leslie_img1.jpg",), "fr_rose_leslie_img2.jpg"),
    "kit_harington": (("fr_kit_harington_john1.jpeg",), "fr_kit_harington_john2.jpeg"),
}


@pytest.fixture(scope="module")
def recogniser(face_labels) -> FaceRecogniser:  # skips the module without the photos
    for enrolled, shown in PEOPLE.values():
        for name in (*enrolled, shown):
            if not (FACES / name).is_file():
                pytest.skip(f"fixture photo {name} is absent from {FACES}")
    return FaceRecogniser()


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    return LivenessChecker()


class Door_:
    """The loop with its door, database, clock and people, for one test."""

    def __init__(self, tmp_path, recogniser, checker, mode="required", **stage) -> None:
        self.factory = MockFactory()
        self.db = connect(tmp_path / "menwei.db")
        self.db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
        vault = PiiVault(bytes(range(32)))
        self.ids = {}
        for who, (enrolled, _shown) in PEOPLE.items():
            rid = add_resident(self.db, vault, who, "3-1-402")
            photos = [(n, read_image_file(FACES / n)) for n in enrolled]
            enrol_faces(self.db, vault, recogniser, rid, photos, "admin", consent=True)
            set_pin(self.db, rid, PIN)
            self.ids[who] = rid
        lock = DoorLock(17, "fail_safe", 0.05, active_high=True, pin_factory=self.factory)
        self.door = Door(lock, lambda kind, details: None)
        self.clock = Clock()
        live = LivenessStage(StageSettings(mode=mode, **stage), checker)
        self.loop = PedestrianGateLoop(
            GATE,
            self.door,
            recogniser,
            self.db,
            vault,
            SnapshotStore(tmp_path / "snapshots", ZoneInfo("Asia/Shanghai")),
            PedestrianSettings(dedupe_s=1.0),
            clock=self.clock,
            liveness=live,
        )
        self.detector = recogniser.detector

    def show(self, frames: list[np.ndarray]) -> list[tuple[str, str]]:
        """Frames 0.2 s apart (the clock follows them), then 5 s of nobody."""
        seen = []
        for image in frames:
            self.clock.advance(seconds=0.2)
            seen += [(o.kind, o.decision) for o in self.loop.process_frame(image, self.clock())]
        self.clock.advance(seconds=5)
        return seen

    def grants(self) -> int:
        return self.door.lock.state().grants

    def close(self) -> None:
        self.door.close()
        self.factory.reset()
        self.db.conn.close()


@pytest.fixture
def door(tmp_path, recogniser, checker):
    made: list[Door_] = []

    def build(mode: str = "required", **stage) -> Door_:
        made.append(Door_(tmp_path / str(len(made)), recogniser, checker, mode, **stage))
        return made[-1]

    for sub in range(4):
        (tmp_path / str(sub)).mkdir()
    yield build
    for d in made:
        d.close()


def spoof_events(db) -> list[dict]:
    return [e for e in recent_events(db, 100) if e["kind"] == "face_spoof_suspected"]


def test_a_live_resident_opens_and_the_passage_keeps_its_liveness_score(door):
    d = door()
    seen = d.show(live_frames(d.detector, PEOPLE["obama"][1], 4, seed=0))
    assert seen == [("face_passage", "open")] and d.grants() == 1
    passage = recent_events(d.db, 1)[0]
    details = passage["details"]
    assert details["liveness_score"] >= details["liveness_threshold"]
    assert any(p.startswith("model ") for p in details["liveness_parts"])
    health = d.loop.health()["liveness"]
    assert health["mode"] == "required" and health["judged"] == 1 and health["refused"] == 0
    assert health["observe_ms_avg"] > 0 and health["judge_ms_avg"] > 0


@pytest.mark.parametrize("kind", ["screen", "phone_in_frame", "print_border"])
def test_a_screen_a_phone_or_a_print_of_the_resident_never_opens(door, kind):
    d = door()
    for seed, who in enumerate(("obama", "rose_leslie")):
        seen = d.show(attack_frames(d.detector, kind, PEOPLE[who][1], 4, seed=seed))
        assert ("face_passage", "open") not in seen, (kind, who, seen)
    assert d.grants() == 0 and d.door.lock.is_locked
    spoofs = spoof_events(d.db)
    assert spoofs, f"no {kind} was identified as the resident: nothing was judged"
    for event in spoofs:
        reasons = event["reasons"]
        assert reasons[0]["code"] == "liveness_failed" and "below" in reasons[0]["message"]
        assert event["decision"] == "deny" and event["snapshot_path"]
        assert event["subject"].startswith("resident ")
        details = event["details"]
        assert details["liveness_score"] < details["liveness_threshold"]
        assert details["liveness_parts"] and details["liveness_readings"]


def test_borderless_prints_are_mostly_refused_at_the_measured_rate(door):
    """A borderless print held by hand is the weakest case for one colour camera
    (BENCHMARKS.md: 0 % accepted on the bench's test seed since the tone cue, 5 % on a second
    held-out seed). Here: 4 residents x 2 prints; measured on this set (seeds fixed, threshold
    0.63 with the tone cue): all 8 identified the resident, 1 opened; at most 2 may."""
    d = door(repeat_count=1000)  # no pause between attempts: every print is judged
    opened = judged = 0
    for who in PEOPLE:
        for seed in (0, 1):
            seen = d.show(attack_frames(d.detector, "print", PEOPLE[who][1], 4, seed=seed))
            opened += ("face_passage", "open") in seen
            judged += any(k in ("face_passage", "face_spoof_suspected") for k, _ in seen)
    assert judged >= 4, "too few prints identified the resident to judge liveness"
    assert opened <= 2, f"{opened} of {judged} borderless prints opened"


def test_live_residents_pass_at_the_measured_rate(door):
    """4 residents x 3 live sequences (a held-out photo, the head turning a few degrees):
    measured 12 of 12 opening here with liveness required; the bench's BPCER is 3.3 %."""
    d = door()
    refused = []
    for who in PEOPLE:
        for seed in (0, 1, 2):
            seen = d.show(live_frames(d.detector, PEOPLE[who][1], 4, seed=seed))
            if ("face_passage", "open") not in seen:
                refused.append((who, seed, seen))
    assert len(refused) <= 1, refused
    assert not spoof_events(d.db) or len(spoof_events(d.db)) <= 1


def test_required_or_pin_takes_the_resident_bare_pin_once_within_the_window(door):
    d = door("required_or_pin", pin_s=20)
    assert d.loop.keypad_entry(PIN) is None  # no doubted face: a bare number means nothing
    seen = d.show(attack_frames(d.detector, "phone_in_frame", PEOPLE["obama"][1], 4, seed=3))
    assert seen == [("face_spoof_suspected", "deny")]
    spoof = spoof_events(d.db)[0]
    assert [r["code"] for r in spoof["reasons"]] == [
        "liveness_failed",
        "liveness_pin_requested",
    ]
    assert d.loop.health()["liveness"]["pin_waiting"]
    outcome = d.loop.keypad_entry(PIN)
    assert outcome is not None and (outcome.kind, outcome.decision) == ("pin_passage", "open")
    pin_event = recent_events(d.db, 1)[0]
    assert pin_event["related_event_id"] == spoof["id"]
    assert pin_event["details"]["resident_number"] == d.ids["obama"]
    assert d.loop.keypad_entry(PIN) is None, "one entry per doubted face"
    # a wrong PIN closes the window too; a late one finds none
    d.show(attack_frames(d.detector, "phone_in_frame", PEOPLE["obama"][1], 4, seed=4))
    assert d.loop.keypad_entry("000000").decision == "deny"
    assert d.loop.keypad_entry(PIN) is None
    d.show(attack_frames(d.detector, "phone_in_frame", PEOPLE["obama"][1], 4, seed=5))
    d.clock.advance(seconds=30)
    assert d.loop.keypad_entry(PIN) is None
    assert d.grants() == 1


def test_required_refuses_without_asking_for_a_pin(door):
    d = door("required")
    seen = d.show(attack_frames(d.detector, "screen", PEOPLE["biden"][1], 4, seed=1))
    assert ("face_passage", "open") not in seen
    assert d.loop.keypad_entry(PIN) is None
    assert d.loop.keypad_entry(f"{d.ids['biden']}*{PIN}").decision == "open"  # number*PIN


def test_repeated_attempts_raise_the_stronger_alert_and_pause_faces_not_the_pin(door):
    d = door("required", repeat_count=2, slow_s=60, repeat_window_s=600)
    phone = attack_frames(d.detector, "phone_in_frame", PEOPLE["obama"][1], 4, seed=3)
    assert d.show(phone) == [("face_spoof_suspected", "deny")]
    second = d.show(phone)
    assert second == [("face_spoof_suspected", "deny"), ("face_spoof_repeated", "none")]
    repeated = recent_events(d.db, 1)[0]
    assert repeated["related_event_id"] == spoof_events(d.db)[0]["id"]
    assert repeated["details"]["attempts"] == 2
    assert d.loop.health()["liveness"]["faces_paused_until"] is not None
    live = live_frames(d.detector, PEOPLE["obama"][1], 4, seed=0)
    assert d.show(live) == [], "faces are paused at this door"
    assert d.loop.keypad_entry(f"{d.ids['obama']}*{PIN}").decision == "open"
    d.clock.advance(seconds=120)
    assert d.show(live) == [("face_passage", "open")], "the pause ends"


def test_a_stranger_and_a_resident_outside_their_hours_stay_refused(door, tmp_path):
    d = door()
    stranger = live_frames(d.detector, "of_carell.jpg", 4, seed=0)
    assert d.show(stranger) == [("face_unknown", "deny")]
    closed = Schedule(("mon",))  # the test clock's day is a Sunday
    d.loop.settings = PedestrianSettings(dedupe_s=1.0, schedules=(("night", closed),))
    d.loop.gate = GateFacts("east", "pedestrian", (("residents", "night"),))
    seen = d.show(live_frames(d.detector, PEOPLE["obama"][1], 4, seed=0))
    assert seen == [("face_passage", "deny")] and d.grants() == 0


def test_the_spoof_alert_reaches_the_console_in_chinese(tmp_path, console_env, recogniser):
    env = console_env(tmp_path)
    db = connect(env["config"].storage.database_path)
    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    vault = PiiVault(bytes(range(32)))
    rid = add_resident(db, vault, "obama", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in PEOPLE["obama"][0]]
    enrol_faces(db, vault, recogniser, rid, photos, "admin", consent=True)
    factory = MockFactory()
    lock = DoorLock(17, "fail_safe", 0.05, active_high=True, pin_factory=factory)
    door_ = Door(lock, lambda kind, details: None)
    clock = Clock()
    loop = PedestrianGateLoop(
        GATE, door_, recogniser, db, vault, None, clock=clock,
        liveness=LivenessStage(StageSettings(), LivenessChecker()),
    )  # fmt: skip
    for image in attack_frames(recogniser.detector, "phone_in_frame", PEOPLE["obama"][1], 4, 3):
        clock.advance(seconds=0.2)
        loop.process_frame(image, clock())
    spoof = spoof_events(db)[0]
    html = client_as(env, "guard").get("/console/?lang=zh").text
    assert f'data-alert-id="{spoof["id"]}"' in html
    assert "疑似人脸伪造攻击" in html
    page = client_as(env, "guard").get(f"/events/{spoof['id']}?lang=zh").text
    assert "活体检测未通过" in page and "活体得分" in page
    door_.close()
    factory.reset()


def test_the_ir_camera_refuses_a_screen_that_fooled_nobody_else_and_passes_a_live_face(
    door, recogniser
):
    """With [gates.camera_ir]: the IR frame taken with each colour frame must show the face."""
    d = door()
    checker = LivenessChecker(
        ir=IrGeometry(synthetic.IR_CALIBRATION), ir_detector=recogniser.detector
    )
    frames_by_time: dict = {}
    stage = LivenessStage(StageSettings(), checker, lambda at: frames_by_time.get(at))
    d.loop.liveness = stage
    photo = read_image_file(FACES / PEOPLE["obama"][1])
    face = recogniser.detector.detect(photo)[0]
    rng = np.random.default_rng(2)
    for presentation, expected in (
        (synthetic.genuine(photo, face, 4, rng, "natural", nir=True), "face_passage"),
        (synthetic.attack("screen", photo, face, 4, rng, nir=True), "face_spoof_suspected"),
    ):
        seen = []
        for image, nir in zip(presentation.frames, presentation.nir, strict=True):
            d.clock.advance(seconds=0.2)
            frames_by_time[d.clock()] = nir
            seen += [o.kind for o in d.loop.process_frame(image, d.clock())]
        d.clock.advance(seconds=5)
        assert expected in seen, (presentation.kind, seen)
    spoof = spoof_events(d.db)[0]
    assert any(p.startswith("infrared ") for p in spoof["details"]["liveness_parts"])


# -- the gate from config ---------------------------------------------------------------------
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "pages"


def site(tmp_path, liveness: str = "") -> MenweiConfig:
    tmp_path.mkdir()
    create_key_file(tmp_path / "pii.key")
    (tmp_path / "frames").mkdir()
    return parse_config(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "security": {"pii_key_file": str(tmp_path / "pii.key")},
            "hardware": {"pin_factory": "mock"},
            "gates": [
                {
                    "id": "east",
                    "name": "East",
                    "kind": "pedestrian",
                    "camera": {"source": str(tmp_path / "frames")},
                    "lock": {"relay_pin": 17},
                    **({"liveness": {"mode": liveness}} if liveness else {}),
                }
            ],
        }
    )


def test_an_altered_liveness_model_takes_faces_off_the_door_and_pin_still_opens(
    tmp_path, recogniser, monkeypatch, caplog
):
    """A missing or altered model is named in the log and on the health page, and the door
    takes no faces (a face it cannot judge could be a photo); a resident's PIN still opens
    it, as on a door without faces."""
    folder = tmp_path / "models"
    shutil.copytree(models.MODEL_DIR, folder)
    spec = models.PASSIVE_MODELS[0]
    (folder / spec.file).write_bytes(b"not the model")
    monkeypatch.setattr(models, "MODEL_DIR", folder)
    factory = MockFactory()
    config = site(tmp_path / "required")
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=factory, recogniser=recogniser
    ) as gate:
        loop = gate.loop
        health = loop.health()["liveness"]
        assert spec.file in health["unavailable"]
        assert any(spec.file in r.getMessage() and "PIN" in r.getMessage() for r in caplog.records)
        enrolled, shown = PEOPLE["obama"]
        vault = PiiVault.from_key_file(config.security.pii_key_file)
        rid = add_resident(loop.db, vault, "obama", "3-1-402")
        photos = [(n, read_image_file(FACES / n)) for n in enrolled]
        enrol_faces(loop.db, vault, recogniser, rid, photos, "admin", consent=True)
        set_pin(loop.db, rid, PIN)
        loop.refresh_index()
        face = read_image_file(FACES / shown)
        now = loop.clock()
        seen = [o.kind for i in range(6) for o in loop.process_frame(face, now)]
        assert not [k for k in seen if k.startswith("face_")], "no face is even judged here"
        assert loop.keypad_entry(f"{rid}*{PIN}").decision == "open"
    factory.reset()
    config = site(tmp_path / "off", liveness="off")  # a door without liveness needs no model
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=factory, recogniser=recogniser
    ) as gate:
        assert gate.loop.health()["liveness"]["mode"] == "off"
        assert gate.loop.health()["liveness"]["unavailable"] is None
    factory.reset()


def test_a_door_with_an_ir_camera_starts_it_and_reports_it(tmp_path, recogniser):
    config = site(tmp_path / "ir")
    ir_frames = tmp_path / "ir" / "ir-frames"
    ir_frames.mkdir()
    cv2.imwrite(str(ir_frames / "0000.jpg"), np.full((480, 640, 3), 40, np.uint8))
    gate = config.gates[0].model_copy(
        update={"camera_ir": IrCameraConfig(source=str(ir_frames), colour_to_ir=IDENTITY)}
    )
    config = config.model_copy(update={"gates": [gate]})
    factory = MockFactory()
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=factory, recogniser=recogniser
    ) as running:
        assert running.ir_camera is not None
        assert running.ir_camera.wait_for_frame(-1, 10) is not None
        health = running.loop.health()["liveness"]
        assert health["infrared"] is True and health["ir_camera"]["state"] in ("ok", "starting")
    factory.reset()


def test_liveness_sections_belong_to_pedestrian_gates_and_a_bad_matrix_is_refused(tmp_path):
    vehicle = {
        "id": "north",
        "name": "North",
        "kind": "vehicle",
        "camera": {"source": "frames"},
        "barrier": {"open_pin": 5},
    }
    with pytest.raises(ConfigError, match=r"\[gates.liveness\] is for pedestrian gates"):
        parse_config({"gates": [{**vehicle, "liveness": {"mode": "off"}}]})
    door_ = {
        "id": "east",
        "name": "East",
        "kind": "pedestrian",
        "camera": {"source": "frames"},
        "lock": {"relay_pin": 17},
    }
    flat = [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    with pytest.raises(ConfigError, match="invertible"):
        parse_config({"gates": [{**door_, "camera_ir": {"source": "usb:1", "colour_to_ir": flat}}]})
    with pytest.raises(ConfigError, match="mode"):
        parse_config({"gates": [{**door_, "liveness": {"mode": "maybe"}}]})
    assert parse_config({"gates": [door_]}).gates[0].door_liveness.mode == "required"


def test_off_is_off_a_still_photo_opens_as_before(door):
    d = door("off")
    photo = read_image_file(FACES / PEOPLE["obama"][1])
    assert d.show([photo] * 3) == [("face_passage", "open")]
    assert d.loop.health()["liveness"]["judged"] == 0


def test_the_health_page_shows_the_door_liveness_time_and_refusals(tmp_path, console_env):
    env = console_env(tmp_path)
    live = {"mode": "required", "observe_ms_avg": 66.2, "judged": 3, "refused": 1}
    door_ = GateHealth("east", "East", "pedestrian", True, recogniser_ms=140.0, liveness=live)
    off = GateHealth("west", "West", "pedestrian", True, liveness={"mode": "off"})
    with env["app"].test_request_context("/?lang=en"):
        assert gate_cells(door_)["east.recogniser"][0] == (
            "140 ms · liveness 66 ms, 1 of 3 faces refused"
        )
        assert gate_cells(off)["west.recogniser"][0] == "— · liveness off"
        broken = GateHealth(
            "north", "North", "pedestrian", True, liveness={"mode": "required", "unavailable": "x"}
        )
        text, level = gate_cells(broken)["north.recogniser"]
        assert level == "bad" and "faces do not open this door" in text
    with env["app"].test_request_context("/?lang=zh"):
        assert "活体检测 66 毫秒，3 次中拒绝 1 次" in gate_cells(door_)["east.recogniser"][0]


class _IrCamera:
    """An IR camera's health as gate_drivers.camera reports it, set by the test."""

    def __init__(self) -> None:
        self.state = "ok"

    def health(self):
        return type("Health", (), {"state": self.state, "last_error": "no frame for 5 s"})()

    def wait_for_frame(self, after_seq, timeout_s):
        return None


def test_a_lost_ir_camera_is_a_console_alert_and_takes_faces_off_the_door_not_the_pin(
    door, recogniser, tmp_path, console_env
):
    """The IR camera a door requires drops: one camera_fault alert naming the infrared
    camera, faces do not open (not even judged: no false spoof alerts), the PIN does; when it
    is back, camera_recovered and faces open again."""
    d = door()
    frames_by_time: dict = {}
    checker = LivenessChecker(
        ir=IrGeometry(synthetic.IR_CALIBRATION), ir_detector=recogniser.detector
    )
    d.loop.liveness = LivenessStage(StageSettings(), checker, lambda at: frames_by_time.get(at))
    ir = _IrCamera()
    d.loop.ir_camera = ir
    photo = read_image_file(FACES / PEOPLE["obama"][1])
    face = recogniser.detector.detect(photo)[0]

    def live_face(seed: int) -> list[str]:
        shown = synthetic.genuine(photo, face, 4, np.random.default_rng(seed), "natural", nir=True)
        seen = []
        for image, nir in zip(shown.frames, shown.nir, strict=True):
            d.clock.advance(seconds=0.2)
            frames_by_time[d.clock()] = nir if ir.state == "ok" else None
            seen += [o.kind for o in d.loop.process_frame(image, d.clock())]
        d.clock.advance(seconds=5)
        return seen

    d.loop.watch_ir_camera()
    ir.state = "stalled"
    d.loop.watch_ir_camera()
    d.loop.watch_ir_camera()  # once per change, not per check
    faults = [e for e in recent_events(d.db, 50) if e["kind"] == "camera_fault"]
    assert len(faults) == 1 and faults[0]["reasons"][0]["params"]["camera"] == "infrared"
    assert d.loop.liveness_health()["ir_fault"] == "stalled"
    assert live_face(5) == []  # no passage and no spoof alert: faces are off
    assert not spoof_events(d.db)
    outcome = d.loop.keypad_entry(f"{d.ids['obama']}*{PIN}")
    assert outcome is not None and (outcome.kind, outcome.decision) == ("pin_passage", "open")
    ir.state = "ok"
    d.loop.watch_ir_camera()
    kinds = [e["kind"] for e in recent_events(d.db, 50)]
    assert "camera_recovered" in kinds and d.loop.liveness_health()["ir_fault"] is None
    assert "face_passage" in live_face(6)

    env = console_env(tmp_path / "console")
    with env["app"].test_request_context("/?lang=zh"):
        assert "红外摄像头" in vocabulary().reason_text(faults[0]["reasons"][0])
        down = {"mode": "required", "ir_fault": "failed"}
        text, level = gate_cells(GateHealth("east", "East", "pedestrian", True, liveness=down))[
            "east.recogniser"
        ]
        assert level == "bad" and "红外摄像头" in text


def test_enrolment_by_capture_from_the_door_refuses_a_phone_and_takes_a_live_face(
    tmp_path, recogniser
):
    """``menwei resident enrol-face --from-gate``: the gate's camera is watched through its
    control socket and judged by the door's own liveness check; a phone held up to it is
    refused with no picture handed out, a live face comes back as a frame that enrols."""
    import click

    from edge.cli.people import capture_from_gate
    from edge.gates.control import send_gate_command

    config = site(tmp_path / "capture")
    frames = tmp_path / "capture" / "frames"
    detector = recogniser.detector
    shown = PEOPLE["obama"][1]
    factory = MockFactory()

    def show(images: list[np.ndarray]) -> None:
        for old in frames.iterdir():
            old.unlink()
        for i, image in enumerate(images):
            cv2.imwrite(str(frames / f"{i:04d}.png"), image)

    show(attack_frames(detector, "phone_in_frame", shown, 5, seed=3))
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=factory, recogniser=recogniser
    ) as running:
        run_dir = config.storage.run_dir
        reply = send_gate_command(run_dir, "east", {"cmd": "capture", "seconds": 6}, 40)
        assert reply["ok"] and reply["live"] is False and reply["why"] == "not_live", reply
        assert "photo_jpeg_b64" not in reply and reply["frames"] >= 2
        with pytest.raises(click.ClickException, match="not judged a live person"):
            capture_from_gate(config, "east")
        bad = send_gate_command(run_dir, "east", {"cmd": "capture", "seconds": 99})
        assert not bad["ok"] and "between 1 and 10" in bad["error"]
        del running
    factory.reset()
    show(live_frames(detector, shown, 5, seed=1))
    with pedestrian_gate(
        config, "east", threading.Event(), pin_factory=factory, recogniser=recogniser
    ) as running:
        vault = PiiVault.from_key_file(config.security.pii_key_file)
        rid = add_resident(running.loop.db, vault, "obama", "3-1-402")
        folder = tmp_path / "capture"
        toml = folder / "menwei.toml"
        toml.write_text(
            f'[storage]\ndata_dir = "{folder / "data"}"\n'
            f'[security]\npii_key_file = "{folder / "pii.key"}"\n'
            '[hardware]\npin_factory = "mock"\n'
            '[[gates]]\nid = "east"\nname = "East"\nkind = "pedestrian"\n'
            f'[gates.camera]\nsource = "{frames}"\n[gates.lock]\nrelay_pin = 17\n',
            encoding="utf-8",
        )
        args = ["resident", "enrol-face", str(rid), "--from-gate", "east", "--consent-by", "a"]
        result = CliRunner().invoke(main, [*args, "-c", str(toml)])
        assert result.exit_code == 0, result.output
        score = re.search(r"liveness score of the capture: ([01]\.\d\d)", result.output)
        assert score and float(score.group(1)) >= running.loop.liveness.threshold, result.output
        row = running.loop.db.execute(
            "SELECT actor, target, details FROM audit_log WHERE action = 'face_enrol'"
        ).fetchone()
        assert row[:2] == ("cli", f"resident:{rid}"), row  # the console's audit row, by the CLI
        details = json.loads(row[2])
        assert details["captured_at_gate"] == "east" and len(details["templates"]) == 1
        assert details["liveness_scores"] == [float(score.group(1))], details
    factory.reset()


def _nonce(html: str, form_id: str) -> str:
    form = html[html.index(f'id="{form_id}"') :]
    return re.search(r'name="form_nonce" value="([^"]+)"', form).group(1)


def test_the_console_captures_at_the_door_and_refuses_a_phone_held_up(
    tmp_path, recogniser, console_env
):
    """The resident page's "capture at the door": the running gate judges its camera; a
    phone held up is refused (zh reason, nothing stored), a live face enrols with its score
    shown in words; a gate that is not running is a clear error."""
    config = site(tmp_path / "site")
    frames = tmp_path / "site" / "frames"
    env = console_env(tmp_path / "console", config=config)
    admin = client_as(env, "admin")
    page = admin.get("/people/new").text
    fields = {**form_fields(page), "name": "王小明", "household": "3-1-402", "group": "residents"}
    created = admin.post("/people/new", data=fields)
    rid = int(re.search(r"/people/(\d+)", created.headers["Location"]).group(1))

    def capture() -> Any:
        html = admin.get(f"/people/{rid}").text
        assert 'id="capture-form"' in html
        data = {
            "csrf_token": form_fields(html)["csrf_token"],
            "form_nonce": _nonce(html, "capture-form"),
            "gate": "east",
            "consent": "yes",
        }
        return admin.post(f"/people/{rid}/faces/capture?lang=zh", data=data)

    down = capture()
    assert down.status_code == 409 and "未运行" in down.text
    detector, shown = recogniser.detector, PEOPLE["obama"][1]
    factory = MockFactory()
    for i, image in enumerate(attack_frames(detector, "phone_in_frame", shown, 5, seed=3)):
        cv2.imwrite(str(frames / f"{i:04d}.png"), image)
    with pedestrian_gate(config, "east", threading.Event(), pin_factory=factory,
                         recogniser=recogniser):  # fmt: skip
        refused = capture()
        assert refused.status_code == 422 and "采集被拒绝" in refused.text, refused.text
    factory.reset()
    for old in frames.iterdir():
        old.unlink()
    for i, image in enumerate(live_frames(detector, shown, 5, seed=1)):
        cv2.imwrite(str(frames / f"{i:04d}.png"), image)
    with pedestrian_gate(config, "east", threading.Event(), pin_factory=factory,
                         recogniser=recogniser):  # fmt: skip
        taken = capture()
        assert taken.status_code == 303, taken.text
    factory.reset()
    db = connect(config.storage.database_path)
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 1
    page = admin.get(taken.headers["Location"] + "&lang=zh").text
    assert "照片活体检查" in page


def test_the_door_capture_form_fits_a_phone_in_chinese(
    tmp_path, console_env, served, launch_chromium
):
    """The resident page's capture at the door on a 390 px phone in zh: nothing wider than
    the screen, the door listed by its name, the button whole on the screen (a screenshot
    is kept in test-artifacts/pages/ for a person to look at)."""
    from playwright.sync_api import sync_playwright

    config = site(tmp_path / "site")
    env = console_env(tmp_path / "console", config=config, resident_household="3-1-402")
    rid = env["resident_id"]
    with served(env["app"]) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        problems = watch_problems(page)
        page.goto(f"{base}/login?lang=zh")
        page.fill("input[name=username]", USERS["admin"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"{base}/people/{rid}?lang=zh")
        form = page.locator("#capture-form")
        form.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        form.screenshot(path=str(ARTIFACTS / "capture-form-phone-zh.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator("#capture-gate option").first.inner_text() == "East"
        button = page.locator("#capture").bounding_box()
        assert button and button["x"] >= 0 and button["x"] + button["width"] <= 390, button
        assert "在门口采集" in page.locator("#capture").inner_text()
        # the capture takes seconds: one tap, then the button waits (no second capture);
        # the post is held back here to look at the button (the capture tests post it)
        page.check("#capture-form input[name=consent]")
        page.evaluate(
            "document.getElementById('capture-form')"
            ".addEventListener('submit', e => e.preventDefault())"
        )
        page.click("#capture")
        page.wait_for_function("document.getElementById('capture').disabled")
        browser.close()
    assert problems == [], problems
