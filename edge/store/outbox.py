"""The durable outbox: rows the district platform must receive, written by their producers.

A producer (the gate writing an event, the registry writing a registration change)
calls :func:`enqueue` inside the same SQLite transaction as the record itself, so a row
exists for every committed record and for nothing that was rolled back. The uplink worker
(sync.uplink) reads ``pending`` rows oldest first and marks them delivered only after
the platform acknowledges; the key is the producer's ULID, the idempotency key end to end.
Rows are never deleted here: a row the platform refuses becomes ``dead`` with the reason
and stays until an operator requeues it (only retention removes delivered rows).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, transaction
from edge.pii import PiiVault

SEALED_FIELD = "personal_sealed"


def open_sealed(row: OutboxRow, vault: PiiVault) -> str:
    """The row's payload with its sealed personal part opened (``personal``), for sending
    over TLS. A producer seals with purpose ``outbox.<topic>:<key>`` (qr_registry's
    registrations do); a payload without a seal is returned as stored. Raises
    PiiDecryptError when the seal does not open (wrong key, tampered row)."""
    if SEALED_FIELD not in row.payload:
        return row.payload
    doc = json.loads(row.payload)
    sealed = doc.pop(SEALED_FIELD, None)
    if not isinstance(sealed, str):
        return row.payload
    plain = vault.decrypt_text(base64.b64decode(sealed), f"outbox.{row.topic}:{row.key}")
    doc["personal"] = json.loads(plain)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


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


# -- the uplink worker's side ----------------------------------------------------------------
@dataclass(frozen=True)
class OutboxRow:
    seq: int
    key: str
    topic: str
    payload: str  # JSON text exactly as the producer wrote it
    created_at: str
    attempts: int


def next_batch(conn: sqlite3.Connection, limit: int) -> list[OutboxRow]:
    """The oldest pending rows; dead rows are skipped so they never block the ones behind."""
    rows = conn.execute(
        "SELECT seq, key, topic, payload, created_at, attempts FROM outbox"
        " WHERE state = 'pending' ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [OutboxRow(*row) for row in rows]


def mark_delivered(db: sqlite_utils.Database, seqs: list[int], at: datetime) -> None:
    """Only after the platform acknowledged these rows; a crash before this resends them."""
    if not seqs:
        return
    with transaction(db) as conn:
        conn.executemany(
            "UPDATE outbox SET state = 'delivered', delivered_at = ?, last_error = NULL,"
            " attempts = attempts + 1 WHERE seq = ? AND state = 'pending'",
            [(iso(at), seq) for seq in seqs],
        )


def mark_dead(db: sqlite_utils.Database, seq: int, reason: str) -> None:
    """Dead-letter one row with the platform's reason; it stays in the table, visible."""
    with transaction(db) as conn:
        conn.execute(
            "UPDATE outbox SET state = 'dead', last_error = ?, attempts = attempts + 1"
            " WHERE seq = ? AND state = 'pending'",
            (reason[:500], seq),
        )


def note_failure(db: sqlite_utils.Database, seqs: list[int], error: str) -> None:
    """Record a failed attempt (platform down, timeout) on the rows that were in flight."""
    with transaction(db) as conn:
        conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?"
            " WHERE seq = ? AND state = 'pending'",
            [(error[:500], seq) for seq in seqs],
        )


def dead_rows(conn: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT seq, key, topic, created_at, attempts, last_error FROM outbox"
        " WHERE state = 'dead' ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()
    names = ("seq", "key", "topic", "created_at", "attempts", "reason")
    return [dict(zip(names, row, strict=True)) for row in rows]


def requeue_dead(db: sqlite_utils.Database, key: str | None = None) -> int:
    """Put dead rows (one key, or all) back in the queue once the cause is fixed."""
    with transaction(db) as conn:
        if key is None:
            cursor = conn.execute("UPDATE outbox SET state = 'pending' WHERE state = 'dead'")
        else:
            cursor = conn.execute(
                "UPDATE outbox SET state = 'pending' WHERE state = 'dead' AND key = ?", (key,)
            )
        return cursor.rowcount


def oldest_pending_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1"
    ).fetchone()
    return row[0] if row else None
