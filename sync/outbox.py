"""The durable outbox: rows the district platform must receive, written by their producers.

A producer (the gate writing an event, later the registry writing a registration change)
calls :func:`enqueue` inside the same SQLite transaction as the record itself, so a row
exists for every committed record and for nothing that was rolled back. The uplink worker
(a later issue) reads ``pending`` rows oldest first and marks them delivered only after
the platform acknowledges; the key is the producer's ULID, the idempotency key end to end.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from edge.db import iso


def enqueue(
    conn: sqlite3.Connection, key: str, topic: str, payload: dict[str, Any], at: datetime
) -> None:
    """Add one pending row; must run inside the caller's transaction."""
    if not conn.in_transaction:
        raise RuntimeError("outbox rows are written only inside the producer's transaction")
    conn.execute(
        "INSERT INTO outbox (key, topic, payload, created_at) VALUES (?, ?, ?, ?)",
        (key, topic, json.dumps(payload, ensure_ascii=False, separators=(",", ":")), iso(at)),
    )


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per state, for health pages and `menwei events`."""
    rows = conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    result = {"pending": 0, "delivered": 0, "dead": 0}
    result.update({state: n for state, n in rows})
    return result
