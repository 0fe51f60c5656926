"""A hub and two gate boxes as real processes on 127.0.0.1, each with its own SQLite file.

`menwei hub serve` (the hub) and `menwei hub link` (each gate box) run as subprocesses; the
gates themselves are the real pedestrian loop on each gate box's database (real face
model, mock lock pins), counting pass uses at the hub over HTTP. A resident enrolled at
the hub opens both doors within 5 s; deactivating them stops both within 5 s; a one-use
QR pass held up at both doors at once opens one; with the hub killed both doors go on
deciding and queue; and after 50 SIGKILLs of the hub and of each gate box's process
(`menwei hub link`: its lists, uploads and commands) at random moments while both doors
record events and the hub keeps changing a resident's PIN, the hub holds every event of
both boxes exactly once and both boxes hold the hub's newest lists.

The doors themselves run in this process (the real pedestrian loop on each gate box's
database): their writes are SQLite transactions, whose survival of a power cut is the
storage tests' subject; what a kill can break here is the link between the boxes.
Processes start with nothing a test does not need (no model is loaded by `hub serve` or
`hub link`); a restart is a Python start-up (importing the command line measured 2.3-4.2 s
at load 15-20) and the store's open. Wall time measured 2026-12-01 at load 19 on 2 cores: 5 min 9 s
(setup 20 s, the test 268 s, teardown 21 s); the demo test beside it 64 s.
"""

from __future__ import annotations

import functools
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory
from helpers import FACES

from edge.db import connect, transaction
from edge.demo.community import LoopbackCommunity, gate_box_door, qr_frame, run_community_demo
from edge.events.record import NewEvent, record_event
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop
from edge.people.passes import issue_pass
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident, set_active, set_pin
from edge.pii import PiiVault
from edge.store.snapshots import SnapshotStore
from sync.community.boxes import invite
from sync.community.link import join
from sync.community.lists import held_version

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason=f"face photos not found at {FACES}")

BOXES = ("a", "b")
KILLS = 50
PROPAGATION_LIMIT_S = 5.0


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


@pytest.fixture
def community(tmp_path) -> Iterator[LoopbackCommunity]:
    world = LoopbackCommunity(tmp_path, BOXES)
    world.start("hub")
    try:
        wait_until(world.hub_up, 30, "the hub to listen")
        hub_db = connect(world.db_path("hub"))
        for box in BOXES:  # as `menwei hub invite` and `join` do (the demo test runs those)
            code = invite(hub_db, box, datetime.now(UTC), 600)
            key_file = world.root / box / "data" / "community.key"
            join(f"http://127.0.0.1:{world.port}", box, code, key_file)
            world.start(box)
        hub_db.conn.close()
        for box in BOXES:  # each link has made its first contact (a snapshot) with the hub
            wait_until(functools.partial(world.synced, box), 60, f"{box}'s first sync")
        yield world
    finally:
        world.stop_all()


def doors(world: LoopbackCommunity, recogniser, factory) -> tuple[dict, list]:
    """Each gate box's door loop (with snapshots), and the doors to close afterwards."""
    loops, devices = {}, []
    for box in BOXES:
        snapshots = SnapshotStore(world.root / box / "data" / "snapshots", UTC)
        loops[box], _db, door = gate_box_door(world, box, recogniser, factory, snapshots)
        devices.append(door)
    return loops, devices


def restart(world: LoopbackCommunity, name: str) -> None:
    world.start(name)
    if name == "hub":
        wait_until(world.hub_up, 30, "the hub to listen")


def face_opens(loop: PedestrianGateLoop, image: np.ndarray) -> bool:
    loop.refresh_index()  # what the runner does every index_refresh_s
    at = datetime.now(UTC)
    outcomes = [
        o for k in range(3) for o in loop.process_frame(image, at + timedelta(seconds=0.2 * k))
    ]
    return any(o.decision == "open" for o in outcomes)


def both_within(world: LoopbackCommunity, check: Callable) -> float:
    """Seconds from now until ``check(db)`` holds on every gate box's database."""
    start = time.monotonic()
    dbs = {box: connect(world.db_path(box)) for box in BOXES}
    for box, db in dbs.items():
        wait_until(lambda db=db: check(db), 30, f"the change at {box}")
        db.conn.close()
    return time.monotonic() - start


def pending(db) -> int:
    return db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


@pytest.mark.slow
def test_a_hub_and_two_gate_boxes(community, recogniser):
    world = community
    factory = MockFactory()
    hub = connect(world.db_path("hub"))
    hub_vault = PiiVault.from_key_file(world.root / "hub" / "pii.key")
    loops, devices = doors(world, recogniser, factory)

    # enrol at the hub → the face opens both doors within 5 s
    rid = add_resident(hub, hub_vault, "李四", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    enrol_faces(hub, hub_vault, recogniser, rid, photos, "admin", consent=True)
    set_pin(hub, rid, "480915")
    face = read_image_file(FACES / "fr_obama1.jpg")
    has_face = "SELECT COUNT(*) FROM face_templates t JOIN residents r ON r.id = t.resident_id"
    has_face += f" WHERE r.id = {rid} AND r.active = 1 AND r.face_consent_at IS NOT NULL"
    delay = both_within(world, lambda db: db.execute(has_face).fetchone()[0] == 2)
    assert delay < PROPAGATION_LIMIT_S, f"enrolment reached both boxes after {delay:.1f} s"
    for box, loop in loops.items():
        assert face_opens(loop, face), f"the face did not open at {box}"

    # deactivate at the hub → refused at both within 5 s
    with transaction(hub) as conn:
        set_active(conn, rid, False)
    delay = both_within(world, lambda db: db.execute(has_face).fetchone()[0] == 0)
    assert delay < PROPAGATION_LIMIT_S, f"revocation reached both boxes after {delay:.1f} s"
    for loop in loops.values():
        assert loop.keypad_entry(f"{rid}*480915").decision == "deny"
        assert not face_opens(loop, face)

    # a one-use QR pass at both doors at the same moment opens exactly one
    now = datetime.now(UTC)
    pass_id, token = issue_pass(hub, "v", now - timedelta(minutes=1), now + timedelta(hours=1), 1)
    for box in BOXES:
        wait_until(
            lambda box=box: (
                loops[box].db.execute("SELECT 1 FROM qr_passes WHERE id = ?", (pass_id,)).fetchone()
                is not None
            ),
            30,
            f"the pass at {box}",
        )
    frame, start, decisions = qr_frame(token), threading.Barrier(2), []

    def show(loop: PedestrianGateLoop) -> None:
        start.wait()
        outcomes = loop.process_frame(frame, datetime.now(UTC))
        decisions.extend((o.decision, o.reasons[0]["code"]) for o in outcomes)

    threads = [threading.Thread(target=show, args=(loop,)) for loop in loops.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d for d, _ in decisions) == ["deny", "open"], decisions
    assert ("deny", "pass_used_up") in decisions

    # the hub killed: both doors go on deciding (a resident's PIN) and queue their events
    other = add_resident(hub, hub_vault, "王五", "3-1-403")
    set_pin(hub, other, "135790")
    for box in BOXES:
        wait_until(
            lambda box=box: loops[box].keypad_entry(f"{other}*135790").decision == "open",
            30,
            f"the second resident at {box}",
        )
    world.kill("hub")
    for loop in loops.values():
        assert loop.keypad_entry(f"{other}*135790").decision == "open"
        assert pending(loop.db) > 0

    # SIGKILLs of the hub and of both gate boxes' processes at random moments, while both
    # doors keep recording events and the hub keeps changing the lists
    rng = random.Random(19)
    restart(world, "hub")
    stop, flowing = threading.Event(), {}

    def door_traffic(box: str) -> None:
        db = connect(world.db_path(box))  # the door's own thread, as the gate runner has
        t = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        n = 0
        while not stop.is_set():
            for _ in range(5):
                n += 1
                record_event(
                    db, NewEvent(f"{box}-door", "exit_button", t + timedelta(seconds=n), "open")
                )
            time.sleep(0.02)
        flowing[box] = n
        db.conn.close()

    def hub_edits() -> None:
        db = connect(world.db_path("hub"))
        k = 0
        while not stop.is_set():
            k += 1
            set_pin(db, other, f"{100000 + k}")
            time.sleep(0.05)
        db.conn.close()

    workers = [threading.Thread(target=door_traffic, args=(box,)) for box in BOXES]
    workers.append(threading.Thread(target=hub_edits))
    for worker in workers:
        worker.start()
    victims = []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.4))
            victim = rng.choice(["hub", *BOXES])
            victims.append(victim)
            world.kill(victim)
            restart(world, victim)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert set(victims) == {"hub", *BOXES}

    hub_version = hub.execute("SELECT MAX(seq) FROM community_changes").fetchone()[0]
    pin_hash = hub.execute("SELECT pin_hash FROM residents WHERE id = ?", (other,)).fetchone()
    for box, loop in loops.items():
        wait_until(lambda loop=loop: pending(loop.db) == 0, 180, f"{box}'s backlog to drain")
        dead = loop.db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
        assert dead == 0
        sent = {r[0] for r in loop.db.execute("SELECT id FROM events")}
        held = hub.execute("SELECT id FROM events WHERE gate_id = ?", (f"{box}-door",)).fetchall()
        assert sorted(r[0] for r in held) == sorted(sent)  # every event, once
        assert len(sent) > flowing[box] > KILLS  # events flowed all through the kills
        # and the lists came down whole through the kills: the box holds the hub's newest
        wait_until(
            lambda loop=loop: held_version(loop.db.conn)[0] >= hub_version, 60, f"{box}'s lists"
        )
        box_pin = loop.db.execute("SELECT pin_hash FROM residents WHERE id = ?", (other,))
        assert box_pin.fetchone() == pin_hash
    # and each once in the hub's outbox, on its way to the district
    rows = hub.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM outbox").fetchone()
    assert rows[0] == rows[1] == hub.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    status = world.run("hub", "status", "--json", "-c", world.config("hub"))
    assert '"box_id": "a"' in status and '"box_id": "b"' in status
    for door in devices:
        door.close()
    factory.reset()


@pytest.mark.slow
def test_community_demo_tells_every_step():
    """`menwei demo --community`: a hub and two gate-box processes, every step as told."""
    lines: list[str] = []
    # a short folder: the doors' control sockets live under it (a Unix socket path is at
    # most 107 bytes, and pytest's folders are deep)
    root = Path(tempfile.mkdtemp(prefix="mw-", dir="/tmp"))
    try:
        assert run_community_demo(root, lines.append) == 0, "\n".join(lines)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = "\n".join(lines)
    assert "reached both gate boxes after" in text and "1 door opened" in text
    assert "box=north" in text and "box=south" in text and "each once" in text
    assert "opened by guard01 from the hub in" in text
