"""Failed logins in the audit log: one row per address per hour, with the count.

Why not one row per failure: the audit log is append-only and never pruned, so a login
flood wrote an undeletable row per try until the SD card filled. Failures are counted in
``login_failures`` (one row per address and hour, at most ``MAX_ADDRESSES`` per hour; the
rest share the address ``*``) and each finished hour becomes one audit row
``login_failures`` with the address, the hour and the count. The count itself is written
in the same transaction as nothing else, so a failure is never lost to a crash; finished
hours are moved to the audit log by the next failed login or by the checkpoint timer.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import sqlite_utils

from edge import audit
from edge.db import iso, parse_iso, transaction

WINDOW = timedelta(hours=1)
MAX_ADDRESSES = 1000
OVERFLOW_ADDRESS = "*"


def window_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def note_failure(db: sqlite_utils.Database, address: str, now: datetime) -> None:
    """Count one failed login from ``address``; finished hours go to the audit log first."""
    with transaction(db) as conn:
        flush_finished(conn, now)
        start = iso(window_start(now))
        known = conn.execute(
            "SELECT 1 FROM login_failures WHERE address = ? AND window_start = ?",
            (address, start),
        ).fetchone()
        if known is None:
            seen = conn.execute(
                "SELECT COUNT(*) FROM login_failures WHERE window_start = ?", (start,)
            ).fetchone()[0]
            if seen >= MAX_ADDRESSES:
                address = OVERFLOW_ADDRESS
        conn.execute(
            "INSERT INTO login_failures (address, window_start, failures, first_at, last_at)"
            " VALUES (?, ?, 1, ?, ?) ON CONFLICT (address, window_start)"
            " DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
            (address[:64], start, iso(now), iso(now)),
        )


def flush_finished(conn: sqlite3.Connection, now: datetime) -> int:
    """Move every finished hour into the audit log (inside the caller's transaction)."""
    current = iso(window_start(now))
    rows = conn.execute(
        "SELECT address, window_start, failures, first_at, last_at FROM login_failures"
        " WHERE window_start < ? ORDER BY window_start, address",
        (current,),
    ).fetchall()
    for address, start, failures, first_at, last_at in rows:
        begun = parse_iso(start)
        assert begun is not None
        audit.append(
            conn,
            "anonymous",
            "login_failures",
            f"address:{address}",
            {
                "address": address,
                "window_start": start,
                "window_end": iso(begun + WINDOW),
                "failures": failures,
                "first_at": first_at,
                "last_at": last_at,
            },
            at=now,
        )
    conn.execute("DELETE FROM login_failures WHERE window_start < ?", (current,))
    return len(rows)


def flush(db: sqlite_utils.Database, now: datetime) -> int:
    """Own-transaction form for the checkpoint timer; returns the audit rows written."""
    with transaction(db) as conn:
        return flush_finished(conn, now)
