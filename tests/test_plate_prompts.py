"""Near misses and unread cars go to the guard, never through the barrier by themselves.

The pure parts (what is a near miss, what the policy decides) are tested as functions; the
gate's part runs the real reader on rendered frames, a real SQLite file and MockFactory
pins; the guard's part runs the console against a REAL running vehicle gate process
(edge.gates.assembly.vehicle_gate: folder camera, plate reader, control socket), and the
relay pin is read back.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory
from helpers import (
    PASSWORD,
    USERS,
    audit_rows,
    client_as,
    csrf_of,
    db_of,
    nonce_for,
    watch_problems,
)

from edge.db import connect, transaction
from edge.events.record import NewEvent, recent_events, record_event
from edge.gates.assembly import vehicle_gate
from edge.gates.vehicle import VehicleGateLoop
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.plates.near_miss import confusable, near_miss_variants, near_misses
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import Facts, GateFacts, PolicySettings, Sighting, VehicleFact
from edge.policy.vehicle import decide_vehicle as decide
from edge.store.prompts import NewPrompt, insert_correction, open_prompts, read_rates
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.inputs import VehicleLoop

synth = pytest.importorskip("edge.plates.synth")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "plate-prompts"
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
GATE = GateFacts("north", "vehicle")
RESIDENT = "皖A12345"
NEAR = "皖A1234S"  # 5 read as S


# -- what a near miss is ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("read", "known"),
    [
        ("皖A1234S", "皖A12345"),  # 5/S
        ("皖A0Y790", "皖A0V790"),  # V/Y: look-alike letters, misread even at high confidence
        ("皖EVL838", "闽EVL838"),  # province look-alike seen on real images
        ("京B8Q000", "京BBQ000"),  # 8/B
        ("沪AZ6G00", "沪A26G00"),  # 2/Z
        ("苏E0D123", "苏EQD123"),  # 0/Q
        ("苏EDG123", "苏ED6123"),  # 6/G
    ],
)
def test_one_confusable_character_is_a_near_miss(read: str, known: str) -> None:
    assert near_misses(read, [known, "粤B99999"]) == [known]
    assert known in near_miss_variants(read) and read in near_miss_variants(known)


@pytest.mark.parametrize(
    ("read", "known"),
    [
        ("皖A12345", "皖A12345"),  # the same plate is a match, not a near miss
        ("皖A12346", "皖A12345"),  # 5/6 are not look-alikes
        ("皖A1Z34S", "皖A12345"),  # two confusable characters differ
        ("皖A1234", "皖A12345"),  # a character missing is not "one confusable character"
        ("川A12345", "皖A12345"),  # provinces nobody confuses
    ],
)
def test_anything_else_is_not_a_near_miss(read: str, known: str) -> None:
    assert near_misses(read, [known]) == []


def test_confusable_is_symmetric_and_never_reflexive() -> None:
    pairs = [("0", "D"), ("D", "Q"), ("8", "B"), ("V", "Y"), ("沪", "闽"), ("琼", "京")]
    for a, b in pairs:
        assert confusable(a, b) and confusable(b, a)
    assert not any(confusable(c, c) for c in "0DQ8B皖")


# -- what the policy decides --------------------------------------------------------------------
def vehicle(plate: str, kind: str = "resident", **kw) -> VehicleFact:  # type: ignore[no-untyped-def]
    return VehicleFact(1, plate, kind, None, None, "household 3-1-402", household="3-1-402", **kw)


@pytest.mark.parametrize("unknown", ["deny", "open_for_registration"])
def test_near_miss_is_denied_with_the_candidate_never_opened(unknown: str) -> None:
    facts = Facts(near=(vehicle(RESIDENT),))
    decision = decide(Sighting(NEAR, 0.99, True), GATE, T0, facts, PolicySettings(unknown))
    assert decision.action == "deny" and decision.reasons[0].code == "near_miss"
    assert [v.plate for v in decision.candidates] == [RESIDENT]
    assert decision.vehicle is None and not decision.spend_use


def test_near_miss_of_a_plate_that_would_not_open_is_just_unknown() -> None:
    """Revoked, expired or used-up passes are not offered: the guard would open for a car
    the policy would refuse even when read right."""
    gone = (
        vehicle(RESIDENT, "visitor", revoked=True),
        VehicleFact(2, RESIDENT, "visitor", None, T0 - timedelta(hours=1), "x"),
        VehicleFact(3, RESIDENT, "visitor", None, None, "x", max_uses=1, uses=1),
    )
    decision = decide(Sighting(NEAR, 0.99, True), GATE, T0, Facts(near=gone))
    assert decision.reasons[0].code == "unknown_vehicle" and decision.candidates == ()


def test_exact_match_wins_over_a_near_miss() -> None:
    facts = Facts(vehicles=(vehicle(NEAR),), near=(vehicle(RESIDENT),))
    assert decide(Sighting(NEAR, 0.99, True), GATE, T0, facts).action == "open"


# -- the gate ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


class CountingFinder:
    """The reader's real text-detection fallback, counting its runs."""

    def __init__(self, finder) -> None:  # type: ignore[no-untyped-def]
        self.finder, self.runs = finder, 0

    def find(self, view):  # type: ignore[no-untyped-def]
        self.runs += 1
        return self.finder.find(view)


@pytest.fixture
def gate(tmp_path, reader, monkeypatch, db, pin_factory):  # type: ignore[no-untyped-def]
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
    factory = pin_factory
    barrier = Barrier(17, pulse_s=0.05, active_high=True, pin_factory=factory)
    presence = VehicleLoop(22, pin_factory=factory, debounce_s=0.01)
    counting = CountingFinder(reader.fallback)
    monkeypatch.setattr(reader, "fallback", counting)
    loop = VehicleGateLoop(
        GATE, None, barrier, reader, PlateVoter(min_votes=2, vote_window_s=1.5), db,
        SnapshotStore(tmp_path / "snapshots", ZoneInfo("Asia/Shanghai")),
        PolicySettings("open_for_registration"), presence=presence,
        waiting_after_s=3.0, fallback_every_s=1.0,
    )  # fmt: skip
    yield loop, db, factory, presence, counting
    presence.close()
    barrier.close()


def set_loop(factory, presence, occupied: bool) -> None:  # type: ignore[no-untyped-def]
    pin = factory.pin(22)
    pin.drive_low() if occupied else pin.drive_high()
    deadline = time.monotonic() + 5
    while presence.is_occupied != occupied and time.monotonic() < deadline:
        time.sleep(0.005)
    assert presence.is_occupied == occupied


def relay_went_high(factory) -> bool:  # type: ignore[no-untyped-def]
    return any(change.state for change in factory.pin(17).states)


def feed(loop, image, seconds: float, start=T0):  # type: ignore[no-untyped-def]
    """Frames of `image` at 5/s for `seconds` of injected time."""
    outcomes = []
    for i in range(round(seconds * 5)):
        outcomes += loop.process_frame(image, start + timedelta(milliseconds=200 * i))
    return outcomes


def test_near_miss_plate_never_opens_and_asks_the_guard(gate) -> None:
    """Even where unknown cars are let in for registration: a plate one stroke from a
    resident's is probably that resident misread, so the guard decides."""
    loop, db, factory, _, _ = gate
    image = synth.render_scene(NEAR, "blue", seed=1)
    outcomes = feed(loop, image, 1.0) + loop.tick(T0 + timedelta(seconds=5))
    assert [(o.plate, o.decision) for o in outcomes] == [(NEAR, "deny")]
    assert not relay_went_high(factory)
    [event] = recent_events(db)
    assert event["reasons"][0]["code"] == "near_miss" and event["snapshot_path"]
    assert event["details"]["near_miss"] == [RESIDENT]
    [prompt] = open_prompts(db.conn, "north")
    assert (prompt["kind"], prompt["event_id"], prompt["read_plate"]) == (
        "near_miss", event["id"], NEAR)  # fmt: skip
    assert prompt["candidates"] == [
        {"plate": RESIDENT, "kind": "resident", "household": "3-1-402", "vehicle_id": 1}
    ]
    assert prompt["has_crop"] and prompt["has_snapshot"]
    crop = db.execute("SELECT crop FROM plate_prompts").fetchone()[0]
    image = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] > image.shape[0]  # a plate: wider than high


def test_near_miss_question_closes_when_the_car_leaves_the_loop(gate) -> None:
    """A question is about the car standing there: once it has gone, nobody may open for it."""
    loop, db, factory, presence, _ = gate
    set_loop(factory, presence, True)
    outcomes = feed(loop, synth.render_scene(NEAR, "blue", seed=1), 1.0)
    assert [o.decision for o in outcomes] == ["deny"] and open_prompts(db.conn)
    loop.tick(T0 + timedelta(seconds=20))  # still standing there: still asked
    assert [p["kind"] for p in open_prompts(db.conn)] == ["near_miss"]
    set_loop(factory, presence, False)
    loop.tick(T0 + timedelta(seconds=21))
    assert open_prompts(db.conn) == []
    closed = db.execute("SELECT state, resolution FROM plate_prompts").fetchone()
    assert closed == ("closed", "left")


def test_car_waiting_unread_raises_a_card_then_closes_it_when_it_leaves(gate) -> None:
    """The loop says a car is there; no plate is ever read: after waiting_after_s one
    plate_unread event with an "unread car waiting" prompt and the best frame; the
    text-detection fallback ran, rate-limited; the car drives off: the card closes."""
    loop, db, factory, presence, counting = gate
    set_loop(factory, presence, True)
    empty = synth.render_empty_scene(seed=2)
    outcomes = feed(loop, empty, 5.0)
    assert [(o.kind, o.decision) for o in outcomes] == [("plate_unread", "deny")]
    assert not relay_went_high(factory)
    [event] = recent_events(db)
    assert event["details"]["waiting"] is True and event["snapshot_path"]
    [prompt] = open_prompts(db.conn, "north")
    assert prompt["kind"] == "unread_waiting" and prompt["event_id"] == event["id"]
    assert 3 <= counting.runs <= 6, "fallback at most once a second of the 5 s"
    set_loop(factory, presence, False)
    loop.tick(T0 + timedelta(seconds=6))
    assert open_prompts(db.conn) == []
    state, resolution = db.execute("SELECT state, resolution FROM plate_prompts").fetchone()
    assert (state, resolution) == ("closed", "left")


def test_guard_opening_by_hand_closes_the_waiting_card_and_raises_no_other(gate) -> None:
    """The guard let the waiting car in by hand (no plate typed): its card closes as
    opened, the fallback stops, and the car still on the loop raises no second card."""
    loop, db, factory, presence, counting = gate
    set_loop(factory, presence, True)
    empty = synth.render_empty_scene(seed=2)
    feed(loop, empty, 4.0)
    assert [p["kind"] for p in open_prompts(db.conn)] == ["unread_waiting"]
    opened = loop.manual_open("guard1", "car waiting unread")
    assert opened.decision == "open" and relay_went_high(factory)
    assert db.execute("SELECT state, resolution FROM plate_prompts").fetchone() == (
        "closed", "opened")  # fmt: skip
    runs = counting.runs
    feed(loop, empty, 12.0, T0 + timedelta(seconds=4))
    assert open_prompts(db.conn) == [] and counting.runs == runs
    kinds = [e["kind"] for e in recent_events(db)]
    assert kinds == ["manual_open", "plate_unread"], "one card per car"


def test_waiting_card_closes_when_the_car_is_read_after_all(gate) -> None:
    loop, db, factory, presence, _ = gate
    set_loop(factory, presence, True)
    feed(loop, synth.render_scene(RESIDENT, seed=4, blur=15.0, brightness=0.35), 4.0)  # unread
    assert [p["kind"] for p in open_prompts(db.conn)] == ["unread_waiting"]
    opened = feed(loop, synth.render_scene(RESIDENT, seed=4), 1.0, T0 + timedelta(seconds=4))
    assert [(o.plate, o.decision) for o in opened] == [(RESIDENT, "open")]
    assert db.execute("SELECT resolution FROM plate_prompts").fetchone()[0] == "read"
    kinds = [e["kind"] for e in recent_events(db)]
    assert kinds == ["vehicle_passage", "plate_unread"], "no second unread event"


def test_decided_car_standing_on_the_loop_raises_no_card(gate) -> None:
    loop, db, factory, presence, counting = gate
    set_loop(factory, presence, True)
    outcomes = feed(loop, synth.render_scene(RESIDENT, seed=5), 6.0)
    assert [(o.plate, o.decision) for o in outcomes] == [(RESIDENT, "open")]
    assert open_prompts(db.conn) == [] and counting.runs == 0


def test_guard_confirmed_plate_spends_its_counted_pass_once(gate) -> None:
    """Opening for a confirmed visitor plate spends a use as its passage would have; the
    same visit again (the guard confirms twice) spends nothing more."""
    loop, db, factory, _, _ = gate
    now = datetime.now(UTC)  # the loop decides on the wall clock
    window = (now - timedelta(hours=1), now + timedelta(hours=8))
    add_vehicle(db, VehicleInput("皖B12340", "visitor", "5-2-1101", *window))
    db.execute("UPDATE vehicles SET max_uses = 1 WHERE plate = '皖B12340'")  # a one-use pass
    first = loop.manual_open("guard1", "confirmed plate 皖B12340", "皖B12340")
    again = loop.manual_open("guard1", "confirmed plate 皖B12340", "皖B12340")
    events = {e["id"]: e for e in recent_events(db)}
    assert events[first.event_id]["details"]["pass_use"] == 1
    assert "pass_use" not in events[again.event_id]["details"]
    assert db.execute("SELECT uses FROM vehicles WHERE plate = '皖B12340'").fetchone() == (1,)
    assert first.plate == "皖B12340" and relay_went_high(factory)


# -- the guard -----------------------------------------------------------------------------------
def rising_edges(pin) -> int:  # type: ignore[no-untyped-def]
    states = [s.state for s in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if b and not a)


@pytest.fixture(scope="module")
def site(tmp_path_factory, console_env, gate_config, event_recorder):  # type: ignore[no-untyped-def]
    """The console and a running ``north`` gate whose camera shows a car with plate
    皖A1234S, one stroke from the resident's 皖A12345."""
    tmp = tmp_path_factory.mktemp("prompts")
    config = gate_config(tmp)
    frame = synth.render_scene(NEAR, "blue", seed=1)
    for i in range(3):
        cv2.imwrite(str(tmp / "frames" / f"{i}.jpg"), frame)
    env = console_env(tmp, config=config)
    env["recorder"] = event_recorder(config)
    db = connect(config.storage.database_path)
    add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
    db.conn.close()
    factory = MockFactory()
    stop = threading.Event()
    with vehicle_gate(config, "north", stop, pin_factory=factory) as running:
        env.update(gate=running, pin=factory.pin(17))
        db = db_of(env)
        deadline = time.monotonic() + 120  # the gate reads its first frames on a busy box
        while not open_prompts(db.conn) and time.monotonic() < deadline:
            time.sleep(0.1)
        yield env


def wait_for(check, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(check())


def post(client, page: str, action: str, **form: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_of(page), "form_nonce": nonce_for(page, action), **form}
    return client.post(action + "?lang=en", data=data)


def test_guard_sees_the_question_and_confirms_it_the_gate_opens_audited(site) -> None:
    db = db_of(site)
    [prompt] = open_prompts(db.conn, "north")
    passage = next(e for e in recent_events(db) if e["id"] == prompt["event_id"])
    assert passage["decision"] == "deny" and passage["plate"] == NEAR
    assert rising_edges(site["pin"]) == 0, "the near miss never opened"
    client = client_as(site, "guard")
    page = client.get("/console/?lang=zh").text
    assert f"可能是 {RESIDENT} — 确认?" in page and f"识别为 {NEAR}" in page
    assert f"/events/{passage['id']}/snapshot?size=thumb" in page, "the passage snapshot"
    crop_url = f"/console/prompts/{prompt['id']}/crop"
    assert crop_url in page and client.get(crop_url).mimetype == "image/jpeg"
    assert "住户 3-1-402" in page, "the registered plate's household"
    # Police see gate events but are not asked.
    assert client_as(site, "police").get("/console/").status_code == 403

    action = f"/console/prompts/{prompt['id']}/confirm"
    wrong = post(client, page, action, plate="京A00000")
    assert wrong.status_code == 400 and "Choose one of the plates" in wrong.text
    assert rising_edges(site["pin"]) == 0
    page = client.get("/console/").text
    response = post(client, page, action, plate=RESIDENT)
    assert response.status_code == 303, response.text
    assert wait_for(lambda: rising_edges(site["pin"]) == 1), "the barrier relay pulsed"
    opening = next(e for e in recent_events(db) if e["kind"] == "manual_open")
    assert response.location.endswith(f"opened={opening['id']}")
    assert opening["plate"] == RESIDENT and opening["related_event_id"] == passage["id"]
    assert opening["details"] == {"operator": USERS["guard"], "corrected_plate": RESIDENT}
    [row] = audit_rows(db, "plate_prompt_confirm")
    assert row["actor"] == f"user:{site['ids']['guard']}"
    assert row["target"] == f"prompt:{prompt['id']}"
    assert row["details"] == {
        "gate": "north", "passage": passage["id"], "read": NEAR, "plate": RESIDENT,
        "result": "opened", "event_id": opening["id"],
    }  # fmt: skip
    state, corrected, open_id = db.execute(
        "SELECT state, corrected_plate, open_event_id FROM plate_prompts WHERE id = ?",
        [prompt["id"]],
    ).fetchone()
    assert (state, corrected, open_id) == ("confirmed", RESIDENT, opening["id"])
    [(read, true, crop, by)] = db.execute(
        "SELECT read_plate, true_plate, crop, created_by FROM plate_corrections"
    ).fetchall()
    assert (read, true, by) == (NEAR, RESIDENT, USERS["guard"]) and len(crop) > 100
    # Answered once: the same question again (another guard, a reload) opens nothing.
    admin = client_as(site, "admin")
    again = post(admin, page.replace(csrf_of(page), csrf_of(admin.get("/console/").text)),
                 action, plate=RESIDENT)  # fmt: skip
    assert again.status_code == 409
    time.sleep(0.3)
    assert rising_edges(site["pin"]) == 1
    assert f"prompts/{prompt['id']}/confirm" not in client.get("/console/").text


def write_prompt(env, kind: str = "near_miss", crop: bytes | None = None) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A passage and its question, written as the gate writes them."""
    recorder = env["recorder"]
    prompt = NewPrompt(kind, "皖B1234Q" if kind == "near_miss" else "",
                       ({"plate": "皖B12340", "kind": "visitor", "household": "", "vehicle_id": 9},)
                       if kind == "near_miss" else (), crop)  # fmt: skip
    kind_of_event = "vehicle_passage" if kind == "near_miss" else "plate_unread"
    plate = prompt.read_plate or None
    event = NewEvent("north", kind_of_event, env["clock"](), "deny", plate=plate, prompt=prompt)
    stored = record_event(recorder.db, event, synth.render_empty_scene(), recorder.snapshots)
    [row] = [p for p in open_prompts(db_of(env).conn) if p["event_id"] == stored.id]
    return stored.id, row["id"]


def test_guard_dismisses_a_question_audited_and_nothing_opens(site) -> None:
    event_id, prompt_id = write_prompt(site)
    client = client_as(site, "guard")
    page = client.get("/console/").text
    edges = rising_edges(site["pin"])
    response = post(client, page, f"/console/prompts/{prompt_id}/dismiss")
    assert response.status_code == 303
    assert "dismissed" in client.get(response.location + "&lang=en").text
    time.sleep(0.3)
    assert rising_edges(site["pin"]) == edges
    [row] = audit_rows(db_of(site), "plate_prompt_dismiss")
    assert row["target"] == f"prompt:{prompt_id}" and row["details"]["passage"] == event_id
    state, by = (
        db_of(site)
        .execute("SELECT state, resolved_by FROM plate_prompts WHERE id = ?", [prompt_id])
        .fetchone()
    )
    assert (state, by) == ("dismissed", USERS["guard"])


def test_unread_car_card_opens_with_the_plate_the_guard_typed(site) -> None:
    event_id, prompt_id = write_prompt(site, "unread_waiting")
    client = client_as(site, "guard")
    page = client.get("/console/?lang=zh").text
    assert "有车辆在等待，车牌未识别。" in page and f"/events/{event_id}/snapshot" in page
    action = f"/console/prompts/{prompt_id}/confirm"
    bad = post(client, page, action, plate="not a plate")
    assert bad.status_code == 400 and "not a plate" in bad.text
    edges = rising_edges(site["pin"])
    page = client.get("/console/").text
    assert post(client, page, action, plate=" 苏e 12345 ").status_code == 303
    assert wait_for(lambda: rising_edges(site["pin"]) == edges + 1)
    db = db_of(site)
    true = db.execute(
        "SELECT true_plate FROM plate_corrections WHERE event_id = ?", [event_id]
    ).fetchone()
    assert true == ("苏E12345",)
    opening = next(e for e in recent_events(db, 50) if e["related_event_id"] == event_id)
    assert opening["kind"] == "manual_open" and opening["plate"] == "苏E12345"


def test_old_question_is_neither_offered_nor_confirmed(site) -> None:
    """After PROMPT_TTL the car has most likely gone: opening would let in whoever is there."""
    event_id, prompt_id = write_prompt(site)
    client = client_as(site, "guard")
    page = client.get("/console/").text
    assert f'data-prompt-id="{prompt_id}"' in page
    site["clock"].advance(minutes=6)
    try:
        assert f'data-prompt-id="{prompt_id}"' not in client.get("/console/").text
        edges = rising_edges(site["pin"])
        late = post(client, page, f"/console/prompts/{prompt_id}/confirm", plate="皖B12340")
        assert late.status_code == 409 and "too old" in late.text
        time.sleep(0.3)
        assert rising_edges(site["pin"]) == edges
        assert [p["id"] for p in open_prompts(db_of(site).conn) if p["event_id"] == event_id]
    finally:
        site["clock"].advance(minutes=-6)


def test_confirm_when_the_gate_is_not_running_keeps_the_question_open(
    tmp_path, console_env, gate_config, event_recorder
) -> None:
    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config)  # no gate process runs here
    env["recorder"] = event_recorder(config)
    _, prompt_id = write_prompt(env)
    client = client_as(env, "guard")
    page = client.get("/console/").text
    response = post(client, page, f"/console/prompts/{prompt_id}/confirm", plate="皖B12340")
    assert response.status_code == 409 and "not running" in response.text
    assert [p["id"] for p in open_prompts(db_of(env).conn)] == [prompt_id], "asked again"
    [row] = audit_rows(db_of(env), "plate_prompt_confirm")
    assert row["details"]["result"] == "not_running"
    assert db_of(env).execute("SELECT COUNT(*) FROM plate_corrections").fetchone() == (0,)


def test_health_shows_each_lanes_read_rate(site) -> None:
    html = client_as(site, "guard").get("/console/health?lang=zh").text
    assert "各车道车牌识别率" in html and 'data-lane="north"' in html


def test_read_rate_counts_passages_corrections_and_unread_cars(tmp_path) -> None:
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    at = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    for i in range(3):
        record_event(db, NewEvent("north", "vehicle_passage", at, "open", plate=f"皖A1234{i}"))
    record_event(db, NewEvent("north", "plate_unread", at, "deny"))
    record_event(db, NewEvent("north", "vehicle_passage", at, "deny", plate="皖A1234S",
                                      prompt=NewPrompt("near_miss", "皖A1234S")))  # fmt: skip
    with transaction(db) as conn:
        [prompt] = open_prompts(conn)
        insert_correction(conn, prompt, at.isoformat(), "皖A12345", "guard", at)
    [day] = read_rates(db.conn, ZoneInfo("Asia/Shanghai"), at + timedelta(hours=1))
    assert (day.passages, day.corrected, day.unread, day.cars) == (4, 1, 1, 5)
    assert day.read_rate == pytest.approx(3 / 5)


def test_question_appears_live_on_a_phone_and_is_dismissed(
    tmp_path, console_env, gate_config, event_recorder, launch_chromium, served
) -> None:
    """Real Chromium at 390 px against waitress: a near miss written while the live page is
    open appears on the gate card without a reload (the feed), fits the phone's width,
    shows the plate crop, and goes away once dismissed."""
    from playwright.sync_api import sync_playwright

    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config)
    env["recorder"] = event_recorder(config)
    with served(env["app"]) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        page = page.new_page()
        problems = watch_problems(page)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS["guard"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/console/")
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=10000)
        crop = cv2.imencode(".jpg", synth.render_plate("皖B1234Q", "blue"))[1].tobytes()
        _, prompt_id = write_prompt(env, crop=crop)
        card = f'#gate-north [data-prompt-id="{prompt_id}"]'
        page.wait_for_selector(card, timeout=10000)
        assert "可能是 皖B12340 — 确认?" in page.inner_text(card)
        page.wait_for_function(
            f"document.querySelector('{card} img.prompt-crop').naturalWidth > 0", timeout=5000
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "near-miss-390.png"), full_page=True)
        page.click(f"{card} form[action$='/dismiss'] button")
        page.wait_for_selector("#notice", timeout=10000)
        assert page.query_selector(card) is None
        assert problems == [], problems
        browser.close()
