"""Search across registrations for police and grid workers (and a landlord's own list).

Room labels match by substring in SQL. Names are encrypted: a name matches by substring
after decryption, over the rows the other filters leave (a box holds thousands of
registrations, not millions: see BENCHMARKS.md). Document numbers and phones match
exactly through their keyed hashes (the database holds no plaintext to LIKE against, by
design), and only for police, within a daily quota per officer: an exact search is an
oracle (is this number registered?), so it is capped and every one is audited. A document
number also finds the registrations listing that person as a co-resident.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge.db import iso
from edge.pii import PiiVault
from qr_registry.documents import FieldError
from qr_registry.masking import normalise_phone
from qr_registry.registrations import (
    FROM_ROOMS,
    LIST_COLUMNS,
    decorate,
    doc_hash,
    name_key,
    phone_hash,
)
from qr_registry.text import clean, fold

STATUSES = ("pending", "confirmed", "rejected", "moved_out")
MAX_ROWS = 500


@dataclass(frozen=True)
class Filters:
    name: str = ""
    doc_number: str = ""
    phone: str = ""
    room: str = ""
    status: str = ""
    submitted_from: date | None = None
    submitted_to: date | None = None
    overdue_only: bool = False

    def is_empty(self) -> bool:
        return self == Filters()

    def exact(self) -> bool:
        """Whether this search tests a full document number or phone (an oracle)."""
        return bool(self.doc_number or self.phone)


def parse_filters(args: dict[str, str]) -> Filters:
    """Query-string values → Filters, or FieldError naming the bad one."""

    def text(key: str, limit: int) -> str:
        value = clean(args.get(key) or "")
        if len(value) > limit:
            raise FieldError(key, "At most %(limit)s characters", limit=limit)
        return value

    def day(key: str) -> date | None:
        value = (args.get(key) or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise FieldError(key, "Enter a date like 2025-03-01") from None

    status = text("status", 20)
    if status and status not in STATUSES:
        raise FieldError("status", "Unknown status")
    return Filters(
        name=text("name", 64),
        doc_number=fold(text("doc_number", 40)).upper().replace(" ", ""),
        phone=text("phone", 32),
        room=text("room", 100),
        status=status,
        submitted_from=day("from"),
        submitted_to=day("to"),
        overdue_only=args.get("overdue") == "1",
    )


def record_exact_search(
    conn: sqlite3.Connection, user_id: int, now: datetime, per_day: int
) -> bool:
    """Count one exact search against the officer's daily quota; False when it is used up
    (nothing is recorded then). In the caller's transaction."""
    used = conn.execute(
        "SELECT COUNT(*) FROM registry_lookups WHERE user_id = ? AND at >= ?",
        (user_id, iso(now - timedelta(days=1))),
    ).fetchone()[0]
    if used >= per_day:
        return False
    conn.execute("DELETE FROM registry_lookups WHERE at < ?", (iso(now - timedelta(days=2)),))
    conn.execute("INSERT INTO registry_lookups (user_id, at) VALUES (?, ?)", (user_id, iso(now)))
    return True


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(
    conn: sqlite3.Connection,
    vault: PiiVault,
    filters: Filters,
    now: datetime,
    zone: ZoneInfo,
    landlord_id: int | None = None,
    limit: int = MAX_ROWS,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Matching registrations (masked, newest first) and the count per status."""
    where: list[str] = []
    args: list[Any] = []
    if landlord_id is not None:
        where.append("rm.landlord_id = ?")
        args.append(landlord_id)
    if filters.doc_number:
        h = doc_hash(vault, filters.doc_number)
        where.append(
            "(r.doc_hash = ? OR r.id IN (SELECT registration_id FROM co_residents "
            "WHERE doc_hash = ?))"
        )
        args += [h, h]
    if filters.phone:
        where.append("r.phone_hash = ?")
        args.append(phone_hash(vault, normalise_phone(filters.phone)))
    if filters.room:
        where.append(
            "(p.name || ' ' || b.name || ' ' || u.name || ' ' || rm.number) LIKE ? ESCAPE '\\'"
        )
        args.append(_like(filters.room))
    if filters.submitted_from:
        where.append("r.submitted_at >= ?")
        args.append(iso(datetime.combine(filters.submitted_from, time(), zone)))
    if filters.submitted_to:
        where.append("r.submitted_at < ?")
        args.append(iso(datetime.combine(filters.submitted_to + timedelta(days=1), time(), zone)))
    if filters.overdue_only:
        where.append("r.status = 'pending' AND r.confirm_deadline < ?")
        args.append(iso(now))
    base = FROM_ROOMS + (" WHERE " + " AND ".join(where) if where else "")
    if not filters.name:
        return _listed(conn, vault, base, args, filters.status, now, limit)
    cursor = conn.execute(
        "SELECT " + LIST_COLUMNS + base + " ORDER BY r.submitted_at DESC, r.id DESC", args
    )
    names = [d[0] for d in cursor.description]
    wanted = name_key(filters.name)
    counts = dict.fromkeys((*STATUSES, "overdue"), 0)
    rows: list[dict[str, Any]] = []
    for raw in cursor:  # names are ciphertext: decrypt each candidate and compare
        item = decorate(raw, names, now, vault)
        if wanted not in name_key(item["person"].name):
            continue
        counts[item["status"]] += 1
        counts["overdue"] += item["overdue"]
        if (not filters.status or item["status"] == filters.status) and len(rows) < limit:
            rows.append(item)
    return rows, counts


def _listed(
    conn: sqlite3.Connection, vault: PiiVault, base: str, args: list[Any], status: str,
    now: datetime, limit: int,
) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """Without a name filter SQL counts and limits: only the rows shown are decrypted."""
    counts = dict.fromkeys((*STATUSES, "overdue"), 0)
    where = " AND " if " WHERE " in base else " WHERE "
    for state, n in conn.execute("SELECT r.status, COUNT(*)" + base + " GROUP BY 1", args):
        counts[state] = n
    counts["overdue"] = conn.execute(
        "SELECT COUNT(*)" + base + where + "r.status = 'pending' AND r.confirm_deadline < ?",
        [*args, iso(now)],
    ).fetchone()[0]
    if status:
        base, args = base + where + "r.status = ?", [*args, status]
    cursor = conn.execute(
        "SELECT " + LIST_COLUMNS + base + " ORDER BY r.submitted_at DESC, r.id DESC LIMIT ?",
        [*args, limit],
    )
    names = [d[0] for d in cursor.description]
    return [decorate(raw, names, now, vault) for raw in cursor], counts
