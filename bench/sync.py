"""Benchmark: drain an event backlog to the reference platform over loopback, with the
snapshots a real box sends inline, and without them as the comparison.

Run: .venv/bin/python bench/sync.py [--events 20000] [--plain-events 100000] [--batch 500]

The scenario: a box that was offline for days comes back with a large backlog
and must catch up quickly without losing or duplicating anything. Every event of a box's
gate carries a snapshot, so the headline drain sends each event with its JPEG inline
(base64, as ``[sync] snapshots = "inline"`` does). The JPEGs are demo scenes
(``edge.plates.synth``, 1280x720) with sensor noise and brightness varied, saved through
``SnapshotStore`` at the default quality and width: ``--snapshots`` distinct files (200) the
events cycle through; their size distribution is printed. The noise matters: the demo's own
noiseless scenes compress to a fraction of that, while a real camera's frames carry noise
too; the drain rate follows the bytes sent, so the printed MB/s is the figure to carry to a
site whose snapshot sizes are known.
The platform runs in its own process (as a real one would be elsewhere) and stores every row
in SQLite deduplicated by key. Baseline in the same run: batch size 1 (one request per
event) on a slice of the backlog, to show what batching buys. After the drain the platform's
rows are compared with the box's outbox: lost = keys the box has that the platform lacks;
duplicates = platform rows beyond the box's keys (after dedupe by key); the raw receipt
count is printed too.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the `sync` package: keep its folder off the import path.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]

from datetime import UTC, datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import numpy as np  # noqa: E402
import sqlite_utils  # noqa: E402
from helpers import GATE, SECRET  # noqa: E402

from edge.db import connect, iso  # noqa: E402
from edge.events.record import NewEvent, record_event  # noqa: E402
from edge.store.snapshots import SnapshotResult, SnapshotStore  # noqa: E402
from sync.json_protocol import JsonProtocol  # noqa: E402
from sync.transport import Transport  # noqa: E402
from sync.uplink import UplinkWorker  # noqa: E402


class CyclingSnapshots(SnapshotStore):
    """Points each event at one of the pre-made demo snapshots (saving 100,000 JPEGs would
    measure the SD card, not the uplink)."""

    def __init__(self, root: Path, paths: list[str]) -> None:
        super().__init__(root, ZoneInfo("Asia/Shanghai"))
        self.paths = paths
        self.n = 0

    def save(self, event_id: str, image: np.ndarray, at: datetime) -> SnapshotResult:
        self.n += 1
        return SnapshotResult(self.paths[self.n % len(self.paths)])


def demo_snapshots(root: Path, count: int = 200) -> list[str]:
    """What the demo's vehicle gate saves: synthetic plate scenes through SnapshotStore."""
    from edge.plates.synth import render_scene

    store = SnapshotStore(root, ZoneInfo("Asia/Shanghai"))
    rng = np.random.default_rng(7)
    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    paths = []
    for i in range(count):
        plate = f"{'皖京粤苏浙'[i % 5]}A{(i * 7919) % 100000:05d}"
        scene = render_scene(plate, seed=i, noise=float(rng.uniform(0, 8)),
                             brightness=float(rng.uniform(0.7, 1.2)))  # fmt: skip
        saved = store.save(f"snap{i:04d}", scene, at)
        assert saved.relative_path, saved.error
        paths.append(saved.relative_path)
    return paths


def make_box(path: Path, events: int, snapshots: SnapshotStore | None) -> sqlite_utils.Database:
    db = connect(path)
    db.conn.execute(
        "INSERT OR IGNORE INTO gates (id, name, kind, updated_at) VALUES (?, 'Gate', 'vehicle', ?)",
        (GATE, iso(datetime.now(UTC))),
    )
    db.conn.execute("PRAGMA synchronous = OFF")  # filling the backlog is not what is measured
    start = datetime(2026, 5, 1, 8, tzinfo=UTC)
    frame = np.zeros((2, 2, 3), np.uint8) if snapshots else None
    for i in range(events):
        event = NewEvent(GATE, "vehicle_passage", start + timedelta(milliseconds=i), "open",
                         plate=f"皖A{i % 100000:05d}", confidence=0.95,
                         details={"colour": "blue"})  # fmt: skip
        record_event(db, event, frame, snapshots)
    db.conn.execute("PRAGMA synchronous = FULL")
    return db


def serve(db_path: str, urls: mp.Queue, stop: mp.Event) -> None:
    from sync.reference_platform import ReferencePlatform

    with ReferencePlatform(db_path, secret=SECRET) as platform:
        urls.put(platform.url)
        stop.wait()
        urls.put(platform.receipts)


def drain(
    db, url: str, batch: int, snapshot_dir: Path | None = None, limit: int | None = None
) -> tuple[int, float]:
    protocol = JsonProtocol(Transport(url, 5, 30), "bench", "hmac", SECRET, snapshot_dir)
    worker = UplinkWorker(db, protocol, batch)
    sent, start = 0, time.perf_counter()
    while limit is None or sent < limit:
        result = worker.step()
        if result.error:
            raise SystemExit(f"uplink failed: {result.error}")
        if result.idle:
            break
        sent += result.delivered
    return sent, time.perf_counter() - start


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000, help="drained with snapshots")
    parser.add_argument("--plain-events", type=int, default=100_000, help="without snapshots")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline-events", type=int, default=2000)
    parser.add_argument("--snapshots", type=int, default=200, help="distinct demo JPEGs")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        snaps = Path(folder) / "snapshots"
        paths = demo_snapshots(snaps, args.snapshots)
        sizes = sorted((snaps / p).stat().st_size for p in paths)
        kib = [size / 1024 for size in sizes]
        print(
            f"demo snapshots: {len(kib)} files, median {kib[len(kib) // 2]:.1f} KiB,"
            f" p10 {kib[len(kib) // 10]:.1f}, p90 {kib[len(kib) * 9 // 10]:.1f},"
            f" max {kib[-1]:.1f} KiB"
        )
        t0 = time.perf_counter()
        db = make_box(Path(folder) / "box.db", args.events, CyclingSnapshots(snaps, paths))
        plain = make_box(Path(folder) / "plain.db", args.plain_events, None)
        print(f"backlogs written in {time.perf_counter() - t0:.1f} s")
        urls: mp.Queue = mp.Queue()
        stop = mp.Event()
        platform_db = str(Path(folder) / "platform.db")
        server = mp.Process(target=serve, args=(platform_db, urls, stop))
        server.start()
        url = urls.get(timeout=30)

        snap_n, snap_s = drain(db, url, args.batch, snaps)
        sent_mb = snap_n * (sum(sizes) / len(sizes)) * 4 / 3 / 1e6
        print(
            f"WITH SNAPSHOTS, batch {args.batch}: {snap_n} events in {snap_s:.2f} s ="
            f" {snap_n / snap_s:.0f} ev/s ({sent_mb / snap_s:.1f} MB/s of base64 snapshots);"
            f" 100,000 would take {100_000 / (snap_n / snap_s):.0f} s"
        )
        rest_n, rest_s = drain(plain, url, args.batch)
        print(f"without snapshots, batch {args.batch}: {rest_n} events in {rest_s:.2f} s ="
              f" {rest_n / rest_s:.0f} ev/s")  # fmt: skip
        base_db = make_box(Path(folder) / "baseline.db", args.baseline_events, None)
        base_n, base_s = drain(base_db, url, 1)
        print(f"baseline batch 1: {base_n} events in {base_s:.2f} s = {base_n / base_s:.0f} ev/s")
        print(f"speed-up of batching: {(rest_n / rest_s) / (base_n / base_s):.1f}x")
        print(f"machine after: {machine()}")

        stop.set()
        receipts = urls.get(timeout=30)
        server.join(30)
        boxes = (db, plain, base_db)
        box_keys = {k for box in boxes for (k,) in box.execute("SELECT key FROM outbox")}
        pending = sum(
            box.execute("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
            for box in boxes
        )
        held = sqlite3.connect(platform_db)
        platform_keys = [k for (k,) in held.execute("SELECT key FROM received")]
        lost = len(box_keys - set(platform_keys))
        duplicates = (
            len(platform_keys) - len(set(platform_keys)) + len(set(platform_keys) - box_keys)
        )
        print(
            f"undelivered on box: {pending}; lost: {lost}; duplicates after dedupe: "
            f"{duplicates}; rows received incl. resends: {receipts}"
        )


if __name__ == "__main__":
    main()
