"""Benchmark: what ``PRAGMA quick_check`` costs a gate at start on a realistic database.

Run: .venv/bin/python bench/quick_check.py [--events 100000] [--vehicles 2000]

A gate runs ``quick_check`` at every start (edge.store.open.open_gate_store), bounded by
``[storage] quick_check_s``. The database: ``--events`` gate events with their outbox rows
(about 90 days of a busy gate) and ``--vehicles`` registered vehicles, at the box's
settings (WAL). Printed: the file size, quick_check and the full integrity_check (what
``menwei db check`` runs), warm (file in the page cache), and with ``--cold`` after
dropping the page cache (as after a reboot).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.db import connect
from edge.events.record import NewEvent, record_event
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.store.integrity import check


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--cold", action="store_true", help="drop the page cache first (root;"
                        " not on a shared machine: it slows everyone)")  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        path = Path(folder) / "menwei.db"
        db = connect(path)
        db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
        for i in range(args.vehicles):
            add_vehicle(db, VehicleInput(f"皖A{i:05d}", "resident", f"{i % 30}-1-{i % 900}"))
        db.conn.execute("PRAGMA synchronous = OFF")  # filling, not measuring
        start = datetime(2026, 5, 1, tzinfo=UTC)
        reasons = (
            {"code": "resident_vehicle", "message": "resident vehicle of household 3-1-402"},
        )
        for i in range(args.events):
            event = NewEvent("g", "vehicle_passage", start + timedelta(seconds=i * 7), "open",
                             f"皖A{i % args.vehicles:05d}", "resident: household 3-1-402", 0.97,
                             reasons, {"colour": "blue", "votes": 3, "frames": 4})  # fmt: skip
            record_event(db, event)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        print(f"database: {args.events} events + outbox rows, {args.vehicles} vehicles,"
              f" {path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        for quick in (True, False):
            name = "quick_check" if quick else "integrity_check"
            for label in ("cold", "warm") if args.cold else ("warm",):
                if label == "cold" and not drop_caches():
                    print(f"{name} cold: not measured (cannot drop the page cache)")
                    continue
                conn = sqlite3.connect(path)
                started = time.perf_counter()
                result = check(conn, quick=quick)
                elapsed = time.perf_counter() - started
                conn.close()
                print(f"{name} {label}: {elapsed:.2f} s ({'ok' if result.ok else result.problems})")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
