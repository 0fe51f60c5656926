"""Threads of one gate process writing to the database at once: nothing acknowledged is lost.

A running vehicle gate records events on its loop thread (a car standing with an unreadable
plate, the camera dropping and coming back) while guards open it by hand through the real
control socket, whose requests run on the control server's threads. Every event either
side acknowledged must be in the database exactly once, with its outbox row.

The camera stands in for a recording replayed at full speed: its frames carry capture times
ten seconds apart, so every second frame completes an unread car, and its health flips on
every look, so every camera check records a fault or a recovery.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.db import connect
from edge.gates.control import GateControlServer, send_gate_command
from edge.gates.vehicle import VehicleGateLoop
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import GateFacts
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier

synth = pytest.importorskip("edge.plates.synth")
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
OPENERS = 3  # guards' consoles opening the gate at once
MIN_OPENS_EACH = 20
UNREAD_EVENTS = 30
CAMERA_EVENTS = 3


@dataclass(frozen=True)
class _Frame:
    image: np.ndarray
    seq: int
    captured_at: datetime


@dataclass(frozen=True)
class _Health:
    state: str
    last_error: str | None = None


class ReplayedCamera:
    """Frames of a recording, replayed as fast as they are asked for; health flips per look."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.looks = 0

    def wait_for_frame(self, after_seq: int, timeout_s: float) -> _Frame:
        seq = after_seq + 1
        at = T0 + timedelta(seconds=10 * seq)
        return _Frame(self.images[seq % len(self.images)], seq, at)

    def health(self) -> _Health:
        self.looks += 1
        return _Health("stalled" if self.looks % 2 else "ok", "replay gap")


def open_files(folder) -> int:
    """How many descriptors this process holds on files in ``folder`` (database, WAL, ...)."""
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own descriptor)
            held += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
    return held


@pytest.fixture(scope="module")
def unreadable_frames() -> list[np.ndarray]:
    """A plate found in every frame but never read well enough to decide."""
    return [synth.render_scene("浙B54321", seed=i, blur=9.0) for i in range(3)]


@pytest.fixture
def gate(tmp_path, unreadable_frames):
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    factory = MockFactory()
    barrier = Barrier(17, pulse_s=0.01, active_high=True, pin_factory=factory)
    camera = ReplayedCamera(unreadable_frames)
    outcomes: list = []
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        camera,
        barrier,
        PlateReader(),
        PlateVoter(),
        db,
        SnapshotStore(tmp_path / "snapshots", ZoneInfo("Asia/Shanghai")),
        unread_after_s=1.0,
        unread_dedupe_s=0.0,
        on_outcome=outcomes.append,
    )

    control = GateControlServer(tmp_path / "run" / "gate-north.sock", loop.handle)
    yield loop, db, camera, outcomes, tmp_path
    control.close()
    barrier.close()


def test_manual_opens_during_loop_events_are_each_stored_once_with_their_outbox_row(gate):
    loop, db, camera, outcomes, folder = gate
    run = folder / "run"
    files_before = open_files(folder)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,), name="gate-north", daemon=True)
    replies: list[dict] = []
    failures: list[BaseException] = []

    def unread() -> list:
        return [o for o in list(outcomes) if o.kind == "plate_unread"]

    def loop_done() -> bool:
        return len(unread()) >= UNREAD_EVENTS and camera.looks >= CAMERA_EVENTS

    def opener(n: int) -> None:
        try:
            i = 0
            while i < MIN_OPENS_EACH or not (loop_done() or stop.is_set()):
                request = {"cmd": "open", "operator": f"guard{n}", "reason": f"stress {i}"}
                replies.append(send_gate_command(run, "north", request, timeout_s=30))
                i += 1
        except BaseException as exc:  # reported below
            failures.append(exc)

    runner.start()
    openers = [threading.Thread(target=opener, args=(n,)) for n in range(OPENERS)]
    for thread in openers:
        thread.start()
    deadline = time.monotonic() + 300
    while not loop_done() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()  # the openers stop too, after their minimum
    for thread in openers:
        thread.join(timeout=60)
    runner.join(timeout=30)

    assert not failures, failures
    assert not runner.is_alive()
    assert len(replies) >= OPENERS * MIN_OPENS_EACH
    assert all(r["ok"] and r["event_id"] for r in replies), [r for r in replies if not r["ok"]]
    assert len(unread()) >= UNREAD_EVENTS and all(o.event_id for o in unread())
    assert loop.writer.fault is None and loop.writer.spooled == 0, loop.writer.fault
    assert loop.stats.frame_errors == 0

    def ids(kinds: tuple[str, ...]) -> list[str]:
        marks = ", ".join("?" for _ in kinds)
        rows = db.execute(f"SELECT id FROM events WHERE kind IN ({marks})", kinds).fetchall()
        return sorted(row[0] for row in rows)

    assert ids(("manual_open",)) == sorted(r["event_id"] for r in replies)
    assert ids(("plate_unread",)) == sorted(o.event_id for o in unread())
    assert len(ids(("camera_fault", "camera_recovered"))) == camera.looks
    unmatched = db.execute(
        "SELECT COUNT(*) FROM events e LEFT JOIN outbox o ON o.key = e.id WHERE o.key IS NULL"
    ).fetchone()[0]
    assert unmatched == 0, "every event has its outbox row"
    totals = db.execute("SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM outbox)")
    events, rows = totals.fetchone()
    assert events == rows, "and no outbox row without its event"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every request's connection was closed, not left to the garbage collector (which had
    # left one per request). SQLite itself keeps the descriptor of a connection closed while
    # others hold locks on the file, for reuse: at most one per connection open at once.
    assert open_files(folder) <= files_before + OPENERS + 1, "a connection per request leaks"
