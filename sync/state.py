"""Small named values the sync process keeps between runs (downlink ETags, last outcomes).

A table rather than a file so a list and its ETag are written in the same transaction:
after a crash the box never believes it holds a version it did not apply.
"""

from __future__ import annotations

import sqlite3

from edge.db import iso, utc_now


def get_state(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def set_state(conn: sqlite3.Connection, name: str, value: str) -> None:
    """Must run inside the caller's transaction."""
    conn.execute(
        "INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (name, value, iso(utc_now())),
    )


def all_state(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT name, value FROM sync_state ORDER BY name").fetchall())
