"""The durable event spool: what a full, read-only or damaged store refuses survives a stop,
a SIGKILL and a restart, and is written exactly once when the store takes writes again.

Real tmpfs mounts (the suite runs as root, as on a box; skipped with the reason where
mounting is not allowed), real SQLite files, real processes killed with SIGKILL.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import clear_fault, fault_disk, mount_tmpfs, unmount

from edge.db import connect
from edge.events.record import NewEvent, new_event_id, recent_events
from edge.events.spool import EventSpool, SpooledEvent, read_spool
from edge.events.writer import EventWriter
from edge.store.prompts import NewPrompt

WRITER = Path(__file__).with_name("spool_writer.py")
AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def disks(tmp_path) -> Iterator[tuple[Path, Path]]:
    """A small data disk and a separate small spool disk, both real tmpfs mounts."""
    data, spool = tmp_path / "data", tmp_path / "spool"
    mount_tmpfs(data, "16m")
    try:
        mount_tmpfs(spool, "1m")
        yield data, spool
    finally:
        for folder in (spool, data):
            unmount(folder)


def new_db(path: Path) -> None:
    db = connect(path)
    db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    db.conn.close()


def event(n: int) -> NewEvent:
    return NewEvent("g", "vehicle_passage", AT, "open", "皖A12345", details={"n": n})


# -- the file ----------------------------------------------------------------------------------
def test_a_torn_last_line_is_ignored_and_overwritten(tmp_path):
    spool = EventSpool(tmp_path / "g.spool", reserve_bytes=4096)
    assert spool.open() == []
    items = [SpooledEvent(event(n), (), new_event_id(AT), ()) for n in range(3)]
    for item in items[:2]:
        assert spool.append(item)
    spool.close()
    data = (tmp_path / "g.spool").read_bytes()
    assert len(data) == 4096  # pre-allocated: a full disk still takes appends
    torn = data[: spool.used_bytes] + items[2].to_line()[:40]
    (tmp_path / "g.spool").write_bytes(torn + b"\0" * 100)  # SIGKILL in the middle of a write
    again = EventSpool(tmp_path / "g.spool", reserve_bytes=4096)
    assert [i.event_id for i in again.open()] == [i.event_id for i in items[:2]]
    assert again.append(items[2])
    assert [i.event for i in read_spool((tmp_path / "g.spool").read_bytes())[0]] == [
        i.event for i in items
    ]


@pytest.mark.parametrize(
    "damage", [b"\0" * 64, b"\xff" * 64, b"\0" * 600], ids=["zeros", "garbage", "long-zeros"]
)
def test_damage_in_the_middle_loses_only_what_it_hit_and_is_kept_aside(db, tmp_path, damage):
    """A worn card zeroes (or garbles) a block inside the spool, not only its torn tail:
    the events after the damage are still replayed, the next append goes after them (it
    overwrote them), and the damaged bytes are copied aside before the spool is emptied."""
    db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    path = tmp_path / "g.spool"
    spool = EventSpool(path, reserve_bytes=8192)
    spool.open()
    items = [SpooledEvent(event(n), (), new_event_id(AT), ()) for n in range(6)]
    starts = []
    for item in items:
        starts.append(spool.used_bytes)
        assert spool.append(item)
    spool.close()
    data = bytearray(path.read_bytes())
    hit = starts[2] + 10  # inside the third event (and beyond it when the block is long)
    data[hit : hit + len(damage)] = damage
    path.write_bytes(bytes(data))
    ends = [*starts[1:], spool.used_bytes]
    lost = {n for n in range(6) if starts[n] < hit + len(damage) and hit < ends[n]}
    again = EventSpool(path, reserve_bytes=8192)
    held = again.open()
    assert [i.event_id for i in held] == [items[n].event_id for n in range(6) if n not in lost]
    late = SpooledEvent(event(9), (), new_event_id(AT), ())
    assert again.append(late)
    again.close()
    assert read_spool(path.read_bytes())[0][-1].event_id == late.event_id
    [aside] = tmp_path.glob("g.spool.damaged-*")
    assert aside.read_bytes()[hit : hit + len(damage)] == damage
    writer = EventWriter(lambda: db, None)
    assert writer.use_spool(EventSpool(path, reserve_bytes=8192)) == 7 - len(lost)
    assert writer.retry(force=True) == 7 - len(lost)
    stored = {e["id"] for e in recent_events(db)}
    assert stored == {i.event_id for n, i in enumerate(items) if n not in lost} | {late.event_id}
    assert len(list(tmp_path.glob("g.spool.damaged-*"))) == 1  # kept once, not per open
    assert EventSpool(path, reserve_bytes=8192).open() == []  # emptied: the copy holds it


def test_a_guards_question_survives_the_spool_with_its_picture(tmp_path):
    """A near miss spooled on a full disk still reaches the guard as a question, with the
    plate crop it showed (the JPEG's bytes travel as base64, not as their repr)."""
    crop = bytes(range(256)) * 4
    candidates = (
        {"plate": "皖A12345", "kind": "resident", "household": "3-1-402", "vehicle_id": 7},
    )
    asked = NewEvent(
        "g", "vehicle_passage", AT, "deny", "皖A12346",
        prompt=NewPrompt("near_miss", "皖A12346", candidates, crop),
    )  # fmt: skip
    spool = EventSpool(tmp_path / "g.spool", reserve_bytes=65536)
    spool.open()
    assert spool.append(SpooledEvent(asked, (), new_event_id(AT), ()))
    spool.close()
    [back] = read_spool((tmp_path / "g.spool").read_bytes())[0]
    assert back.event == asked and back.event.prompt.crop == crop


def test_replay_writes_each_event_once_even_when_interrupted_after_a_commit(db, tmp_path):
    """The ids are made when the gate decides, so replaying a line already stored (a stop
    between the commit and the spool being emptied) does not store it twice."""
    db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    spool = EventSpool(tmp_path / "g.spool")
    spool.open()
    linked = NewEvent("g", "watchlist_alert", AT, "none", "皖A12345")
    item = SpooledEvent(event(1), (linked,), new_event_id(AT), (new_event_id(AT),))
    spool.append(item)
    spool.close()
    left = (tmp_path / "g.spool").read_bytes()
    for _ in range(2):  # the first run "dies" after its commit, before emptying the spool
        (tmp_path / "g.spool").write_bytes(left)
        writer = EventWriter(lambda: db, None)
        assert writer.use_spool(EventSpool(tmp_path / "g.spool")) == 1
        assert writer.retry(force=True) == 1
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2
    assert {e["id"] for e in recent_events(db)} == {item.event_id, *item.linked_ids}
    assert EventSpool(tmp_path / "g.spool").open() == []  # emptied once all were stored


def test_a_spool_that_refuses_too_is_reported_and_memory_keeps_the_event(db, tmp_path):
    db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    (tmp_path / "blocked").write_text("a file where the spool folder should be")
    writer = EventWriter(lambda: db, None)
    writer.use_spool(EventSpool(tmp_path / "blocked" / "g.spool"))
    db.conn.execute("PRAGMA query_only = 1")  # the store refuses writes
    assert writer.record(event(1)).id is None
    health = writer.health()
    assert health["events_unsaved"] == 1 and "cannot open" in str(health["spool_error"])
    db.conn.execute("PRAGMA query_only = 0")
    assert writer.retry(force=True) == 1 and writer.health()["storage_fault"] is None


# -- real processes killed while the store is faulted ------------------------------------------
def run_and_kill(db_path: Path, spool_path: Path, rng: random.Random, replayed: list[int]):
    """Start the writer, wait for its first decision, SIGKILL it at a random moment;
    returns the probes it printed as decided."""
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), str(spool_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    decided: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("DECIDED "):
                _, probe, spool_error = line.split(maxsplit=2)
                assert spool_error.strip() == "ok", spool_error  # within the spool's limits
                decided.append(probe)
            elif line.startswith("READY "):
                replayed.append(int(line.split()[1]))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not decided and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if not decided:
        process.kill()
        pytest.fail(f"writer never decided: {process.stderr.read() if process.stderr else ''}")
    time.sleep(rng.uniform(0.0, 0.1))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    reader.join(timeout=10)
    return decided


def assert_each_once(db_path: Path, decided: list[str]) -> None:
    db = sqlite3.connect(db_path)
    try:
        probes = [r[0] for r in db.execute("SELECT json_extract(details, '$.probe') FROM events")]
        outbox = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    assert ok == "ok"
    assert len(probes) == len(set(probes)), "an event was stored twice"
    assert set(decided) <= set(probes), f"{len(set(decided) - set(probes))} decisions lost"
    assert outbox == len(probes)


def test_full_disk_sigkill_many_times_loses_and_duplicates_nothing(disks):
    """The spool lives on the full disk itself: its pre-allocated reserve takes the events."""
    data, _ = disks
    db_path, spool_path = data / "menwei.db", data / "spool" / "g.spool"
    new_db(db_path)
    EventSpool(spool_path, reserve_bytes=256 * 1024).open()  # reserved while there is room
    fault_disk(data, "full")
    rng, decided, replayed = random.Random(12), [], []
    for _ in range(10):
        decided += run_and_kill(db_path, spool_path, rng, replayed)
    assert spool_path.stat().st_size == 256 * 1024  # still within its reserve
    assert replayed == [0] * 10  # nothing could be written while full
    clear_fault(data, "full")
    decided += run_and_kill(db_path, spool_path, rng, replayed)
    assert replayed[-1] > 0
    assert_each_once(db_path, decided)


def test_read_only_disk_sigkill_many_times_loses_and_duplicates_nothing(disks):
    """A read-only data disk refuses every write, so the spool is on its own file system."""
    data, spool_disk = disks
    db_path, spool_path = data / "menwei.db", spool_disk / "g.spool"
    new_db(db_path)
    rng, decided, replayed = random.Random(34), [], []
    decided += run_and_kill(db_path, spool_path, rng, replayed)  # a healthy start first
    fault_disk(data, "read-only")
    try:
        for _ in range(10):
            decided += run_and_kill(db_path, spool_path, rng, replayed)
    finally:
        clear_fault(data, "read-only")
    assert len(read_spool(spool_path.read_bytes())[0]) > 0
    decided += run_and_kill(db_path, spool_path, rng, replayed)
    assert replayed[-1] > 0
    assert_each_once(db_path, decided)
