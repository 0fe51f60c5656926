"""Benchmark: GA/T 1400 notifications per second to a loopback VIID simulator.

Run: .venv/bin/python bench/gat1400.py [--events 20000] [--batch 200]

A backlog of vehicle passages (no snapshots) goes out twice through the one outbox: as
direct MotorVehicle uploads and, for a subscription the platform made, as
SubscribeNotifications (one per event, built by the fan-out). The platform (the
``standard`` profile of sync.gat1400.simulator) runs in its own process and stores every
object once by ID. Baseline in the same run: batch 1 on a slice. Afterwards: lost = IDs the
box should have sent that the platform lacks; duplicates = receipts beyond one per ID.
Prints the CPU model and load average: figures on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]

from conftest import build_box as make_box  # noqa: E402

from edge.config.sync import SyncConfig  # noqa: E402
from edge.db import transaction  # noqa: E402
from sync.gat1400.client import Gat1400Protocol  # noqa: E402
from sync.gat1400.objects import object_id  # noqa: E402
from sync.gat1400.store import FANOUT_BATCH, fan_out, parse_subscription, save_subscription  # noqa: E402
from sync.transport import Transport  # noqa: E402
from sync.uplink import UplinkWorker  # noqa: E402

DEVICE = "34010000001190000001"
APE = "34010000001190000011"
ZONE = ZoneInfo("Asia/Shanghai")
USERS = {DEVICE: "bench-password"}


def serve(db_path: str, urls: mp.Queue, stop: mp.Event) -> None:
    from sync.gat1400.simulator import ViidSimulator

    with ViidSimulator("standard", USERS, db_path) as platform:
        urls.put(platform.url)
        stop.wait()
        urls.put((platform.receipts, platform.duplicates()))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def box(folder: Path, name: str, events: int, url: str):
    db = make_box(folder / name, events, start=datetime.now(UTC) - timedelta(minutes=1))
    now = datetime.now(ZONE)
    doc = {
        "SubscribeID": "340100000000022026050100000000001",
        "SubscribeDetail": "13",
        "BeginTime": (now - timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
        "EndTime": (now + timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
        "ReceiveAddr": f"{url}/VIID/SubscribeNotifications",
    }
    with transaction(db) as conn:
        save_subscription(conn, parse_subscription(doc, ZONE, {"127.0.0.1"}), doc, now, 8)
    return db


def drain(db, url: str, batch: int) -> tuple[int, float, float]:
    config = SyncConfig(
        platform_url=url,
        protocol="gat1400",
        device_id=DEVICE,
        secret_file="unused",
        batch_size=batch,
        gat1400={"apes": [{"gate": "g1", "ape_id": APE}], "time_sync_s": 0},
    )
    proto = Gat1400Protocol(Transport(url, 5, 30), config, USERS[DEVICE], ZONE, db)
    worker = UplinkWorker(db, proto, batch)
    start = time.perf_counter()
    while fan_out(db, DEVICE, proto.apes, datetime.now(UTC)) == FANOUT_BATCH:
        pass
    fanned = time.perf_counter() - start
    sent = 0
    while True:
        result = worker.step()
        if result.error:
            raise SystemExit(f"uplink failed: {result.error}")
        if result.idle:
            break
        sent += result.delivered
    return sent, time.perf_counter() - start, fanned


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--baseline-events", type=int, default=500)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} x {os.cpu_count()}; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        urls: mp.Queue = mp.Queue()
        stop = mp.Event()
        platform_db = str(Path(folder) / "platform.db")
        server = mp.Process(target=serve, args=(platform_db, urls, stop))
        server.start()
        url = urls.get(timeout=30)
        db = box(Path(folder), "box.db", args.events, url)
        rows, seconds, fanned = drain(db, url, args.batch)
        notes = rows // 2
        print(
            f"batch {args.batch}: {args.events} events = {rows} rows ({notes} notifications +"
            f" {rows - notes} MotorVehicles) in {seconds:.2f} s = {rows / seconds:.0f} rows/s,"
            f" {notes / seconds:.0f} notifications/s (fan-out {fanned:.2f} s of it)"
        )
        base = box(Path(folder), "baseline.db", args.baseline_events, url)
        b_rows, b_seconds, _ = drain(base, url, 1)
        print(f"baseline batch 1: {b_rows} rows in {b_seconds:.2f} s = {b_rows / b_seconds:.0f}"
              " rows/s")  # fmt: skip
        stop.set()
        receipts, duplicates = urls.get(timeout=30)
        server.join(30)
        import sqlite3

        held = sqlite3.connect(platform_db)
        ids = {i for (i,) in held.execute("SELECT id FROM objects")}
        notified = {i for (i,) in held.execute(
            "SELECT json_extract(body, '$.InfoIDs') FROM objects"
            " WHERE path = '/VIID/SubscribeNotifications'")}  # fmt: skip
        expected = set()
        for database in (db, base):
            for (key,) in database.execute("SELECT key FROM outbox WHERE topic = 'event'"):
                expected.add(object_id(APE, key, "02", ZONE))
        lost = len(expected - ids) + len(expected - notified)
        undelivered = sum(
            d.execute("SELECT COUNT(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
            for d in (db, base)
        )
        print(
            f"undelivered on box: {undelivered}; lost: {lost}; duplicates after dedupe: "
            f"{duplicates}; receipts: {receipts}; load average after: {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
