"""Tenancy lifecycle: pending → confirmed/rejected → moved_out, with extensions.

Each change is one transaction holding the registration row, its audit row and its outbox
row (topic ``registration``), so what the district receives, what the audit log says and
what the database holds can never disagree after a power cut.

Personal data at rest: document numbers, phones and the household-registration address are
AES-GCM ciphertext (edge.pii) bound to ``<purpose>:<registration id>``; exact search uses
keyed hashes; screens use the stored masks. The outbox payload carries the personal fields
sealed with the same vault (purpose ``outbox.registration``), so the outbox is no plaintext
copy; the uplink opens the seal just before sending it over TLS (docs/registry.md).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils
from ulid import ULID

from edge import audit
from edge.db import iso, parse_iso, transaction
from edge.pii import PiiVault
from qr_registry.documents import FieldError
from qr_registry.form import TenantForm
from qr_registry.masking import mask_document, mask_phone
from qr_registry.rooms import Room
from sync.outbox import enqueue

ACTIVE = ("pending", "confirmed")
OUTBOX_PURPOSE = "outbox.registration"


class RegistrationError(ValueError):
    """A lifecycle step that is not allowed now (msgid for the user)."""


def doc_hash(vault: PiiVault, number: str) -> str:
    return vault.search_hash(number.strip().upper(), "document")


def phone_hash(vault: PiiVault, e164: str) -> str:
    return vault.search_hash(e164, "phone")


def _purpose(field: str, reg_id: str) -> str:
    return f"registration.{field}:{reg_id}"


def _outbox(
    conn: sqlite3.Connection, vault: PiiVault, reg_id: str, change: str, at: datetime
) -> None:
    row = conn.execute(
        "SELECT r.*, rm.id FROM registrations r JOIN rooms rm ON rm.id = r.room_id WHERE r.id = ?",
        (reg_id,),
    ).fetchone()
    names = [d[0] for d in conn.execute("SELECT * FROM registrations LIMIT 0").description]
    record = dict(zip(names, row[: len(names)], strict=True))
    personal = {
        "name": record["name"],
        "doc_number": vault.decrypt_text(record["doc_enc"], _purpose("doc", reg_id)),
        "phone": vault.decrypt_text(record["phone_enc"], _purpose("phone", reg_id)),
        "hukou_address": vault.decrypt_text(record["hukou_address_enc"], _purpose("hukou", reg_id)),
    }
    public = {
        k: v
        for k, v in record.items()
        if not k.endswith(("_enc", "_hash")) and k not in ("name", "doc_mask", "phone_mask")
    }
    key = f"{reg_id}:{change}:{ULID.from_datetime(at)!s}"
    sealed = vault.encrypt_text(
        json.dumps(personal, ensure_ascii=False), OUTBOX_PURPOSE + ":" + key
    )
    payload = {
        "registration": public,
        "change": change,
        "personal_sealed": base64.b64encode(sealed).decode("ascii"),
    }
    enqueue(conn, key, "registration", payload, at)


def submit(
    db: sqlite_utils.Database,
    vault: PiiVault,
    room: Room,
    form: TenantForm,
    now: datetime,
    deadline_hours: int,
    consent_version: str,
) -> str:
    """Store a new pending registration; refuses a second active one for the same person."""
    reg_id = str(ULID.from_datetime(now))
    dh = doc_hash(vault, form.doc_number)
    with transaction(db) as conn:
        if conn.execute(
            "SELECT 1 FROM registrations WHERE room_id = ? AND doc_hash = ? AND status IN (?, ?)",
            (room.id, dh, *ACTIVE),
        ).fetchone():
            raise FieldError("doc_number", "You are already registered in this room")
        conn.execute(
            """INSERT INTO registrations (id, room_id, name, doc_type, doc_enc, doc_hash, doc_mask,
            sex, birth_date, ethnicity, phone_enc, phone_hash, phone_mask, hukou_address_enc,
            occupation, relation, move_in_date, expected_until, consent_at, consent_version,
            submitted_at, confirm_deadline, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                reg_id, room.id, form.name, form.doc_type,
                vault.encrypt_text(form.doc_number, _purpose("doc", reg_id)), dh,
                mask_document(form.doc_number), form.sex, form.birth_date.isoformat(),
                form.ethnicity, vault.encrypt_text(form.phone, _purpose("phone", reg_id)),
                phone_hash(vault, form.phone), mask_phone(form.phone),
                vault.encrypt_text(form.hukou_address, _purpose("hukou", reg_id)),
                form.occupation, form.relation, form.move_in_date.isoformat(),
                form.expected_until.isoformat(), iso(now), consent_version, iso(now),
                iso(now + timedelta(hours=deadline_hours)), iso(now),
            ),
        )  # fmt: skip
        for person in form.co_residents:
            conn.execute(
                "INSERT INTO co_residents (registration_id, name, doc_type, doc_enc, doc_hash, "
                "doc_mask, relation) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    reg_id, person.name, person.doc_type,
                    vault.encrypt_text(person.doc_number, _purpose("co_doc", reg_id)),
                    doc_hash(vault, person.doc_number), mask_document(person.doc_number),
                    person.relation,
                ),
            )  # fmt: skip
        audit.append(conn, "tenant", "register", f"registration:{reg_id}", {"room": room.id}, now)
        _outbox(conn, vault, reg_id, "submitted", now)
    return reg_id


def _status(conn: sqlite3.Connection, reg_id: str) -> str:
    row = conn.execute("SELECT status FROM registrations WHERE id = ?", (reg_id,)).fetchone()
    if row is None:
        raise RegistrationError("No such registration")
    return str(row[0])


def decide(
    db: sqlite_utils.Database,
    vault: PiiVault,
    reg_id: str,
    actor_id: int,
    confirm: bool,
    reason: str,
    now: datetime,
) -> None:
    """Landlord confirms or rejects a pending registration (a rejection needs a reason)."""
    reason = reason.strip()
    if not confirm and not 2 <= len(reason) <= 200:
        raise RegistrationError("Give a reason for the rejection (2-200 characters)")
    with transaction(db) as conn:
        if _status(conn, reg_id) != "pending":
            raise RegistrationError("Only a pending registration can be confirmed or rejected")
        status = "confirmed" if confirm else "rejected"
        conn.execute(
            "UPDATE registrations SET status = ?, decided_at = ?, decided_by = ?, "
            "reject_reason = ?, updated_at = ? WHERE id = ?",
            (status, iso(now), actor_id, None if confirm else reason, iso(now), reg_id),
        )
        details = {} if confirm else {"reason": reason}
        audit.append(conn, f"user:{actor_id}", status[:-2], f"registration:{reg_id}", details, now)
        _outbox(conn, vault, reg_id, status, now)


def move_out(
    db: sqlite_utils.Database,
    vault: PiiVault,
    reg_id: str,
    on: date,
    reason: str,
    by: str,
    now: datetime,
) -> None:
    """Close an active registration with the move-out date and reason."""
    reason = reason.strip()
    if not 1 <= len(reason) <= 200:
        raise RegistrationError("Give a reason for moving out (1-200 characters)")
    with transaction(db) as conn:
        if _status(conn, reg_id) not in ACTIVE:
            raise RegistrationError("This registration is already closed")
        move_in = conn.execute(
            "SELECT move_in_date FROM registrations WHERE id = ?", (reg_id,)
        ).fetchone()[0]
        if on.isoformat() < move_in:
            raise RegistrationError("The move-out date is before the move-in date")
        conn.execute(
            "UPDATE registrations SET status = 'moved_out', moved_out_on = ?, move_out_reason = ?, "
            "moved_out_by = ?, updated_at = ? WHERE id = ?",
            (on.isoformat(), reason, by, iso(now), reg_id),
        )
        audit.append(conn, by, "move_out", f"registration:{reg_id}", {"on": on.isoformat()}, now)
        _outbox(conn, vault, reg_id, "moved_out", now)


def extend(
    db: sqlite_utils.Database,
    vault: PiiVault,
    reg_id: str,
    new_until: date,
    by: str,
    now: datetime,
    max_stay_days: int,
) -> None:
    """Push the expected end of an active stay later (recorded with the old value)."""
    with transaction(db) as conn:
        if _status(conn, reg_id) not in ACTIVE:
            raise RegistrationError("This registration is already closed")
        old = conn.execute(
            "SELECT expected_until FROM registrations WHERE id = ?", (reg_id,)
        ).fetchone()[0]
        if new_until.isoformat() <= old:
            raise RegistrationError("The new date must be later than the current one")
        if (new_until - now.date()).days > max_stay_days:
            raise RegistrationError("That is too far ahead")
        conn.execute(
            "UPDATE registrations SET expected_until = ?, updated_at = ? WHERE id = ?",
            (new_until.isoformat(), iso(now), reg_id),
        )
        conn.execute(
            "INSERT INTO registration_extensions (registration_id, old_until, new_until, at, by) "
            "VALUES (?, ?, ?, ?, ?)",
            (reg_id, old, new_until.isoformat(), iso(now), by),
        )
        audit.append(
            conn, by, "extend", f"registration:{reg_id}", {"until": new_until.isoformat()}, now
        )
        _outbox(conn, vault, reg_id, "extended", now)


def find_active_for_tenant(
    conn: sqlite3.Connection, vault: PiiVault, room_id: int, doc_number: str, phone_e164: str
) -> str | None:
    """The tenant's own active registration in this room, proved by document + phone."""
    row = conn.execute(
        "SELECT id FROM registrations WHERE room_id = ? AND doc_hash = ? AND phone_hash = ? "
        "AND status IN (?, ?)",
        (room_id, doc_hash(vault, doc_number), phone_hash(vault, phone_e164), *ACTIVE),
    ).fetchone()
    return str(row[0]) if row else None


LIST_COLUMNS = (
    "r.id, r.room_id, r.status, r.name, r.doc_type, r.doc_mask, r.sex, r.birth_date, "
    "r.ethnicity, r.phone_mask, r.occupation, r.relation, r.move_in_date, r.expected_until, "
    "r.submitted_at, r.confirm_deadline, r.decided_at, r.reject_reason, r.moved_out_on, "
    "r.move_out_reason, r.consent_at, r.consent_version, rm.landlord_id, "
    "p.name || ' ' || b.name || ' ' || u.name || ' ' || rm.number AS room_label"
)
FROM_ROOMS = (
    " FROM registrations r JOIN rooms rm ON rm.id = r.room_id JOIN units u ON u.id = rm.unit_id"
    " JOIN buildings b ON b.id = u.building_id JOIN properties p ON p.id = b.property_id"
)


def _decorate(row: sqlite3.Row | tuple, names: list[str], now: datetime) -> dict[str, Any]:
    item = dict(zip(names, row, strict=True))
    deadline = parse_iso(item["confirm_deadline"])
    item["overdue"] = item["status"] == "pending" and deadline is not None and deadline < now
    return item


def get(
    conn: sqlite3.Connection, reg_id: str, now: datetime, landlord_id: int | None = None
) -> dict[str, Any] | None:
    """One registration (masked) with co-residents; None if absent or not this landlord's."""
    sql = "SELECT " + LIST_COLUMNS + FROM_ROOMS + " WHERE r.id = ?"
    args: list[Any] = [reg_id]
    if landlord_id is not None:
        sql += " AND rm.landlord_id = ?"
        args.append(landlord_id)
    cursor = conn.execute(sql, args)
    row = cursor.fetchone()
    if row is None:
        return None
    item = _decorate(row, [d[0] for d in cursor.description], now)
    item["co_residents"] = [
        {"name": n, "doc_type": t, "doc_mask": m, "relation": rel}
        for n, t, m, rel in conn.execute(
            "SELECT name, doc_type, doc_mask, relation FROM co_residents "
            "WHERE registration_id = ? ORDER BY id",
            (reg_id,),
        )
    ]
    item["extensions"] = [
        {"old_until": o, "new_until": n, "at": a, "by": b}
        for o, n, a, b in conn.execute(
            "SELECT old_until, new_until, at, by FROM registration_extensions "
            "WHERE registration_id = ? ORDER BY id",
            (reg_id,),
        )
    ]
    return item


def reveal(
    db: sqlite_utils.Database,
    vault: PiiVault,
    reg_id: str,
    field: str,
    actor: str,
    reason: str,
    now: datetime,
) -> str:
    """Decrypt one field for a stated reason; the reveal is audited before it is returned."""
    reason = reason.strip()
    if not 4 <= len(reason) <= 200:
        raise RegistrationError("State why you need the full value (4-200 characters)")
    columns = {"doc": "doc_enc", "phone": "phone_enc", "hukou": "hukou_address_enc"}
    if field not in columns:
        raise RegistrationError("Unknown field")
    with transaction(db) as conn:
        row = conn.execute(
            f"SELECT {columns[field]} FROM registrations WHERE id = ?", (reg_id,)
        ).fetchone()
        if row is None:
            raise RegistrationError("No such registration")
        audit.append(
            conn, actor, "reveal", f"registration:{reg_id}", {"field": field, "reason": reason}, now
        )
    return vault.decrypt_text(row[0], _purpose(field, reg_id))


def form_as_dict(form: TenantForm) -> dict[str, Any]:
    return asdict(form)
