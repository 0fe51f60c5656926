"""Benchmark: the dashboard's figures on a year of gate events (300 000 rows by default).

Run: .venv/bin/python bench/dashboard.py [--events N] [--repeats R]

Fills a fresh database in bulk with N events spread over the last 365 days (three gates,
a third of the passages denied with one of six reasons, a few alarms) and 2 000 tenant
registrations over 12 buildings, then times in the same run:
- ``edge.events.stats.dashboard`` (every figure of the page) with migration 10's indexes;
- the same with those two indexes dropped (the indexes the table had before);
- a naive reading: every event of the 30 days fetched and counted in Python by local hour
  (what a first version without SQL grouping would do);
- the whole page through the real app (test client, admin) with the indexes.
Prints the CPU model and the load average at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package `sync`, not bench/sync.py

from helpers import PASSWORD, csrf_of  # noqa: E402

from edge.config import parse_config  # noqa: E402
from edge.db import connect, iso, transaction  # noqa: E402
from edge.events import stats as event_stats  # noqa: E402
from edge.events.record import new_event_id  # noqa: E402
from edge.store.open import open_store  # noqa: E402
from edge.web.accounts import create_user  # noqa: E402
from edge.web.app import create_app  # noqa: E402
from qr_registry.rooms import add_room  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
REASONS = ["unknown_vehicle", "resident_expired", "plate_unread", "unknown_face",
           "outside_schedule", "visitor_expired"]  # fmt: skip


def machine() -> str:
    model = "unknown CPU"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def site(tmp: Path):
    return parse_config(
        {
            "storage": {"data_dir": str(tmp / "data")},
            "security": {"pii_key_file": str(tmp / "keys" / "pii.key"),
                         "audit_key_file": str(tmp / "keys" / "audit.key")},
            "web": {"secure_cookies": False},
            "registry": {"base_url": "http://127.0.0.1:8080"},
            "hardware": {"pin_factory": "mock"},
            "gates": [
                {"id": gate, "name": name, "kind": kind, "camera": {"source": "/dev/null"},
                 **({"barrier": {"open_pin": pin}} if kind == "vehicle"
                    else {"lock": {"relay_pin": pin}})}
                for gate, name, kind, pin in (
                    ("north", "北门车行", "vehicle", 17), ("south", "南门车行", "vehicle", 18),
                    ("east", "东门人行", "pedestrian", 22))
            ],
        }
    )  # fmt: skip


def fill(config, count: int, registrations: int) -> None:
    open_store(config).conn.close()
    db = connect(config.storage.database_path)
    step = 365 * 86400 / count
    gates = ["north", "south", "east"]
    with transaction(db) as conn:
        rows = []
        for i in range(count):
            at = NOW - timedelta(seconds=i * step)
            gate = gates[i % 3]
            if i % 97 == 0:
                kind, decision, reasons = "door_held_open", "none", [{"code": "door_held_open"}]
            else:
                kind = "face_passage" if gate == "east" else "vehicle_passage"
                decision = "deny" if i % 3 == 0 else "open"
                code = REASONS[i % len(REASONS)] if decision == "deny" else "resident_vehicle"
                reasons = [{"code": code, "message": "bench"}]
            rows.append((new_event_id(at), iso(at), gate, kind, None, None, 0.95, decision,
                         json.dumps(reasons), None, None, "{}"))  # fmt: skip
            if len(rows) == 10_000:
                conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                rows = []
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        admin = create_user(conn, "admin1", PASSWORD, "admin", NOW).id
        room_ids = [
            add_room(conn, "幸福小区", f"{b}幢", f"{u}单元", f"{f}0{r}", admin, NOW).id
            for b in range(1, 13) for u in (1, 2) for f in (1, 2, 3) for r in (1, 2)
        ]  # fmt: skip
        reg_rows = []
        for i in range(registrations):
            submitted = NOW - timedelta(hours=i)
            reg_rows.append((new_event_id(submitted), room_ids[i % len(room_ids)],
                             "pending" if i % 4 else "confirmed", iso(submitted),
                             iso(submitted + timedelta(days=3)), iso(submitted)))  # fmt: skip
        conn.executemany(
            "INSERT INTO registrations (id, ref_code, room_id, status, doc_type, doc_enc, doc_hash,"
            " doc_mask, phone_enc, phone_hash, phone_mask, hukou_address_enc, relation,"
            " move_in_date, expected_until, consent_at, consent_version, submitted_at,"
            " confirm_deadline, updated_at, person_enc) VALUES (?, ?, ?, ?, 'id', x'00', 'h', 'm',"
            " x'00', 'h', 'm', x'00', 'tenant', '2026-01-01', '2027-01-01', ?, 'v1', ?, ?, ?,"
            " x'00')",
            [
                (r[0], f"B{n:08d}", r[1], r[2], r[3], r[3], r[4], r[5])
                for n, r in enumerate(reg_rows)
            ],
        )
    db.conn.close()


def naive(conn, now: datetime) -> Counter:
    """Every passage of the 30 days read and bucketed in Python (the baseline)."""
    start, end = event_stats.window(now, ZONE)
    counts: Counter = Counter()
    for at, gate, decision, reasons in conn.execute(
        "SELECT occurred_at, gate_id, decision, reasons FROM events"
        " WHERE occurred_at >= ? AND occurred_at < ?",
        (iso(start), iso(end)),
    ):
        if decision in ("open", "deny"):
            local = datetime.fromisoformat(at).astimezone(ZONE)
            counts[(local.date(), local.hour, gate, decision)] += 1
            if decision == "deny":
                counts[json.loads(reasons)[0].get("code")] += 1
    return counts


def parts(conn, repeats: int) -> None:
    """Each query of the dashboard alone."""
    start, end = event_stats.window(NOW, ZONE)
    timed("  traffic by hour and day", lambda: event_stats.traffic(conn, NOW, ZONE), repeats)
    timed("  top deny reasons", lambda: event_stats.deny_reasons(conn, start, end), repeats)
    timed("  alarms by kind", lambda: event_stats.alarms(conn, start, end), repeats)
    timed("  registrations per building",
          lambda: event_stats.registrations_by_building(conn, NOW), repeats)  # fmt: skip


def timed(label: str, call, repeats: int) -> float:
    call()  # warm
    values = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        values.append((time.perf_counter() - started) * 1000)
    values.sort()
    median = statistics.median(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    print(f"{label:<60} median {median:8.2f} ms   p95 {p95:8.2f} ms")
    return median


def page(app):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"csrf_token": token, "username": "admin1", "password": PASSWORD})

    def get() -> None:
        response = client.get("/dashboard/")
        assert response.status_code == 200, response.status_code

    return get


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--registrations", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as folder:
        config = site(Path(folder))
        app = create_app(config, clock=lambda: NOW)  # migrates, makes the keys
        started = time.perf_counter()
        fill(config, args.events, args.registrations)
        print(f"filled {args.events} events, {args.registrations} registrations"
              f" in {time.perf_counter() - started:.1f} s")  # fmt: skip
        db = connect(config.storage.database_path)
        conn = db.conn
        figures = event_stats.dashboard(conn, NOW, ZONE)
        in_window = sum(sum(v) for v in figures.daily.values())
        print(f"passages in the 30 days: {in_window}; today: "
              f"{sum(sum(v) for v in figures.hourly.values())}")  # fmt: skip
        plan = conn.execute("EXPLAIN QUERY PLAN " + event_stats.TRAFFIC_SQL,
                            {"cut": "60", "start": "", "end": ""}).fetchall()  # fmt: skip
        print("traffic plan with indexes:", "; ".join(row[-1] for row in plan))
        plan = conn.execute("EXPLAIN QUERY PLAN " + event_stats.DENY_REASONS_SQL,
                            {"start": "", "end": "", "limit": 5}).fetchall()  # fmt: skip
        print("deny reasons plan with indexes:", "; ".join(row[-1] for row in plan))
        repeats = args.repeats
        parts(conn, repeats)
        with_index = timed("dashboard figures, with migration 10's indexes",
                           lambda: event_stats.dashboard(conn, NOW, ZONE), repeats)  # fmt: skip
        timed("dashboard page through the app (admin), with indexes", page(app), repeats)
        conn.execute("DROP INDEX events_traffic")
        conn.execute("DROP INDEX events_deny_reason")
        conn.execute("ANALYZE")
        plan = conn.execute("EXPLAIN QUERY PLAN " + event_stats.TRAFFIC_SQL,
                            {"cut": "60", "start": "", "end": ""}).fetchall()  # fmt: skip
        print("traffic plan without them:", "; ".join(row[-1] for row in plan))
        parts(conn, repeats)
        without = timed("dashboard figures, without them (indexes of migration 9)",
                        lambda: event_stats.dashboard(conn, NOW, ZONE), repeats)  # fmt: skip
        baseline = timed("naive: 30 days of rows counted in Python (baseline)",
                         lambda: naive(conn, NOW), max(3, repeats // 4))  # fmt: skip
        print(
            f"with the indexes: {without / with_index:.1f}x faster than without,"
            f" {baseline / with_index:.1f}x faster than the naive reading"
        )
        db.conn.close()
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
