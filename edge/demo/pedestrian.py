"""The pedestrian half of ``menwei demo``: a door on mock pins, a camera replaying a doorway.

The door's people go in through the same library calls a box's operator uses
(edge.people.residents.add_resident, enrol_face_files, set_pin;
edge.people.passes.issue_pass), the gate is
the one edge.gates.assembly.pedestrian_gate builds from the demo's config (real face models, real
event store, the real keypad driver on a FIFO, the real door state machine), and the story
is: a resident's live face opens the door; another photo of that resident shown on a phone is
refused as a suspected spoof (liveness), and the resident's PIN then opens; a stranger's face
is refused and recorded; a visitor's QR pass and a resident's PIN open it without any face,
then the exit button, a door held open, a forced door and a fire alarm on the mock input pins.

The resident at the door and the phone are made from the same held-out photo by
edge.faces.liveness.synthetic: the live head turns a little before its own still background
(a still photo pasted into the doorway would be, to the liveness cues, exactly a cut-out
print), the phone is held by hand with its body in view.

Faces need real photos, which no package ships (edge.demo.faces); without them the story
runs without its two face steps and says why.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sqlite_utils
from gpiozero.pins.mock import MockFactory

from edge.config import MenweiConfig
from edge.db import utc_now
from edge.demo.config import DOOR_GATE
from edge.demo.door_frames import Segment, largest_face, person_frames, qr_frames, write_frames
from edge.demo.door_script import DoorActor, OutcomeFeed, keypad_fifo, wait_for_frame
from edge.demo.faces import FaceCast, find_cast
from edge.demo.narration import told, who
from edge.errors import Phrase
from edge.faces.configured import face_recogniser
from edge.faces.images import ImageInputError, read_image_file
from edge.faces.liveness import synthetic
from edge.faces.recogniser import FaceRecogniser
from edge.gates.assembly import pedestrian_gate
from edge.gates.runner import GateOutcome
from edge.people.passes import issue_pass
from edge.people.resident_faces import FaceEnrolmentError, enrol_face_files
from edge.people.residents import (
    add_resident,
    list_residents,
    remove_resident,
    resident_fact,
    set_pin,
)
from edge.pii import PiiVault, create_key_file
from edge.vocabulary import N_

FACE_HOUSEHOLD, PIN_HOUSEHOLD = "3-1-402", "5-2-1101"
PIN, WRONG_PIN = "480915", "135792"  # demo data; a real PIN is never printed or stored plain
FACE_PIN = "602714"  # the face resident's
PERSON_FRAMES, QR_FRAMES = 7, 6  # one 4-frame agreement (demo config) with frames to spare
TAIL_S = 40.0  # empty doorway long enough for the door steps, so the replay never loops
Echo = Callable[[str], None]


@dataclass(frozen=True)
class DoorPeople:
    face_label: str | None  # "resident 1 of household 3-1-402", None when faces are skipped
    photos: int
    pin_id: int
    pin_label: str
    token: str  # the visitor's QR pass, shown once (only its hash is stored)
    pass_label: str


def _resident(
    db: sqlite_utils.Database, vault: PiiVault, household: str, name: str
) -> dict[str, Any]:
    """The demo resident of ``household`` (made once; ``--keep`` finds it again)."""
    for row in list_residents(db):  # without the vault: no names
        if row["household"] == household:
            return row
    rid = add_resident(db, vault, name, household)
    return {"id": rid, "templates": 0}


def _enrol(
    db: sqlite_utils.Database, vault: PiiVault, recogniser: FaceRecogniser, cast: FaceCast
) -> tuple[int | None, int, str]:
    """Enrol the cast's resident; refused photos are left out. (resident, photos, why not)."""
    row = _resident(db, vault, FACE_HOUSEHOLD, "演示住户 甲")
    if row["templates"]:
        return row["id"], row["templates"], ""
    photos, codes = list(cast.enrol), ""
    for _ in range(2):  # once with every photo, once without the refused ones
        try:
            enrol_face_files(db, vault, recogniser, row["id"], photos, "demo operator", True)
            return row["id"], len(photos), ""
        except FaceEnrolmentError as exc:
            codes = ", ".join(sorted({r.code for r in exc.refused}))
            refused = {r.index for r in exc.refused}
            photos = [p for i, p in enumerate(photos) if i not in refused]
            if not photos:
                break
    remove_resident(db, row["id"])
    return None, 0, Phrase("enrolment refused every photo of the chosen person (%(codes)s)",
                           codes=codes)  # fmt: skip


def seed_people(
    db: sqlite_utils.Database, vault: PiiVault, recogniser: FaceRecogniser, cast: FaceCast | None
) -> tuple[DoorPeople, str]:
    """The door's people; returns them and why faces are skipped ("" when they are not)."""
    face_id, photos, why = _enrol(db, vault, recogniser, cast) if cast else (None, 0, "")
    if face_id is not None:
        set_pin(db, face_id, FACE_PIN)  # asked for when the door doubts their face
    pin_row = _resident(db, vault, PIN_HOUSEHOLD, "演示住户 乙")
    set_pin(db, pin_row["id"], PIN)
    now = utc_now()
    label = f"visitor of {PIN_HOUSEHOLD}"
    _, token = issue_pass(db, label, now - timedelta(minutes=1), now + timedelta(hours=8), 1)

    def name(rid: int) -> str:
        fact = resident_fact(db, rid)
        return fact.label if fact else f"resident {rid}"

    face_label = name(face_id) if face_id is not None else None
    return DoorPeople(face_label, photos, pin_row["id"], name(pin_row["id"]), token, label), why


@dataclass(frozen=True)
class FaceViews:
    resident: list[np.ndarray]  # the resident alive at the door
    phone: list[np.ndarray]  # the same photo of the resident on a phone held up
    stranger: list[np.ndarray]


def _face_views(recogniser: FaceRecogniser, cast: FaceCast) -> tuple[FaceViews | None, str]:
    """Door-camera frames of the resident's held-out photo (alive, and on a phone) and of
    the stranger; None and why when a photo cannot be used."""
    photos = []
    for path in (cast.replay, cast.stranger):
        try:
            photo = read_image_file(path)
        except ImageInputError:  # its message may name the file, and so the person
            return None, Phrase("a chosen photo is unreadable")
        faces = recogniser.detector.detect(photo)
        if not faces:
            return None, Phrase("the detector finds no face in a chosen photo")
        photos.append((photo, faces[0]))
    (resident, face), (stranger, _) = photos
    rng = np.random.default_rng(16)
    box = largest_face(recogniser.detector, stranger)
    assert box is not None  # the detector found it just above
    return FaceViews(
        synthetic.genuine(resident, face, PERSON_FRAMES, rng, "natural").frames,
        synthetic.attack("phone_in_frame", resident, face, PERSON_FRAMES, rng).frames,
        person_frames(stranger, box, PERSON_FRAMES, seed=100),
    ), ""


@dataclass(frozen=True)
class DoorScene:
    """Everything prepared before the gate starts: its people and its camera's frames."""

    people: DoorPeople
    faces_skipped: str  # why, or "" when the face steps run
    faces_from: Path | None
    segments: list[Segment]
    frames: int


def prepare_door(
    config: MenweiConfig,
    db: sqlite_utils.Database,
    recogniser: FaceRecogniser,
    faces: Path | None,
    fps: float,
) -> DoorScene:
    """PII key, people, the camera's frames and the keypad FIFO for the demo's door."""
    gate = config.gate(DOOR_GATE)
    assert gate.lock is not None and gate.keypad is not None  # the demo config has them
    key = config.security.pii_key_file
    if not key.exists():
        create_key_file(key)  # names and face templates are stored encrypted with it
    vault = PiiVault.from_key_file(key)
    cast, why = find_cast(faces)
    views = None
    if cast is not None:
        views, why = _face_views(recogniser, cast)
    people, enrol_why = seed_people(db, vault, recogniser, None if why else cast)
    why = why or enrol_why
    plan = []
    if not why and views is not None:
        plan = [("resident", views.resident), ("phone", views.phone), ("stranger", views.stranger)]
    plan.append(("visitor", qr_frames(people.token, QR_FRAMES)))
    gap = math.ceil((gate.lock.release_s + 0.2) * fps)  # the lock is back before the next
    lead, tail = math.ceil(0.6 * fps), math.ceil(TAIL_S * fps)
    segments, total = write_frames(Path(gate.camera.source), plan, lead, gap, tail)
    keypad_fifo(gate.keypad.source)
    return DoorScene(people, why, cast.folder if cast and not why else None, segments, total)


def _introduce(scene: DoorScene, config: MenweiConfig, fps: float, echo: Echo) -> None:
    gate = config.gate(DOOR_GATE)
    assert gate.lock is not None
    people = scene.people
    echo("\n" + told(
        "Pedestrian gate %(gate)s: camera replays %(frames)s frames of a doorway at %(fps)s fps;"
        " lock relay on mock GPIO%(pin)s (fail-safe maglock: energised = locked); door contact,"
        " exit button and fire alarm on mock inputs; keypad on a FIFO",
        gate=DOOR_GATE, frames=scene.frames, fps=f"{fps:g}", pin=gate.lock.relay_pin,
    ))  # fmt: skip
    visitor = told("a one-use QR pass for a %(who)s", who=who(people.pass_label))
    if scene.faces_skipped:
        echo(told("Faces skipped: %(why)s.", why=scene.faces_skipped))
        echo(told("Door community: %(pin)s (PIN), %(visitor)s", pin=who(people.pin_label),
                  visitor=visitor))  # fmt: skip
        echo(told("The door runs with PIN, QR pass and door events only.") + "\n")
    else:
        echo(told(
            "Door community: %(face)s (face: %(photos)s photo(s) enrolled with consent),"
            " %(pin)s (PIN), %(visitor)s", face=who(people.face_label), photos=people.photos,
            pin=who(people.pin_label), visitor=visitor,
        ))  # fmt: skip
        echo(told(
            "Face photos read from %(folder)s: enrolled from some, another one of the same person"
            " replayed at the door, and a stranger", folder=scene.faces_from,
        ) + "\n")  # fmt: skip


def run_pedestrian_demo(
    config: MenweiConfig,
    db: sqlite_utils.Database,
    factory: MockFactory,
    faces: Path | None,
    echo: Echo,
    fps: float,
) -> list[GateOutcome]:
    """Run the door's story once through a real pedestrian gate; returns its outcomes."""
    quiet = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # DNN notes on model load
    try:
        recogniser = face_recogniser(config.recognition.faces)
    finally:
        cv2.utils.logging.setLogLevel(quiet)
    scene = prepare_door(config, db, recogniser, faces, fps)
    _introduce(scene, config, fps, echo)
    people = scene.people
    feed = OutcomeFeed(echo, config.site.zone)
    stop = threading.Event()
    with pedestrian_gate(
        config, DOOR_GATE, stop, db=db, pin_factory=factory, on_outcome=feed, recogniser=recogniser
    ) as gate:
        actor = DoorActor(config.gate(DOOR_GATE), factory, feed, echo, gate.door.grace_s)
        face = who(people.face_label)
        seen = {
            "resident": (told("%(who)s walks up (a photo not enrolled)", who=face),
                         "face_passage"),
            "phone": (told("someone holds up a phone showing that photo of %(who)s", who=face),
                      "face_spoof_suspected"),
            "stranger": (told("a stranger walks up (nobody enrolled)"), "face_unknown"),
            "visitor": (told("a visitor holds up the QR pass on a phone"), "qr_pass"),
        }  # fmt: skip
        acted: list[tuple[str, Callable[[], None]]] = [
            (
                told("%(who)s types a wrong PIN, then the right one (%(entry)s#), and walks"
                     " through", who=who(people.pin_label),
                     entry=f"{people.pin_id}*{'•' * len(PIN)}"),
                lambda: actor.pin_entry(people.pin_id, PIN, WRONG_PIN),
            ),
            (
                told("someone inside presses the exit button, then props the door open"),
                actor.exit_then_propped_open,
            ),
            (told("the locked door is forced open"), actor.forced),
            (told("the fire alarm goes off; later the fire panel is reset"), actor.fire_alarm),
        ]  # fmt: skip
        count = len(scene.segments) + len(acted)
        for number, segment in enumerate(scene.segments, 1):
            story, kind = seen[segment.key]
            wait_for_frame(gate.camera, segment.start)
            echo(f"  [{number}/{count}] {story}")
            found = actor.expect_in_frames(kind, gate.camera, segment.end)
            if found is not None and found.decision == "open":
                actor.relocked(actor.last_grant)
            if found is not None and found.kind == "face_spoof_suspected":
                actor.pin_after_doubted_face(FACE_PIN)
        for number, (story, act) in enumerate(acted, len(scene.segments) + 1):
            echo(f"  [{number}/{count}] {story}")
            act()
        latest = gate.camera.latest()
        if latest is not None and latest.seq >= scene.frames:
            echo("  " + told("(the door camera's replay started over: this machine is slower"
                             " than planned)"))  # fmt: skip
    rest = told(
        N_("energised (wrong!)") if actor.relay_energised() else N_("at rest, de-energised")
    )
    echo(told("Gate %(gate)s stopped: lock relay %(rest)s (a fail-safe maglock is then released,"
              " as on a power cut)", gate=DOOR_GATE, rest=rest))  # fmt: skip
    return feed.outcomes
