"""``menwei demo --community``: a hub and two gate boxes on 127.0.0.1, each its own process.

The hub (``menwei hub serve``) and two gate boxes (``menwei hub link``) run as separate
processes with their own data folders, config files, PII keys and SQLite files under
``data_dir/community``, and talk over loopback exactly as boxes on a LAN do (plain HTTP is
allowed only to loopback). Each gate box's door is the real pedestrian loop on that box's
database with its lock on mock pins, counting pass uses at the hub. The story, told step
by step with measured delays: enrolment with one-time codes; a resident added at the hub
opens both doors; deactivated, refused at both; a one-use QR pass shown at both doors at
once opens one; the hub stopped, the doors go on deciding and queue; the hub back, the
backlogs drain; `menwei hub status`.
"""

from __future__ import annotations

import functools
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import sqlite_utils
from gpiozero.pins.mock import MockFactory

from edge.config import load_config
from edge.db import connect, iso, transaction, utc_now
from edge.demo.narration import describe_person_outcome, told
from edge.faces.recogniser import FaceRecogniser
from edge.gates.control import GateControlServer, socket_path
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.runner import GateOutcome
from edge.people.passes import issue_pass
from edge.people.residents import add_resident, set_active, set_pin
from edge.pii import PiiVault, create_key_file
from edge.policy.person import GateFacts
from edge.store.snapshots import SnapshotStore
from gate_drivers.door import Door, DoorLock
from sync.community.commands import await_command, queue_command, remote_gate
from sync.community.lists import held_version
from sync.community.uses import HubUses
from sync.secret import read_secret

BOXES = ("north", "south")
HUB = """\
[site]
name = "示范小区 hub"
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
[community]
role = "hub"
listen = "127.0.0.1:{port}"
"""
GATE = """\
[site]
name = "示范小区 {box} gate box"
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
[community]
role = "gate"
hub_url = "http://127.0.0.1:{port}"
box_id = "{box}"
wait_s = 10
[[gates]]
id = "{box}-door"
name = "{box} 单元门"
kind = "pedestrian"
[gates.camera]
source = "frames"
[gates.lock]
relay_pin = {pin}
"""

Echo = Callable[[str], None]


def _menwei(*args: str) -> list[str]:
    return [sys.executable, "-c", "from edge.cli.main import main; main()", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], bool], timeout_s: float) -> float | None:
    """Seconds until ``check()`` held, or None after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            return None
        time.sleep(0.02)
    return time.monotonic() - start


class LoopbackCommunity:
    """A hub and gate boxes in folders under ``root``, their processes started, stopped
    and killed by name (the demo's and tests/test_community_e2e.py's)."""

    def __init__(self, root: Path, boxes: tuple[str, ...] = BOXES) -> None:
        self.root = root
        self.boxes = boxes
        self.port = _free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        for name in ("hub", *boxes):
            (root / name).mkdir(parents=True)
            create_key_file(root / name / "pii.key")
            text = HUB if name == "hub" else GATE
            pin = 17 + boxes.index(name) if name in boxes else 0
            (root / name / "menwei.toml").write_text(text.format(port=self.port, box=name, pin=pin))
        connect(self.db_path("hub")).conn.close()

    def config(self, name: str) -> str:
        return str(self.root / name / "menwei.toml")

    def db_path(self, name: str) -> Path:
        return self.root / name / "data" / "menwei.db"

    def start(self, name: str) -> None:
        verb = "serve" if name == "hub" else "link"
        log = open(self.root / name / f"{verb}.log", "ab")  # noqa: SIM115 - the child's
        self.procs[name] = subprocess.Popen(
            _menwei("hub", verb, "-c", self.config(name)), stdout=log, stderr=log
        )
        log.close()

    def hub_up(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill(self, name: str) -> None:
        """SIGKILL: no clean-up of any kind, as a power cut."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def stop_all(self) -> None:
        """SIGTERM to every process at once, then wait for each (a link finishes the
        long-polls it holds: waiting for them one after another added up)."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for name in list(self.procs):
            self.stop(name)

    def run(self, *args: str) -> str:
        done = subprocess.run(_menwei(*args), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        return done.stdout

    def synced(self, box: str) -> bool:
        """The link has migrated the box's database and applied its first snapshot."""
        if not self.db_path(box).exists():
            return False
        db = connect(self.db_path(box), apply_migrations=False)
        try:
            return held_version(db.conn)[1] is not None
        except sqlite3.OperationalError:  # the link is still creating the schema
            return False
        finally:
            db.conn.close()


def gate_box_door(
    world: LoopbackCommunity,
    box: str,
    recogniser: FaceRecogniser,
    pins: MockFactory,
    snapshots: SnapshotStore | None = None,
) -> tuple[PedestrianGateLoop, sqlite_utils.Database, Door]:
    """The real pedestrian loop on a gate box's database, lock on mock pins, counting pass
    uses at the hub (what `menwei gate` builds on a gate box)."""
    db = connect(world.db_path(box))
    gate_id = f"{box}-door"
    with transaction(db) as conn:
        conn.execute("INSERT OR IGNORE INTO gates VALUES (?, ?, 'pedestrian', 'x')", (gate_id, box))
    pin = 17 + world.boxes.index(box)
    lock = DoorLock(pin, "fail_safe", 0.2, pin_factory=pins)
    facts = GateFacts(gate_id, "pedestrian", (("residents", "always"), ("visitors", "always")))
    vault = PiiVault.from_key_file(world.root / box / "pii.key")
    door = Door(lock, lambda *_: None)
    loop = PedestrianGateLoop(facts, door, recogniser, db, vault, snapshots, PedestrianSettings())
    key = read_secret(world.root / box / "data" / "community.key")
    loop.uses = HubUses(f"http://127.0.0.1:{world.port}", box, key, "deny", 1.5)
    return loop, db, door


def qr_frame(token: str) -> np.ndarray:
    """A phone screen showing the pass, as the door camera sees it."""
    canvas = np.full((480, 640, 3), 255, np.uint8)
    qr = cv2.QRCodeEncoder.create().encode(token)
    scale = 300 // qr.shape[0]
    qr = cv2.resize(qr, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    canvas[90 : 90 + qr.shape[0], 170 : 170 + qr.shape[1]] = cv2.cvtColor(qr, cv2.COLOR_GRAY2BGR)
    return canvas


def _pending(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0])


def run_community_demo(data_dir: Path, echo: Echo) -> int:
    """Tell the community story; 0 when every step behaved as it should."""
    root = data_dir / "community"
    shutil.rmtree(root, ignore_errors=True)
    world = LoopbackCommunity(root)
    try:
        return _story(world, echo)
    finally:
        world.stop_all()


def _reached(delay: float | None) -> str:
    if delay is None:
        return told("NOT REACHED")
    return told("reached both gate boxes after %(s)s s", s=f"{delay:.2f}")


def _story(world: LoopbackCommunity, echo: Echo) -> int:
    ok = True

    def step(text: str) -> None:
        echo(f"\n== {text}")  # a told() line

    def tell(outcome: GateOutcome | None, box: str) -> str:
        if outcome is None:
            return "none"
        echo(f"  [{box}] {describe_person_outcome(outcome)}")
        return outcome.decision

    step(told("a hub and gate boxes %(boxes)s in %(folder)s, each its own process",
              boxes=", ".join(BOXES), folder=world.root))  # fmt: skip
    world.start("hub")
    if _wait(world.hub_up, 60) is None:
        echo(told("the hub did not start; see hub/serve.log"))
        return 1
    for box in BOXES:
        code = world.run("hub", "invite", box, "-c", world.config("hub")).strip()
        echo("  " + told("hub: one-time code for %(box)s: %(code)s", box=box, code=code))
        echo("  " + world.run("hub", "join", code, "-c", world.config(box)).strip())
        world.start(box)
    for box in BOXES:
        if _wait(functools.partial(world.synced, box), 60) is None:
            echo(told("%(box)s did not reach the hub; see %(box)s/link.log", box=box))
            return 1
    echo("  " + told("both gate boxes hold the hub's lists"))

    pins = MockFactory()
    recogniser = FaceRecogniser()
    doors = {box: gate_box_door(world, box, recogniser, pins) for box in BOXES}
    hub = connect(world.db_path("hub"))
    hub_vault = PiiVault.from_key_file(world.root / "hub" / "pii.key")

    def everywhere(sql: str, expected: int) -> float | None:
        def holds() -> bool:
            return all(db.execute(sql).fetchone()[0] == expected for _, db, _ in doors.values())

        return _wait(holds, 30)

    step(told("a resident is enrolled at the hub (PIN 480915)"))
    rid = add_resident(hub, hub_vault, "李四", "3-1-402")
    set_pin(hub, rid, "480915")
    delay = everywhere(
        f"SELECT COUNT(*) FROM residents WHERE id = {rid} AND pin_hash IS NOT NULL AND active = 1",
        1,
    )
    echo("  " + _reached(delay))
    for box, (loop, _, _) in doors.items():
        ok &= tell(loop.keypad_entry(f"{rid}*480915"), box) == "open"

    step(told("the resident is deactivated at the hub"))
    with transaction(hub) as conn:
        set_active(conn, rid, False)
    delay = everywhere(f"SELECT COUNT(*) FROM residents WHERE id = {rid} AND active = 0", 1)
    echo("  " + _reached(delay))
    for box, (loop, _, _) in doors.items():
        ok &= tell(loop.keypad_entry(f"{rid}*480915"), box) == "deny"

    step(told("a one-use QR pass is shown at both doors at the same moment"))
    now = datetime.now(UTC)
    pass_id, token = issue_pass(
        hub, "visitor", now - timedelta(minutes=1), now + timedelta(hours=2), 1
    )
    everywhere(f"SELECT COUNT(*) FROM qr_passes WHERE id = {pass_id}", 1)
    frame, start, decisions = qr_frame(token), threading.Barrier(len(doors)), []

    def show(box: str, loop: PedestrianGateLoop) -> None:
        start.wait()
        for outcome in loop.process_frame(frame, datetime.now(UTC)):
            decisions.append(tell(outcome, box))

    threads = [threading.Thread(target=show, args=(b, lp)) for b, (lp, _, _) in doors.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    echo("  " + told("spent at the hub: %(n)s door opened, the other refused",
                     n=decisions.count("open")))  # fmt: skip
    ok &= sorted(decisions) == ["deny", "open"]

    step(told("the hub stops: the doors go on deciding and queue their events"))
    other = add_resident(hub, hub_vault, "王五", "3-1-403")
    set_pin(hub, other, "135790")
    everywhere(f"SELECT COUNT(*) FROM residents WHERE id = {other} AND pin_hash IS NOT NULL", 1)
    world.stop("hub")
    for box, (loop, db, _) in doors.items():
        ok &= tell(loop.keypad_entry(f"{other}*135790"), box) == "open"
        echo(f"  [{box}] " + told("events waiting for the hub: %(n)s", n=_pending(db)))

    step(told("the hub is back: the backlogs drain"))
    hub_back = iso(utc_now())
    world.start("hub")
    delay = _wait(lambda: all(_pending(db) == 0 for _, db, _ in doors.values()), 120)
    if delay is not None:
        echo("  " + told("drained after %(s)s s", s=f"{delay:.2f}"))
    else:
        echo("  " + told("NOT DRAINED"))
    ok &= delay is not None
    held = hub.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    echo("  " + told("the hub holds %(n)s events of both doors, each once", n=held))

    step(told("a guard at the hub's console opens the north door, through the hub"))
    loop, _, _ = doors["north"]
    run_dir = load_config(Path(world.config("north"))).storage.run_dir
    try:  # a Unix socket's path has at most 107 bytes: a deep data folder cannot hold one
        control = GateControlServer(socket_path(run_dir, "north-door"), loop.handle)
    except OSError as exc:
        echo("  " + told("cannot open the door's control socket in %(folder)s: %(error)s",
                         folder=run_dir, error=exc))  # fmt: skip
        return 1
    try:
        gate = None

        def polling() -> bool:  # the box's command long-poll is back at the restarted hub
            row = hub.execute(
                "SELECT reported_at FROM community_gates WHERE gate_id = 'north-door'"
            ).fetchone()
            return row is not None and (row[0] or "") >= hub_back

        if _wait(polling, 30) is not None:
            gate = remote_gate(hub.conn, "north-door", utc_now())
        if gate is None:
            echo("  " + told("the hub does not know the north door"))
            ok = False
        else:
            request = {"cmd": "open", "operator": "guard01", "reason": "送货"}
            started = time.monotonic()
            result = await_command(hub, queue_command(hub, gate, request, utc_now()), 5.5)
            took = (time.monotonic() - started) * 1000
            opened = result.state == "done" and bool(result.reply.get("ok"))
            if opened:
                echo("  [north] " + told("opened by guard01 from the hub in %(ms)s ms (event"
                                         " %(event)s)", ms=f"{took:.0f}",
                                         event=result.reply.get("event_id")))  # fmt: skip
            else:
                echo("  [north] " + told("NOT OPENED: %(state)s %(reply)s", state=result.state,
                                         reply=result.reply))  # fmt: skip
            ok &= opened
    finally:
        control.close()

    step("menwei hub status")
    echo(world.run("hub", "status", "-c", world.config("hub")).rstrip())
    for _, _, door in doors.values():
        door.close()
    pins.reset()
    if ok:
        echo("\n" + told("community demo finished: every step as expected"))
    else:
        echo("\n" + told("community demo FAILED a step"))
    return 0 if ok else 1
