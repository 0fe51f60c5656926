"""Benchmark: durable event write (snapshot JPEG + event row + outbox row, fsynced).

Run: .venv/bin/python bench/events.py [--events N]

This is the step between a decision and the barrier moving (the event is committed
first), so its latency matters as much as recognition. The baseline in the same run is
the same rows written with synchronous=NORMAL (not durable on power loss in WAL mode),
to show what the durability rule costs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from edge.db import connect
from edge.events.record import NewEvent, record_event
from edge.store.snapshots import SnapshotStore


def run(n: int, synchronous: str, with_snapshot: bool) -> list[float]:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        db = connect(Path(folder) / "bench.db")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
        store = SnapshotStore(Path(folder) / "snaps", ZoneInfo("Asia/Shanghai"))
        # random noise: the worst case for JPEG size and encode time
        frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)
        reasons = (
            {"code": "resident_vehicle", "message": "resident vehicle of household 3-1-402"},
        )
        times = []
        for i in range(n):
            event = NewEvent(
                "g",
                "vehicle_passage",
                datetime.now(UTC),
                "open",
                "皖A12345",
                "resident: household 3-1-402",
                0.97,
                reasons,
                {"votes": 3, "i": i},
            )
            started = time.perf_counter()
            record_event(db, event, frame if with_snapshot else None, store)
            times.append((time.perf_counter() - started) * 1000)
        db.conn.close()
    return times


def describe(label: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    return (
        f"{label:<44} median {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   "
        f"{1000 / statistics.mean(times):7.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    print(f"event write benchmark, {args.events} events each, database in {Path.cwd()}")
    rows_full = run(args.events, "FULL", False)
    rows_normal = run(args.events, "NORMAL", False)
    snap_full = run(args.events // 3, "FULL", True)
    print(describe("event+outbox, synchronous=FULL (ours)", rows_full))
    print(describe("event+outbox, synchronous=NORMAL (baseline)", rows_normal))
    print(describe("event+outbox+1280x720 JPEG snapshot, FULL", snap_full))
    ratio = statistics.median(rows_full) / statistics.median(rows_normal)
    print(f"durability cost: FULL/NORMAL median ratio {ratio:.2f}x")


if __name__ == "__main__":
    main()
