"""Append-only, hash-chained audit log: who viewed, revealed, exported or changed what.

Why a hash chain on top of the SQLite triggers that forbid UPDATE/DELETE: anyone with the
database file can drop a trigger. Each row's hash covers its own fields *and the previous
row's hash*, so editing, deleting or re-ordering any row breaks every later link, and
:func:`verify` names the first broken row. (Whoever can rewrite the whole tail can re-hash
it; exporting the last hash elsewhere — e.g. with the district uplink — closes that.)

Rows are written inside the caller's transaction when the audited change is a write, so
the change and its audit row commit together; reads are audited in their own transaction.
Details hold ids and reasons, never plaintext personal data.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, transaction, utc_now

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "action", "target", "details", "prev_hash")


def _row_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps([values[f] for f in _FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Add one row inside the caller's write transaction; returns its sequence number."""
    if not conn.in_transaction:
        raise RuntimeError("audit rows are written inside a write transaction")
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    values = {
        "seq": seq,
        "at": iso(at or utc_now()),
        "actor": actor,
        "action": action,
        "target": target,
        "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        "prev_hash": prev,
    }
    values["hash"] = _row_hash(values)
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
        "VALUES (:seq, :at, :actor, :action, :target, :details, :prev_hash, :hash)",
        values,
    )
    return seq


def record(db: sqlite_utils.Database, actor: str, action: str, target: str = "", **details) -> int:  # type: ignore[no-untyped-def]
    """Audit a read (view, search, export) in its own transaction."""
    with transaction(db) as conn:
        return append(conn, actor, action, target, details)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify(db: sqlite_utils.Database) -> VerifyResult:
    """Recompute the chain from the first row; report the first row that does not fit."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    cursor = db.execute(
        "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log "
        "ORDER BY seq"
    )
    for row in cursor:
        values = dict(zip((*_FIELDS, "hash"), row, strict=True))
        count += 1
        seq = values["seq"]
        if seq != expected_seq:
            return VerifyResult(False, count, seq, f"row {expected_seq} is missing")
        if values["prev_hash"] != prev:
            return VerifyResult(False, count, seq, "does not link to the row before it")
        if _row_hash(values) != values["hash"]:
            return VerifyResult(False, count, seq, "its content was changed")
        prev = values["hash"]
        expected_seq += 1
    return VerifyResult(True, count)


def recent(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT seq, at, actor, action, target, details FROM audit_log ORDER BY seq DESC LIMIT ?",
        [limit],
    ).fetchall()
    names = ("seq", "at", "actor", "action", "target", "details")
    return [dict(zip(names, r, strict=True)) for r in rows]
