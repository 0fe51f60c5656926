"""Benchmark: the console's event reads on a big events table (feed poll, search pages).

Run: .venv/bin/python bench/console_events.py [--events N]

Fills a fresh database with N events (default 300 000, about a year of a busy gate) in
bulk, then times through the real app and its test client, logged in as a guard (no
audit rows, so only the read is measured):
- the feed poll every open live page makes every 0.7 s (nothing new, and one new event);
- the search page (first page with counts, a deep keyset page, a plate prefix, a gate);
- the keyset query alone against the OFFSET query it replaces, for a page deep in the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package `sync`, not bench/sync.py

from conftest import build_console_env as console_env  # noqa: E402
from conftest import build_gate_config as gate_config  # noqa: E402
from helpers import client_as  # noqa: E402

from edge.db import connect, iso, transaction  # noqa: E402
from edge.events import search as event_search  # noqa: E402
from edge.events.record import new_event_id  # noqa: E402
from edge.store.open import open_store  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=UTC)


def fill(config, count: int) -> None:
    open_store(config).conn.close()
    db = connect(config.storage.database_path)
    kinds = ["vehicle_passage"] * 8 + ["plate_unread", "face_passage"]
    with transaction(db) as conn:
        rows = []
        for i in range(count):
            at = START + timedelta(seconds=i * 100)
            kind = kinds[i % len(kinds)]
            gate = "east" if kind == "face_passage" else "north"
            plate = f"皖A{i % 90000 + 10000}" if kind == "vehicle_passage" else None
            decision = "open" if i % 3 else "deny"
            reasons = json.dumps([{"code": "x", "message": "bench"}])
            rows.append((new_event_id(at), iso(at), gate, kind, plate, None, 0.95, decision,
                         reasons, None, None, "{}"))  # fmt: skip
            if len(rows) == 10_000:
                conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                rows = []
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.conn.close()


def timed(label: str, call, repeats: int) -> None:
    call()  # warm
    values = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        values.append((time.perf_counter() - started) * 1000)
    values.sort()
    p95 = values[int(0.95 * (len(values) - 1))]
    print(f"{label:<58} median {statistics.median(values):8.2f} ms   p95 {p95:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        config = gate_config(tmp)
        env = console_env(tmp, config=config)
        started = time.perf_counter()
        fill(config, args.events)
        print(f"{args.events} events written in {time.perf_counter() - started:.1f} s")
        client = client_as(env, "guard")
        db = connect(config.storage.database_path)
        top = event_search.current_cursor(db.conn)

        def ok(url: str):
            def call() -> None:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            return call

        n = args.repeats
        timed(
            "feed poll, nothing new (GET /events/feed?after=top)",
            ok(f"/events/feed?after={top}"),
            n,
        )
        timed("feed poll, one new event", ok(f"/events/feed?after={top - 1}"), n)
        timed("search, first page + counts (no filter)", ok("/events/"), max(5, n // 5))
        middle = db.execute(
            "SELECT rowid, occurred_at FROM events ORDER BY occurred_at DESC LIMIT 1 OFFSET ?",
            [args.events // 2],
        ).fetchone()
        cursor = urllib.parse.quote(event_search.Cursor(middle[1], middle[0]).encode())
        timed(
            "search, keyset page half-way down + counts",
            ok(f"/events/?before={cursor}"),
            max(5, n // 5),
        )
        timed(
            "search, plate prefix 皖A123 + counts",
            ok("/events/?plate=皖A123&plate_match=prefix"),
            n,
        )
        timed("search, gate east + counts", ok("/events/?gate=east"), max(5, n // 5))
        filters = event_search.EventFilters()
        timed(
            "counts alone (no filter)",
            lambda: event_search.counts(db.conn, filters),
            max(5, n // 5),
        )
        before = event_search.Cursor(middle[1], middle[0])
        timed(
            "keyset query alone, half-way down",
            lambda: event_search.search(db.conn, filters, before),
            n,
        )
        offset_sql = (
            "SELECT rowid, * FROM events ORDER BY occurred_at DESC, rowid DESC LIMIT 51 OFFSET ?"
        )
        timed(
            "OFFSET query alone, half-way down (baseline)",
            lambda: db.execute(offset_sql, [args.events // 2]).fetchall(),
            max(5, n // 5),
        )


if __name__ == "__main__":
    main()
