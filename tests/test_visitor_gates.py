"""Visitor passes and watch faces honoured at the gates: the real vehicle loop on synthetic
plate frames, the real pedestrian loop on real face photos, real SQLite, mock pins.

The loops' decision clock is injected (registry_support.Clock), so a pass's window and the
same-visit rule are crossed without sleeping; frames carry the same times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import FACES, Clock

from edge.db import transaction
from edge.events.record import recent_events
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.vehicle import VehicleGateLoop
from edge.people.resident_faces import check_photos, enrol_faces
from edge.people.residents import add_resident
from edge.people.visitors import check_terms, issue_face, issue_plate, resolve_host, revoke
from edge.people.watch_faces import add_watch_face, remove_watch_face
from edge.pii import PiiVault
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy import person, vehicle
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.door import Door, DoorLock

synth = pytest.importorskip("edge.plates.synth")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PLATE = "沪C0L876"
OPEN_PIN = 17


# -- the vehicle gate ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture
def vehicle_gate(tmp_path, reader, pin_factory, db):
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_resident(db, PiiVault(bytes(range(32))), "Host", "3-1-402")
    barrier = Barrier(OPEN_PIN, pulse_s=0.05, active_high=True, pin_factory=pin_factory)
    clock = Clock(T0)
    loop = VehicleGateLoop(
        vehicle.GateFacts("north", "vehicle"),
        camera=None,
        barrier=barrier,
        reader=reader,
        voter=PlateVoter(min_votes=2, vote_window_s=1.5, dedupe_window_s=30),
        db=db,
        snapshots=SnapshotStore(tmp_path / "snapshots", ZoneInfo("Asia/Shanghai")),
        clock=clock,
    )
    yield loop, db, clock, pin_factory.pin(OPEN_PIN)
    barrier.close()


def plate_pass(db, uses: int, hours: float = 4) -> int:
    terms = check_terms(T0, T0 + timedelta(hours=hours), uses, T0)
    with transaction(db) as conn:
        host = resolve_host(conn, "3-1-402", None)
        return issue_plate(conn, PLATE, host, terms, "delivery", "user:1", T0)


def arrive(loop, clock, at: datetime, frames: int = 3) -> list:
    """A car in front of the camera for ``frames`` frames at 5 fps, then gone."""
    clock.moment = at
    outcomes = []
    for i in range(frames):
        image = synth.render_scene(PLATE, seed=i)
        outcomes += loop.process_frame(image, at + timedelta(milliseconds=200 * i))
    return outcomes + loop.tick(at + timedelta(seconds=5))


def uses_of(db, vehicle_id: int) -> int:
    return db.execute("SELECT uses FROM vehicles WHERE id = ?", (vehicle_id,)).fetchone()[0]


def highs(pin) -> int:
    return sum(1 for change in pin.states if change.state)


def test_plate_pass_spends_one_use_per_passage_and_then_says_used_up(vehicle_gate):
    loop, db, clock, pin = vehicle_gate
    vid = plate_pass(db, uses=2)

    [first] = arrive(loop, clock, T0, frames=6)  # six frames of one car: one passage
    assert first.decision == "open" and uses_of(db, vid) == 1
    assert arrive(loop, clock, T0 + timedelta(seconds=10)) == []  # within the dedupe window
    [back] = arrive(loop, clock, T0 + timedelta(seconds=45))  # after it, within the same visit
    assert back.decision == "open" and "same visit" in back.reasons[0]["message"]
    assert uses_of(db, vid) == 1
    [second] = arrive(loop, clock, T0 + timedelta(minutes=10))
    assert second.decision == "open" and uses_of(db, vid) == 2
    opened = highs(pin)
    [third] = arrive(loop, clock, T0 + timedelta(minutes=20))
    assert third.decision == "deny" and third.reasons[0]["code"] == "visitor_used_up"
    assert "visitor pass used up" in third.reasons[0]["message"]
    assert uses_of(db, vid) == 2 and highs(pin) == opened  # the barrier stayed down

    events = list(reversed(recent_events(db)))
    assert [e["decision"] for e in events] == ["open", "open", "open", "deny"]
    assert [e["details"].get("pass_use") for e in events] == [1, None, 2, None]
    assert {e["details"]["vehicle_id"] for e in events} == {vid}
    assert events[0]["subject"] == "visitor: household 3-1-402"


def test_a_car_standing_at_the_barrier_spends_one_use(vehicle_gate):
    loop, db, clock, _ = vehicle_gate
    vid = plate_pass(db, uses=3)
    outcomes = []
    for k in range(10):  # one frame every 5 s for 50 s: the dedupe window keeps refreshing
        at = T0 + timedelta(seconds=5 * k)
        clock.moment = at
        outcomes += loop.process_frame(synth.render_scene(PLATE, seed=k), at)
        outcomes += loop.process_frame(
            synth.render_scene(PLATE, seed=k + 20), at + timedelta(milliseconds=200)
        )
    assert [o.decision for o in outcomes] == ["open"] and uses_of(db, vid) == 1


def test_expired_and_revoked_plate_passes_fail_at_the_gate(vehicle_gate):
    loop, db, clock, _ = vehicle_gate
    vid = plate_pass(db, uses=5, hours=1)
    [late] = arrive(loop, clock, T0 + timedelta(hours=1, minutes=5))
    assert late.decision == "deny" and late.reasons[0]["code"] == "visitor_expired"
    assert uses_of(db, vid) == 0
    fresh = T0 + timedelta(hours=2)
    terms = check_terms(fresh, fresh + timedelta(hours=1), 5, fresh)
    with transaction(db) as conn:
        other = issue_plate(conn, PLATE, resolve_host(conn, "3-1-402", None), terms, "", "u", fresh)
        revoke(conn, "plate", other)
    [revoked] = arrive(loop, clock, fresh + timedelta(minutes=5))
    assert revoked.decision == "deny"
    assert [r["code"] for r in revoked.reasons] == ["visitor_expired", "visitor_revoked"]


# -- the pedestrian gate -------------------------------------------------------------------------
DOOR = person.GateFacts("east", "pedestrian", (("residents", "always"), ("visitors", "always")))


@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


@pytest.fixture
def door_gate(tmp_path, recogniser, face_labels, pin_factory, db):
    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    vault = PiiVault(bytes(range(32)))
    host = add_resident(db, vault, "Host", "3-1-402")
    lock = DoorLock(17, "fail_safe", 0.2, active_high=True, pin_factory=pin_factory)
    holder: dict = {}
    door = Door(lock, lambda k, d: holder["loop"].door_event(k, d))
    clock = Clock(T0)
    build = lambda: PedestrianGateLoop(  # noqa: E731  (a fresh loop after enrolment)
        DOOR, door, recogniser, db, vault, None, PedestrianSettings(), clock=clock
    )
    yield {"db": db, "vault": vault, "host": host, "build": build, "holder": holder, "clock": clock}
    door.close()
    pin_factory.reset()


def photo(name: str):
    return read_image_file(FACES / name)


def show(loop, clock, image, at: datetime, frames: int = 3) -> list:
    clock.moment = at
    outcomes = []
    for i in range(frames):
        outcomes += loop.process_frame(image, at + timedelta(milliseconds=200 * i))
    return outcomes


def face_pass(env, recogniser, uses: int, hours: float = 4) -> int:
    templates = check_photos(
        recogniser, [(i, n, photo(n)) for i, n in enumerate(("fr_obama.jpg", "fr_obama2.jpg"))]
    )
    terms = check_terms(T0, T0 + timedelta(hours=hours), uses, T0)
    with transaction(env["db"]) as conn:
        host = resolve_host(conn, "", env["host"])
        return issue_face(
            conn, env["vault"], recogniser.model_sha256, templates, host, terms, "user:2",
            "guard1", True, T0,
        )  # fmt: skip


def visitor_uses(db, visitor_id: int) -> int:
    return db.execute("SELECT uses FROM residents WHERE id = ?", (visitor_id,)).fetchone()[0]


def test_face_pass_opens_within_its_uses_and_lingering_costs_none(door_gate, recogniser):
    env = door_gate
    vid = face_pass(env, recogniser, uses=2)
    loop = env["holder"]["loop"] = env["build"]()
    clock, db, face = env["clock"], env["db"], photo("fr_obama1.jpg")

    [first] = show(loop, clock, face, T0)
    assert (first.kind, first.decision) == ("face_passage", "open")
    assert first.subject == f"visitors: visitor {vid} of household 3-1-402 (host resident 1)"
    assert visitor_uses(db, vid) == 1
    [again] = show(loop, clock, face, T0 + timedelta(seconds=30))  # still standing there
    assert again.decision == "open" and "same visit" in again.reasons[0]["message"]
    assert visitor_uses(db, vid) == 1
    [second] = show(loop, clock, face, T0 + timedelta(minutes=10))
    assert second.decision == "open" and visitor_uses(db, vid) == 2
    [spent] = show(loop, clock, face, T0 + timedelta(minutes=20))
    assert spent.decision == "deny" and spent.reasons[0]["code"] == "visitor_used_up"
    details = [e["details"] for e in reversed(recent_events(db))]
    assert [d.get("pass_use") for d in details] == [1, None, 2, None]
    assert {d["visitor_id"] for d in details} == {vid}


def test_expired_and_revoked_face_passes_are_denied_with_reason(door_gate, recogniser):
    env = door_gate
    vid = face_pass(env, recogniser, uses=5, hours=1)
    loop = env["holder"]["loop"] = env["build"]()
    clock, face = env["clock"], photo("fr_obama1.jpg")
    [late] = show(loop, clock, face, T0 + timedelta(hours=2))
    assert late.decision == "deny" and late.reasons[0]["code"] == "visitor_expired"
    with transaction(env["db"]) as conn:
        revoke(conn, "face", vid)
    assert loop.refresh_index()  # the revoked visitor's templates left the index
    assert len(loop.index) == 0
    [unknown] = show(loop, clock, face, T0 + timedelta(hours=3))
    assert (unknown.kind, unknown.decision) == ("face_unknown", "deny")


# -- watch faces -----------------------------------------------------------------------------------
def watch(env, recogniser, name: str, label: str) -> int:
    [template] = check_photos(recogniser, [(0, name, photo(name))])
    with transaction(env["db"]) as conn:
        return add_watch_face(
            conn, env["vault"], template, recogniser.model_sha256, label, "reported", "user:1", T0
        )


def test_watched_stranger_raises_an_alert_linked_to_the_sighting(door_gate, recogniser):
    env = door_gate
    wid = watch(env, recogniser, "fr_biden_biden2.jpg", "wanted person 2026-118")
    loop = env["holder"]["loop"] = env["build"]()
    clock, db = env["clock"], env["db"]

    outcomes = show(loop, clock, photo("fr_biden.jpg"), T0)
    assert [(o.kind, o.decision) for o in outcomes] == [("face_unknown", "deny")]
    assert outcomes[0].alert_event_id
    alert = next(e for e in recent_events(db) if e["kind"] == "watchlist_alert")
    assert alert["decision"] == "none" and alert["related_event_id"] == outcomes[0].event_id
    assert alert["details"]["watch_face_ids"] == [wid]
    assert "wanted person 2026-118" in alert["reasons"][0]["message"]
    queued = {row[0] for row in db.execute("SELECT key FROM outbox")}
    assert {alert["id"], outcomes[0].event_id} <= queued

    again = show(loop, clock, photo("fr_biden.jpg"), T0 + timedelta(seconds=30))
    assert [o.kind for o in again] == ["face_unknown"]  # recorded again, but no second alert
    assert sum(e["kind"] == "watchlist_alert" for e in recent_events(db)) == 1


def test_several_photos_of_one_case_are_one_identity(door_gate, recogniser):
    env = door_gate
    first = watch(env, recogniser, "fr_biden_biden2.jpg", "case 12")
    [template] = check_photos(recogniser, [(0, "b", photo("fr_biden.jpg"))])
    with transaction(env["db"]) as conn:
        second = add_watch_face(
            conn, env["vault"], template, recogniser.model_sha256, "case 12", "", "user:1", T0
        )
    loop = env["holder"]["loop"] = env["build"]()
    assert len(loop.watch.index) == 2 and set(loop.watch.index.entries) == {first}
    outcomes = show(loop, env["clock"], photo("fr_biden.jpg"), T0)
    alert = next(e for e in recent_events(env["db"]) if e["id"] == outcomes[0].alert_event_id)
    assert alert["details"]["watch_face_ids"] == [first, second]


def test_watched_stranger_is_recorded_even_in_the_strangers_quiet_time(door_gate, recogniser):
    env = door_gate
    watch(env, recogniser, "fr_biden_biden2.jpg", "case 7")
    loop = env["holder"]["loop"] = env["build"]()
    clock = env["clock"]
    first = show(loop, clock, photo("fr_kit_harington_john1.jpeg"), T0)
    assert [o.kind for o in first] == ["face_unknown"] and first[0].alert_event_id is None
    watched = show(loop, clock, photo("fr_biden.jpg"), T0 + timedelta(seconds=2))
    assert [o.kind for o in watched] == ["face_unknown"] and watched[0].alert_event_id


def test_watched_resident_gets_in_and_the_alert_goes_with_the_passage(door_gate, recogniser):
    env = door_gate
    db = env["db"]
    photos = [(n, photo(n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    enrol_faces(db, env["vault"], recogniser, env["host"], photos, "admin", consent=True)
    loop = env["holder"]["loop"] = env["build"]()
    clock, face = env["clock"], photo("fr_obama1.jpg")
    [plain] = show(loop, clock, face, T0)
    assert plain.decision == "open" and plain.alert_event_id is None

    wid = watch(env, recogniser, "fr_obama3.jpg", "case 9")
    assert loop.refresh_index()  # the watch faces changed: reloaded without a restart
    [watched] = show(loop, clock, face, T0 + timedelta(minutes=1))
    assert (watched.kind, watched.decision) == ("face_passage", "open")  # still let in
    alert = next(e for e in recent_events(db) if e["id"] == watched.alert_event_id)
    assert alert["related_event_id"] == watched.event_id
    assert json.loads(json.dumps(alert["details"]))["watch_face_ids"] == [wid]

    with transaction(db) as conn:
        remove_watch_face(conn, wid)
    assert loop.refresh_index()
    [after] = show(loop, clock, face, T0 + timedelta(minutes=10))
    assert after.decision == "open" and after.alert_event_id is None
