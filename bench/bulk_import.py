"""Benchmark: bulk import of a community from one workbook (edge.people.bulk_import).

Run: .venv/bin/python bench/bulk_import.py [--residents 5000] [--runs 3]

What it measures, on a real SQLite file with the box's settings (WAL, synchronous=FULL):
- reading and checking the workbook (openpyxl read-only) and planning it against an empty
  box — the dry run an admin waits for after an upload;
- the commit: plan again inside the transaction, then every room, household, resident
  (name and phone encrypted) and vehicle, and one audit row, in one fsynced transaction;
- how long of that the write lock is held (the parse happens before the transaction
  begins): the gates' event writes wait this long at most;
- the same workbook a second time (the re-import: every row matched, nothing written).
Baseline in the same run: openpyxl reading the workbook alone (no checks, no database).

The workbook is 12 buildings' worth of rooms (432 a building-set of 2 × 3 units × 18
floors × 4 rooms, repeated to cover the residents), N residents, one vehicle per room.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import load_workbook

from edge import audit
from edge.db import connect
from edge.people.bulk_import import import_workbook
from edge.people.workbook import build_workbook, read_workbook
from edge.pii import PiiVault

ZONE = ZoneInfo("Asia/Shanghai")
VAULT = PiiVault(bytes(range(32)))


def community(residents: int) -> bytes:
    rooms = [
        [f"{b}幢", f"{u}单元", f"{f}{r:02d}", ""]
        for b in range(1, 13)
        for u in (1, 2, 3)
        for f in range(1, 19)
        for r in range(1, 5)
    ]  # 2,592 rooms
    people = [
        ["", room[0], room[1], room[2], f"住户{i}", f"138{i:08d}", "住户"]
        for i, room in zip(range(residents), rooms * (residents // len(rooms) + 1), strict=False)
    ]
    cars = [[f"京A{i:05d}", r[0], r[1], r[2], "住户车辆", "", ""] for i, r in enumerate(rooms)]
    # the product's own template writer, filled as an administrator fills the download
    return build_workbook({"rooms": rooms, "residents": people, "vehicles": cars}, {}, False)


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def one_run(data: bytes, residents: int) -> dict[str, float]:
    figures = {}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        audit.use_key_file(Path(folder) / "audit.key")
        db = connect(Path(folder) / "bench.db")
        now = datetime.now(UTC)
        figures["read only (baseline)"], _ = timed(
            lambda: sum(
                1 for s in load_workbook(io.BytesIO(data), read_only=True) for _ in s.iter_rows()
            )
        )
        figures["parse and check cells"], _ = timed(lambda: read_workbook(data))
        figures["dry run"], plan = timed(
            lambda: import_workbook(db, VAULT, data, ZONE, "bench", now, commit=False)
        )
        assert not plan.problems and plan.counts()["residents_added"] == residents
        figures["commit"], plan = timed(
            lambda: import_workbook(db, VAULT, data, ZONE, "bench", now, commit=True)
        )
        assert plan.committed
        figures["commit: write lock held"] = plan.transaction_ms
        figures["re-import (no-op)"], plan = timed(
            lambda: import_workbook(db, VAULT, data, ZONE, "bench", now, commit=True)
        )
        assert plan.changes == 0
        assert db.execute("SELECT COUNT(*) FROM residents").fetchone()[0] == residents
        db.conn.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        "unknown CPU",
    )  # fmt: skip
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores; load {os.getloadavg()}")
    data = community(args.residents)
    print(f"workbook: 2,592 rooms, {args.residents} residents, 2,592 vehicles; {len(data)} bytes")
    runs = [one_run(data, args.residents) for _ in range(args.runs)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name:>42}: median {statistics.median(values):8.0f} ms   max {max(values):8.0f} ms")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
