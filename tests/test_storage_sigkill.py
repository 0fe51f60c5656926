"""Fifty SIGKILLs of a running door on a faulted store: residents still get in, and after
recovery every decision the gate printed is in events once, with one outbox row.

Twenty-five kills on a full data disk, twenty-five on a read-only one (the spool on its own
small file system, as docs/deploy.md says to put it for that fault); each at a random
moment after the gate printed at least one decision. Residents type ``<number>*<PIN>`` on
the keypad (a real FIFO the test keeps open, so lines a killed gate had not read wait for
the next one); each line names another resident, so each printed decision is known by
number. A door without faces (``faces = false``: no face models to load) and a warm fork
of the command line (tests/gate_forker.py) keep a restart short on a loaded 2-core
machine.

Real tmpfs mounts (the suite runs as root, as on a box; skipped where mounting is refused).
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import Forker, alive, clear_fault, fault_disk, kill, mount_tmpfs, unmount

from edge.config import load_config
from edge.people.residents import add_resident, hash_pin
from edge.pii import PiiVault
from edge.store.open import open_store, pii_vault

PIN = "480915"
KILLS_PER_FAULT = 25
RESIDENTS = 400

CONFIG = """
[storage]
data_dir = "{data}"
spool_dir = "{spool}"
spool_reserve_mb = 1
quick_check_s = 2
[security]
pii_key_file = "{key}"
[hardware]
pin_factory = "mock"
[[gates]]
id = "east"
name = "East"
kind = "pedestrian"
faces = false
[gates.camera]
source = "{frames}"
replay_fps = 2
[gates.lock]
relay_pin = 22
release_s = 0.2
[gates.keypad]
source = "{fifo}"
[gates.liveness]
mode = "off"
"""


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[Path, Path, Path, Path]]:
    """(config, data disk, spool disk, keypad FIFO): residents 1..RESIDENTS with one PIN."""
    data, spool = tmp_path / "data", tmp_path / "spool"
    mount_tmpfs(data, "16m")
    try:
        mount_tmpfs(spool, "4m")
        frames = tmp_path / "frames"
        frames.mkdir()
        cv2.imwrite(str(frames / "0.jpg"), np.full((240, 320, 3), 90, np.uint8))
        fifo = tmp_path / "keypad.fifo"
        os.mkfifo(fifo)
        key = tmp_path / "keys" / "pii.key"
        key.parent.mkdir()
        PiiVault.from_key_file(key, create=True)
        config = tmp_path / "menwei.toml"
        config.write_text(
            CONFIG.format(data=data, spool=spool, key=key, frames=frames, fifo=fifo), "utf-8"
        )
        settings = load_config(config)
        db = open_store(settings)
        vault = pii_vault(settings)
        stored = hash_pin(PIN)  # one scrypt hash for all: each check still runs scrypt
        for n in range(RESIDENTS):
            add_resident(db, vault, f"住户{n}", f"1-1-{100 + n}")
        db.execute("UPDATE residents SET pin_hash = ?", [stored])
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        yield config, data, spool, fifo
    finally:
        for folder in (spool, data):
            unmount(folder)


OPENED = re.compile(r"OPEN .*resident (\d+)\b")


def opened(output: Path) -> list[int]:
    """Resident numbers of the door's printed OPEN decisions."""
    text = output.read_text("utf-8", errors="replace") if output.exists() else ""
    return [int(m.group(1)) for m in OPENED.finditer(text)]


def wait_for(predicate, timeout_s: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def stored(data: Path) -> tuple[list[int], list[str], int, str]:
    """(resident numbers of stored PIN passages, their decisions, outbox rows of all events
    joined 1:1, integrity_check)."""
    conn = sqlite3.connect(data / "menwei.db", isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot: the gate may be writing while this counts
        rows = conn.execute(
            "SELECT details, decision FROM events WHERE kind = 'pin_passage' ORDER BY id"
        ).fetchall()
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        joined = conn.execute(
            "SELECT COUNT(*) FROM events e JOIN outbox o ON o.key = e.id"
        ).fetchone()[0]
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert joined == events, "an event without its outbox row"
    return [json.loads(d)["resident_number"] for d, _ in rows], [d for _, d in rows], events, ok


def test_fifty_sigkills_on_a_full_then_read_only_disk_lose_and_duplicate_nothing(site, tmp_path):
    config, data, _spool, fifo = site
    rng = random.Random(50)
    started = time.monotonic()
    printed: list[int] = []
    typed = iter(range(1, RESIDENTS + 1))
    keypad = os.open(fifo, os.O_RDWR)  # held: lines wait in the pipe across restarts
    forker = Forker()
    starts: list[float] = []
    try:

        def round_(n: int) -> None:
            output = tmp_path / f"gate-{n}.log"
            began = time.monotonic()
            pid = forker.start(["gate", "east", "-c", config], output)
            if not wait_for(lambda: "running" in _text(output) or not alive(pid)):
                pytest.fail(f"gate never started:\n{_text(output)}")
            assert alive(pid), _text(output)
            starts.append(time.monotonic() - began)
            for _ in range(3):  # three residents at the door
                os.write(keypad, f"{next(typed)}*{PIN}\n".encode())
            assert wait_for(lambda: opened(output) or not alive(pid)), _text(output)
            time.sleep(rng.uniform(0.0, 0.3))  # a random moment: deciding, spooling, idle
            kill(pid)
            decided = opened(output)
            assert decided, f"round {n}: nobody let in\n{_text(output)}"  # residents get in
            assert "Traceback" not in _text(output), _text(output)
            printed.extend(decided)

        round_(0)  # a healthy start first: the last good copy is written
        fault_disk(data, "full")
        for n in range(1, KILLS_PER_FAULT + 1):
            round_(n)
        clear_fault(data, "full")
        fault_disk(data, "read-only")
        try:
            for n in range(KILLS_PER_FAULT + 1, 2 * KILLS_PER_FAULT + 1):
                round_(n)
        finally:
            clear_fault(data, "read-only")
        # recovered: the next start writes the spool (and reads what the pipe still holds)
        output = tmp_path / "gate-recovered.log"
        pid = forker.start(["gate", "east", "-c", config], output)
        try:
            assert wait_for(lambda: set(printed) <= set(stored(data)[0])), _text(output)
        finally:
            kill(pid)
        printed.extend(opened(output))
    finally:
        forker.close()
        os.close(keypad)
    numbers, decisions, _events, ok = stored(data)
    assert ok == "ok"
    assert len(numbers) == len(set(numbers)), "a decision stored twice"
    assert set(printed) <= set(numbers), f"{len(set(printed) - set(numbers))} decisions lost"
    assert set(decisions) == {"open"}
    seconds = time.monotonic() - started
    median, longest = float(np.median(starts)), max(starts)
    print(
        f"\n{2 * KILLS_PER_FAULT + 1} kills in {seconds:.0f} s; gate start {median:.2f} s"
        f" median, {longest:.2f} s max; {len(printed)} decisions printed, {len(numbers)}"
        f" stored; load {os.getloadavg()[0]:.1f}"
    )


def _text(output: Path) -> str:
    return output.read_text("utf-8", errors="replace") if output.exists() else ""
