"""QR passes for the pedestrian gate: opaque random tokens with a validity window and uses.

Why opaque: the token is 192 random bits and means nothing by itself; only its SHA-256 is
stored (a leaked database cannot be turned into working passes; the token's entropy makes a
plain hash sufficient). A use is consumed with one guarded UPDATE, so two gates reading the
same pass at once cannot both spend its last use.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, parse_iso, transaction, utc_now
from edge.people.vehicles import EnrolmentError
from edge.policy.person import PassFact

PREFIX = "MWP1."
_TOKEN = re.compile(r"^MWP1\.[A-Za-z0-9_-]{32}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_pass(text: str) -> bool:
    return bool(_TOKEN.match(text.strip()))


def issue_pass(
    db: sqlite_utils.Database,
    label: str,
    valid_from: datetime,
    valid_to: datetime,
    max_uses: int = 1,
    host_resident_id: int | None = None,
    group: str = "visitors",
) -> tuple[int, str]:
    """Store a new pass; returns (id, token). The token is shown once and never stored."""
    with transaction(db) as conn:
        return insert_pass(
            conn, label, valid_from, valid_to, max_uses, host_resident_id, group, None, utc_now()
        )


def insert_pass(
    conn: Any,
    label: str,
    valid_from: datetime,
    valid_to: datetime,
    max_uses: int,
    host_resident_id: int | None,
    group: str,
    issued_by: str | None,
    now: datetime,
) -> tuple[int, str]:
    """``issue_pass`` inside the caller's transaction (the console claims its form nonce and
    writes its audit row in the same one); returns (id, token)."""
    if valid_from.tzinfo is None or valid_to.tzinfo is None:
        raise EnrolmentError("validity times need a time zone")
    if valid_from >= valid_to:
        raise EnrolmentError("valid_from must be before valid_to")
    if not 1 <= max_uses <= 1000:
        raise EnrolmentError("max_uses must be 1-1000")
    label = label.strip()
    if not 1 <= len(label) <= 60:
        raise EnrolmentError("label must be 1-60 characters (no ID numbers or phones)")
    token = PREFIX + secrets.token_urlsafe(24)
    if (
        host_resident_id is not None
        and not conn.execute("SELECT 1 FROM residents WHERE id = ?", (host_resident_id,)).fetchone()
    ):
        raise EnrolmentError("no resident %(id)s", {"id": host_resident_id})
    cursor = conn.execute(
        "INSERT INTO qr_passes (token_hash, label, host_resident_id, access_group,"
        " valid_from, valid_to, max_uses, created_at, issued_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token_hash(token),
            label,
            host_resident_id,
            group,
            iso(valid_from),
            iso(valid_to),
            max_uses,
            iso(now),
            issued_by,
        ),
    )
    return int(cursor.lastrowid), token


def pass_fact(db: sqlite_utils.Database, token: str) -> PassFact | None:
    if not looks_like_pass(token):
        return None
    row = db.execute(
        "SELECT id, access_group, label, valid_from, valid_to, uses, max_uses, revoked"
        " FROM qr_passes WHERE token_hash = ?",
        (token_hash(token.strip()),),
    ).fetchone()
    if not row:
        return None
    valid_from, valid_to = parse_iso(row[3]), parse_iso(row[4])
    assert valid_from is not None and valid_to is not None  # NOT NULL columns
    return PassFact(row[0], row[1], row[2], valid_from, valid_to, row[5], row[6], bool(row[7]))


def consume_use(db: sqlite_utils.Database, pass_id: int, now: datetime) -> bool:
    """Spend one use if the pass is still usable now; False if another gate got there first."""
    with transaction(db) as conn:
        cursor = conn.execute(
            "UPDATE qr_passes SET uses = uses + 1 WHERE id = ? AND uses < max_uses"
            " AND revoked = 0 AND valid_from <= ? AND valid_to > ?",
            (pass_id, iso(now), iso(now)),
        )
        return cursor.rowcount == 1


def revoke_pass(db: sqlite_utils.Database, pass_id: int) -> None:
    """Stop a pass working at once (a lost phone, a visit cancelled); the row stays as history."""
    with transaction(db) as conn:
        row = conn.execute("SELECT revoked FROM qr_passes WHERE id = ?", (pass_id,)).fetchone()
        if row is None:
            raise EnrolmentError("no pass %(id)s", {"id": pass_id})
        if row[0]:
            raise EnrolmentError("pass %(id)s is already revoked", {"id": pass_id})
        conn.execute("UPDATE qr_passes SET revoked = 1 WHERE id = ?", (pass_id,))


def list_passes(db: sqlite_utils.Database) -> list[dict[str, object]]:
    """Passes with their validity and uses; tokens are not stored, so never listed."""
    rows = db.execute(
        "SELECT id, label, host_resident_id, access_group, valid_from, valid_to, uses,"
        " max_uses, revoked FROM qr_passes ORDER BY id"
    ).fetchall()
    keys = ("id", "label", "resident", "group", "valid_from", "valid_to", "uses", "max_uses")
    return [{**dict(zip(keys, row[:8], strict=True)), "revoked": bool(row[8])} for row in rows]
