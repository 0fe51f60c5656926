"""Tenancy lifecycle: pending → confirmed/rejected → moved_out, with extensions.

Each change is one transaction holding the registration row, its audit row and, once the
district is owed it, its outbox row (topic ``registration``), so what the district
receives, what the audit log says and what the database holds never disagree after a
power cut.

What the district gets and when: nothing while a registration is pending (a public
sticker is not a way to fill the district's queue); the whole record when the landlord
confirms it, then each later change. A co-resident travels only once their own consent
(or a guardian's, under 14) is recorded. The clear part of a payload holds only ids,
status and dates; everything about the person — room, document, name, phone, ... — is
sealed with the box's PII vault (purpose ``outbox.registration:<key>``).

Personal data at rest: document numbers, phones and the household-registration address
are AES-GCM ciphertext bound to ``registration.<field>:<id>``; the other personal fields
(name, sex, birth date, nationality, ethnicity, occupation) are one sealed JSON record,
``person_enc``. Exact search uses keyed hashes (document, phone); screens use
the stored tail-only masks and qr_registry.masking decides what each role sees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlite_utils
from ulid import ULID

from edge import audit
from edge.db import iso, parse_iso, transaction
from edge.errors import UserError
from edge.pii import PiiVault
from edge.store.outbox import enqueue
from qr_registry.form import CoResident, TenantForm, is_child
from qr_registry.masking import Person, mask_document, mask_phone
from qr_registry.rooms import Room
from qr_registry.text import fold, is_ascii_digits

ACTIVE = ("pending", "confirmed")
OUTBOX_PURPOSE = "outbox.registration"
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
REF_LENGTH = 8
REQUEST_DAYS = 14  # an unanswered move-out/extension request lapses after this
CODE_TTL = timedelta(minutes=10)
CODE_ATTEMPTS = 5


class RegistrationError(UserError):
    """A lifecycle step that is not allowed now (msgid for the user)."""

    code = "registration"


class RoomBusyError(RegistrationError):
    """Too many pending registrations for a room, or through one sticker in a day."""


@dataclass(frozen=True)
class Limits:
    pending_per_room: int = 8
    per_token_per_day: int = 20


@dataclass(frozen=True)
class Receipt:
    """What the tenant takes away: the reference and each adult co-resident's own link."""

    reg_id: str
    ref_code: str
    consent_links: tuple[tuple[str, str], ...]  # (masked name, token)


def doc_hash(vault: PiiVault, number: str) -> str:
    return vault.search_hash(fold(number).strip().upper(), "document")


def phone_hash(vault: PiiVault, e164: str) -> str:
    return vault.search_hash(e164, "phone")


def name_key(name: str) -> str:
    """A name as exact search compares it: folded, case-free, without separators."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return re.sub(r"[\s·•・.'\-]", "", text)


def _purpose(field: str, reg_id: str) -> str:
    return f"registration.{field}:{reg_id}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_ref_code() -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def normalise_ref(text: str) -> str:
    """What a tenant typed as the reference, in the stored form (``K7P3-QX9A`` → K7P3QX9A)."""
    raw = re.sub(r"[\s\-]", "", fold(text or "")).upper()
    return raw.translate(str.maketrans("OIL", "011"))[:20]


def format_ref(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == REF_LENGTH else code


# Personal records -----------------------------------------------------------------------


def seal_person(vault: PiiVault, reg_id: str, person: Person) -> bytes:
    record = {
        "name": person.name, "sex": person.sex, "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality, "ethnicity": person.ethnicity,
        "occupation": person.occupation,
    }  # fmt: skip
    return vault.encrypt_text(json.dumps(record, ensure_ascii=False), _purpose("person", reg_id))


def open_person(vault: PiiVault, reg_id: str, blob: bytes) -> Person:
    record = json.loads(vault.decrypt_text(blob, _purpose("person", reg_id)))
    return Person(
        record["name"], record["sex"], date.fromisoformat(record["birth_date"]),
        record["nationality"], record["ethnicity"], record["occupation"],
    )  # fmt: skip


def _seal_co(vault: PiiVault, reg_id: str, name: str, born: date) -> bytes:
    record = {"name": name, "birth_date": born.isoformat()}
    return vault.encrypt_text(json.dumps(record, ensure_ascii=False), _purpose("co_person", reg_id))


def _open_co(vault: PiiVault, reg_id: str, blob: bytes | None) -> dict[str, Any]:
    if blob is None:
        return {"name": "", "birth_date": None}
    record = json.loads(vault.decrypt_text(blob, _purpose("co_person", reg_id)))
    born = record.get("birth_date")
    return {"name": record["name"], "birth_date": date.fromisoformat(born) if born else None}


# The district's copy ------------------------------------------------------------------


def _co_payload(vault: PiiVault, reg_id: str, row: sqlite3.Row | tuple) -> dict[str, Any]:
    person_enc, doc_type, doc_enc, relation, kind, at = row
    person = _open_co(vault, reg_id, person_enc)
    born = person["birth_date"]
    return {
        "name": person["name"], "birth_date": born.isoformat() if born else None,
        "doc_type": doc_type, "doc_number": vault.decrypt_text(doc_enc, _purpose("co_doc", reg_id)),
        "relation": relation, "consent": kind, "consent_at": at,
    }  # fmt: skip


def _outbox(
    conn: sqlite3.Connection,
    vault: PiiVault,
    reg_id: str,
    change: str,
    at: datetime,
    co_ids: Iterable[int] | None = None,
) -> None:
    """Queue one change for the district; ``co_ids`` limits the co-residents sent (default:
    every one whose consent is recorded and who has not been sent yet)."""
    cursor = conn.execute(
        "SELECT r.*, p.name || ' ' || b.name || ' ' || u.name || ' ' || rm.number AS room_label,"
        " p.address AS room_address"
        " FROM registrations r JOIN rooms rm ON rm.id = r.room_id JOIN units u ON u.id = rm.unit_id"
        " JOIN buildings b ON b.id = u.building_id JOIN properties p ON p.id = b.property_id"
        " WHERE r.id = ?",
        (reg_id,),
    )
    record = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    person = open_person(vault, reg_id, record["person_enc"])
    if co_ids is None:
        co_ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM co_residents WHERE registration_id = ? AND consent_state = 'given'"
                " AND sent_at IS NULL",
                (reg_id,),
            )
        ]
    co_ids = list(co_ids)
    co_people = [
        _co_payload(vault, reg_id, row)
        for cid in co_ids
        for row in conn.execute(
            "SELECT person_enc, doc_type, doc_enc, relation, consent_kind, consent_at"
            " FROM co_residents WHERE id = ? AND consent_state = 'given'",
            (cid,),
        )
    ]
    personal = {
        "room": record["room_label"], "room_address": record["room_address"],
        "doc_type": record["doc_type"],
        "doc_number": vault.decrypt_text(record["doc_enc"], _purpose("doc", reg_id)),
        "name": person.name, "sex": person.sex, "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality, "ethnicity": person.ethnicity,
        "occupation": person.occupation, "relation": record["relation"],
        "phone": vault.decrypt_text(record["phone_enc"], _purpose("phone", reg_id)),
        "hukou_address": vault.decrypt_text(record["hukou_address_enc"], _purpose("hukou", reg_id)),
        "co_residents": co_people,
    }  # fmt: skip
    public = {
        k: record[k]
        for k in (
            "id", "status", "move_in_date", "expected_until", "submitted_at", "decided_at",
            "moved_out_on", "consent_at", "consent_version",
        )
    }  # fmt: skip
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
    for cid in co_ids:
        conn.execute("UPDATE co_residents SET sent_at = ? WHERE id = ?", (iso(at), cid))
    if record["sent_at"] is None:
        conn.execute("UPDATE registrations SET sent_at = ? WHERE id = ?", (iso(at), reg_id))


def _was_sent(conn: sqlite3.Connection, reg_id: str) -> bool:
    row = conn.execute("SELECT sent_at FROM registrations WHERE id = ?", (reg_id,)).fetchone()
    return row is not None and row[0] is not None


# Submitting -------------------------------------------------------------------------------


def _check_limits(conn: sqlite3.Connection, room: Room, token: str, limits: Limits, now: datetime):
    pending = conn.execute(
        "SELECT COUNT(*) FROM registrations WHERE room_id = ? AND status = 'pending'", (room.id,)
    ).fetchone()[0]
    recent = (
        0
        if not token
        else conn.execute(
            "SELECT COUNT(*) FROM registrations WHERE via_token = ? AND submitted_at >= ?",
            (token, iso(now - timedelta(days=1))),
        ).fetchone()[0]
    )
    if pending >= limits.pending_per_room or recent >= limits.per_token_per_day:
        raise RoomBusyError(
            "This room has too many registrations waiting for the landlord. "
            "Please ask your landlord to confirm them first."
        )


def _insert_co(
    conn: sqlite3.Connection, vault: PiiVault, reg_id: str, person: CoResident, now: datetime
) -> str | None:
    """Store one co-resident; return the token of their own consent link (adults only)."""
    token = None if person.minor else secrets.token_urlsafe(16)
    given = person.minor and person.guardian_consent
    conn.execute(
        "INSERT INTO co_residents (registration_id, person_enc, doc_type, doc_enc, doc_hash,"
        " doc_mask, relation, minor, consent_state, consent_kind, consent_at, consent_by,"
        " consent_note, consent_token_hash, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reg_id, _seal_co(vault, reg_id, person.name, person.birth_date), person.doc_type,
            vault.encrypt_text(person.doc_number, _purpose("co_doc", reg_id)),
            doc_hash(vault, person.doc_number), mask_document(person.doc_type, person.doc_number),
            person.relation, int(person.minor), "given" if given else "awaiting",
            "guardian" if given else None, iso(now) if given else None,
            "tenant" if given else None, "parent_or_guardian" if given else None,
            _sha256(token) if token else None, iso(now),
        ),
    )  # fmt: skip
    return token


def submit(
    db: sqlite_utils.Database,
    vault: PiiVault,
    room: Room,
    form: TenantForm,
    now: datetime,
    deadline_hours: int,
    consent_version: str,
    token: str = "",
    limits: Limits = Limits(),
) -> Receipt:
    """Store a new pending registration and return the tenant's receipt.

    The reply never depends on who else is registered: a person already registered in this
    room gets a second pending record like anyone else (the landlord sees it flagged as a
    duplicate), so the page is no oracle for where someone lives. Raises RoomBusyError
    past the per-room or per-sticker caps (which say nothing about any person)."""
    reg_id = str(ULID.from_datetime(now))
    person = Person(
        form.name, form.sex, form.birth_date, form.nationality, form.ethnicity, form.occupation
    )
    with transaction(db) as conn:
        _check_limits(conn, room, token, limits, now)
        ref = new_ref_code()
        while conn.execute("SELECT 1 FROM registrations WHERE ref_code = ?", (ref,)).fetchone():
            ref = new_ref_code()
        conn.execute(
            """INSERT INTO registrations (id, room_id, ref_code, via_token, doc_type, doc_enc,
            doc_hash, doc_mask, person_enc, phone_enc, phone_hash, phone_mask,
            hukou_address_enc, relation, move_in_date, expected_until, consent_at,
            consent_version, submitted_at, confirm_deadline, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                reg_id, room.id, ref, token, form.doc_type,
                vault.encrypt_text(form.doc_number, _purpose("doc", reg_id)),
                doc_hash(vault, form.doc_number), mask_document(form.doc_type, form.doc_number),
                seal_person(vault, reg_id, person),
                vault.encrypt_text(form.phone, _purpose("phone", reg_id)),
                phone_hash(vault, form.phone), mask_phone(form.phone),
                vault.encrypt_text(form.hukou_address, _purpose("hukou", reg_id)),
                form.relation, form.move_in_date.isoformat(), form.expected_until.isoformat(),
                iso(now), consent_version, iso(now),
                iso(now + timedelta(hours=deadline_hours)), iso(now),
            ),
        )  # fmt: skip
        links = []
        for co in form.co_residents:
            link = _insert_co(conn, vault, reg_id, co, now)
            if link:
                links.append((co.name[:1] + "*" * max(len(co.name) - 1, 1), link))
        audit.append(
            conn, "tenant", "register", f"registration:{reg_id}",
            {"room": room.id, "co_residents": len(form.co_residents)}, now,
        )  # fmt: skip
    return Receipt(reg_id, ref, tuple(links))


# Landlord's decisions ---------------------------------------------------------------------


def _status(conn: sqlite3.Connection, reg_id: str) -> str:
    row = conn.execute("SELECT status FROM registrations WHERE id = ?", (reg_id,)).fetchone()
    if row is None:
        raise RegistrationError("No such registration")
    return str(row[0])


def duplicate_of(conn: sqlite3.Connection, reg_id: str) -> str | None:
    """Another active registration of the same document in the same room, confirmed first."""
    row = conn.execute(
        "SELECT o.id FROM registrations r JOIN registrations o ON o.room_id = r.room_id"
        " AND o.doc_hash = r.doc_hash AND o.id != r.id"
        " WHERE r.id = ? AND o.status IN ('pending', 'confirmed')"
        " ORDER BY o.status = 'confirmed' DESC, o.id LIMIT 1",
        (reg_id,),
    ).fetchone()
    return str(row[0]) if row else None


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
        if (
            confirm
            and conn.execute(
                "SELECT 1 FROM registrations r JOIN registrations o ON o.room_id = r.room_id"
                " AND o.doc_hash = r.doc_hash AND o.id != r.id"
                " WHERE r.id = ? AND o.status = 'confirmed'",
                (reg_id,),
            ).fetchone()
        ):
            raise RegistrationError(
                "This person is already registered in this room; reject this duplicate"
            )
        status = "confirmed" if confirm else "rejected"
        conn.execute(
            "UPDATE registrations SET status = ?, decided_at = ?, decided_by = ?, "
            "reject_reason = ?, updated_at = ? WHERE id = ?",
            (status, iso(now), actor_id, None if confirm else reason, iso(now), reg_id),
        )
        details = {} if confirm else {"reason": reason}
        audit.append(conn, f"user:{actor_id}", status[:-2], f"registration:{reg_id}", details, now)
        if confirm:
            _outbox(conn, vault, reg_id, "confirmed", now)


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
        _apply_move_out(conn, vault, reg_id, on, reason, by, now)


def _apply_move_out(
    conn: sqlite3.Connection, vault: PiiVault, reg_id: str, on: date, reason: str, by: str,
    now: datetime,
) -> None:  # fmt: skip
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
    _close_requests(conn, reg_id, "withdrawn", now)
    audit.append(conn, by, "move_out", f"registration:{reg_id}", {"on": on.isoformat()}, now)
    if _was_sent(conn, reg_id):
        _outbox(conn, vault, reg_id, "moved_out", now, co_ids=())


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
        _apply_extend(conn, vault, reg_id, new_until, by, now, max_stay_days)


def _apply_extend(
    conn: sqlite3.Connection, vault: PiiVault, reg_id: str, new_until: date, by: str,
    now: datetime, max_stay_days: int,
) -> None:  # fmt: skip
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
    if _was_sent(conn, reg_id):
        _outbox(conn, vault, reg_id, "extended", now, co_ids=())


# Consent of each co-resident ----------------------------------------------------------


def _record_consent(
    conn: sqlite3.Connection, vault: PiiVault, co_id: int, kind: str, by: str, note: str,
    now: datetime,
) -> None:  # fmt: skip
    row = conn.execute(
        "SELECT c.registration_id, c.consent_state, c.minor, r.status FROM co_residents c"
        " JOIN registrations r ON r.id = c.registration_id WHERE c.id = ?",
        (co_id,),
    ).fetchone()
    if row is None:
        raise RegistrationError("No such person")
    reg_id, state, minor, status = row
    if state == "given":
        raise RegistrationError("Consent is already recorded")
    if status not in ACTIVE:
        raise RegistrationError("This registration is already closed")
    if minor and kind != "guardian":
        raise RegistrationError("A child under 14 needs a guardian's consent")
    if not minor and kind == "guardian":
        raise RegistrationError("A person aged 14 or more consents for themselves")
    conn.execute(
        "UPDATE co_residents SET consent_state = 'given', consent_kind = ?, consent_at = ?,"
        " consent_by = ?, consent_note = ?, consent_token_hash = NULL WHERE id = ?",
        (kind, iso(now), by, note or None, co_id),
    )
    audit.append(
        conn, by, "co_resident_consent", f"registration:{reg_id}", {"co": co_id, "kind": kind}, now
    )
    if status == "confirmed" and _was_sent(conn, reg_id):
        _outbox(conn, vault, reg_id, "co_resident_added", now, co_ids=[co_id])


def record_consent_in_person(
    db: sqlite_utils.Database,
    vault: PiiVault,
    co_id: int,
    landlord_id: int,
    guardian: bool,
    note: str,
    now: datetime,
) -> None:
    """The landlord records consent given before them (with a reason; for a child, the
    guardian's consent and who the guardian is). ``co_id`` must be the landlord's own."""
    note = note.strip()
    if not 4 <= len(note) <= 200:
        raise RegistrationError("Say how and from whom consent was given (4-200 characters)")
    with transaction(db) as conn:
        owner = conn.execute(
            "SELECT rm.landlord_id FROM co_residents c JOIN registrations r"
            " ON r.id = c.registration_id JOIN rooms rm ON rm.id = r.room_id WHERE c.id = ?",
            (co_id,),
        ).fetchone()
        if owner is None or owner[0] != landlord_id:
            raise RegistrationError("No such person")
        kind = "guardian" if guardian else "in_person"
        _record_consent(conn, vault, co_id, kind, f"user:{landlord_id}", note, now)


def co_resident_for_link(conn: sqlite3.Connection, vault: PiiVault, token: str) -> dict | None:
    """The person a consent link is for (masked for the page), or None if the link is
    unknown, used, or its registration is closed."""
    if not isinstance(token, str) or not 10 <= len(token) <= 64:
        return None
    row = conn.execute(
        "SELECT c.id, c.registration_id, c.person_enc, c.doc_type, c.doc_mask, c.relation,"
        " p.name || ' ' || b.name || ' ' || u.name || ' ' || rm.number"
        " FROM co_residents c JOIN registrations r ON r.id = c.registration_id"
        " JOIN rooms rm ON rm.id = r.room_id JOIN units u ON u.id = rm.unit_id"
        " JOIN buildings b ON b.id = u.building_id JOIN properties p ON p.id = b.property_id"
        " WHERE c.consent_token_hash = ? AND c.consent_state = 'awaiting'"
        " AND r.status IN ('pending', 'confirmed')",
        (_sha256(token),),
    ).fetchone()
    if row is None:
        return None
    person = _open_co(vault, row[1], row[2])
    name = person["name"]
    return {
        "id": row[0], "name_masked": name[:1] + "*" * max(len(name) - 1, 1),
        "doc_type": row[3], "doc_mask": row[4], "relation": row[5], "room_label": row[6],
    }  # fmt: skip


def answer_consent_link(
    db: sqlite_utils.Database, vault: PiiVault, token: str, agree: bool, now: datetime
) -> bool:
    """The co-resident agrees (recorded, and sent if the registration was) or refuses (their
    record is deleted). False when the link is no longer valid."""
    with transaction(db) as conn:
        found = co_resident_for_link(conn, vault, token)
        if found is None:
            return False
        if agree:
            _record_consent(conn, vault, found["id"], "self", "co_resident", "", now)
            return True
        reg_id = conn.execute(
            "SELECT registration_id FROM co_residents WHERE id = ?", (found["id"],)
        ).fetchone()[0]
        conn.execute("DELETE FROM co_residents WHERE id = ?", (found["id"],))
        audit.append(
            conn, "co_resident", "co_resident_refused", f"registration:{reg_id}",
            {"co": found["id"]}, now,
        )  # fmt: skip
    return True


# Tenant's requests (move out, extend) -----------------------------------------------------


def _close_requests(conn: sqlite3.Connection, reg_id: str, state: str, now: datetime) -> None:
    conn.execute(
        "UPDATE registration_requests SET state = ?, decided_at = ? "
        "WHERE registration_id = ? AND state = 'open'",
        (state, iso(now), reg_id),
    )


def _code_hash(vault: PiiVault, handle: str, code: str) -> str:
    return vault.search_hash(f"{handle}:{code}", "request.code")


def open_request(
    db: sqlite_utils.Database,
    vault: PiiVault,
    room_id: int,
    doc_number: str,
    phone_e164: str,
    kind: str,
    on: date,
    reason: str,
    now: datetime,
    code: str | None = None,
) -> tuple[str, str | None]:
    """A move-out or extension request, proved by document + phone.

    Always returns ``(handle, phone_or_None)``: a fresh random handle whether or not an
    active registration matched (so the reply is the same either way). Only on a match is
    a request stored (replacing an open one) and, with ``code``, the phone to send it to
    returned; the caller sends ``code`` there and nowhere else."""
    if kind not in ("move_out", "extend"):
        raise RegistrationError("Choose moving out or extending")
    handle = secrets.token_urlsafe(16)
    with transaction(db) as conn:
        row = conn.execute(
            "SELECT id, phone_enc FROM registrations WHERE room_id = ? AND doc_hash = ?"
            " AND phone_hash = ? AND status IN (?, ?) ORDER BY status = 'confirmed' DESC, id"
            " LIMIT 1",
            (room_id, doc_hash(vault, doc_number), phone_hash(vault, phone_e164), *ACTIVE),
        ).fetchone()
        if row is None:
            return handle, None
        reg_id = str(row[0])
        _close_requests(conn, reg_id, "withdrawn", now)
        conn.execute(
            "INSERT INTO registration_requests (registration_id, kind, on_date, reason,"
            " handle_hash, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                reg_id, kind, on.isoformat(), reason[:200], _sha256(handle),
                _code_hash(vault, handle, code) if code else None, iso(now),
                iso(now + (CODE_TTL if code else timedelta(days=REQUEST_DAYS))),
            ),
        )  # fmt: skip
        audit.append(conn, "tenant", f"request_{kind}", f"registration:{reg_id}", at=now)
        phone = vault.decrypt_text(row[1], _purpose("phone", reg_id)) if code else None
    return handle, phone


def _apply_request(
    conn: sqlite3.Connection, vault: PiiVault, request: dict, by: str, now: datetime,
    max_stay_days: int,
) -> None:  # fmt: skip
    on = date.fromisoformat(request["on_date"])
    if request["kind"] == "move_out":
        reason = request["reason"] or "tenant_request"
        _apply_move_out(conn, vault, request["registration_id"], on, reason, by, now)
    else:
        _apply_extend(conn, vault, request["registration_id"], on, by, now, max_stay_days)


def _request(conn: sqlite3.Connection, where: str, args: tuple) -> dict | None:
    cursor = conn.execute(
        "SELECT id, registration_id, kind, on_date, reason, state, code_hash, code_attempts,"
        " created_at, expires_at FROM registration_requests WHERE " + where,
        args,
    )
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def decide_request(
    db: sqlite_utils.Database,
    vault: PiiVault,
    request_id: int,
    landlord_id: int,
    confirm: bool,
    now: datetime,
    max_stay_days: int,
) -> None:
    """The landlord confirms (the change is applied) or declines a tenant's request."""
    with transaction(db) as conn:
        request = _request(
            conn,
            "id = ? AND state = 'open' AND registration_id IN (SELECT r.id FROM registrations r"
            " JOIN rooms rm ON rm.id = r.room_id WHERE rm.landlord_id = ?)",
            (request_id, landlord_id),
        )
        if request is None:
            raise RegistrationError("This request is no longer open")
        by = f"user:{landlord_id}"
        if confirm:
            _apply_request(conn, vault, request, by, now, max_stay_days)
        conn.execute(
            "UPDATE registration_requests SET state = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ?",
            ("confirmed" if confirm else "declined", iso(now), by, request_id),
        )
        if not confirm:
            audit.append(
                conn, by, "decline_request", f"registration:{request['registration_id']}",
                {"kind": request["kind"]}, now,
            )  # fmt: skip


def verify_request_code(
    db: sqlite_utils.Database,
    vault: PiiVault,
    handle: str,
    code: str,
    now: datetime,
    max_stay_days: int,
) -> str:
    """Apply a request whose one-time code matches: returns 'done', 'wrong' (try again) or
    'invalid' (unknown, expired, used up, or the change itself was refused)."""
    if not isinstance(handle, str) or len(handle) > 64:
        return "invalid"
    with transaction(db) as conn:
        request = _request(
            conn, "handle_hash = ? AND state = 'open' AND code_hash IS NOT NULL", (_sha256(handle),)
        )
        if request is None or request["expires_at"] < iso(now):
            return "invalid"
        if request["code_attempts"] >= CODE_ATTEMPTS:
            return "invalid"
        given = _code_hash(vault, handle, re.sub(r"\s", "", fold(code or ""))[:12])
        if not hmac.compare_digest(given, request["code_hash"]):
            conn.execute(
                "UPDATE registration_requests SET code_attempts = code_attempts + 1 WHERE id = ?",
                (request["id"],),
            )
            return "wrong"
        try:
            _apply_request(conn, vault, request, "tenant", now, max_stay_days)
        except RegistrationError:
            conn.execute(
                "UPDATE registration_requests SET state = 'declined', decided_at = ? WHERE id = ?",
                (iso(now), request["id"]),
            )
            return "invalid"
        conn.execute(
            "UPDATE registration_requests SET state = 'confirmed', decided_at = ?,"
            " decided_by = 'one_time_code' WHERE id = ?",
            (iso(now), request["id"]),
        )
    return "done"


# Reading ----------------------------------------------------------------------------------


LIST_COLUMNS = (
    "r.id, r.room_id, r.status, r.ref_code, r.doc_type, r.doc_mask, r.person_enc, "
    "r.phone_mask, r.relation, r.move_in_date, r.expected_until, r.submitted_at, "
    "r.confirm_deadline, r.decided_at, r.reject_reason, r.moved_out_on, r.move_out_reason, "
    "r.consent_at, r.consent_version, rm.landlord_id, "
    "p.name || ' ' || b.name || ' ' || u.name || ' ' || rm.number AS room_label"
)
FROM_ROOMS = (
    " FROM registrations r JOIN rooms rm ON rm.id = r.room_id JOIN units u ON u.id = rm.unit_id"
    " JOIN buildings b ON b.id = u.building_id JOIN properties p ON p.id = b.property_id"
)


def decorate(
    row: sqlite3.Row | tuple, names: list[str], now: datetime, vault: PiiVault
) -> dict[str, Any]:
    """A listed row with its overdue flag and its decrypted ``person`` (masking.Person)."""
    item = dict(zip(names, row, strict=True))
    deadline = parse_iso(item["confirm_deadline"])
    item["overdue"] = item["status"] == "pending" and deadline is not None and deadline < now
    item["person"] = open_person(vault, item["id"], item.pop("person_enc"))
    return item


def get(
    conn: sqlite3.Connection,
    vault: PiiVault,
    reg_id: str,
    now: datetime,
    landlord_id: int | None = None,
) -> dict[str, Any] | None:
    """One registration with co-residents, extensions and open requests; None if absent or
    not this landlord's. Personal fields are decrypted: pass through masking.present."""
    sql = "SELECT " + LIST_COLUMNS + FROM_ROOMS + " WHERE r.id = ?"
    args: list[Any] = [reg_id]
    if landlord_id is not None:
        sql += " AND rm.landlord_id = ?"
        args.append(landlord_id)
    cursor = conn.execute(sql, args)
    row = cursor.fetchone()
    if row is None:
        return None
    item = decorate(row, [d[0] for d in cursor.description], now, vault)
    item["duplicate_of"] = duplicate_of(conn, reg_id)
    item["co_residents"] = []
    for cid, enc, kind, mask, rel, minor, state, ckind, cat in conn.execute(
        "SELECT id, person_enc, doc_type, doc_mask, relation, minor, consent_state,"
        " consent_kind, consent_at FROM co_residents WHERE registration_id = ? ORDER BY id",
        (reg_id,),
    ):
        person = _open_co(vault, reg_id, enc)
        born = person["birth_date"]
        item["co_residents"].append(
            {
                "id": cid, "name": person["name"], "doc_type": kind, "doc_mask": mask,
                "relation": rel, "minor": bool(minor), "consent_state": state,
                "consent_kind": ckind, "consent_at": cat,
                "birth_year": born.year if born else None,
            }
        )  # fmt: skip
    item["extensions"] = [
        {"old_until": o, "new_until": n, "at": a, "by": b}
        for o, n, a, b in conn.execute(
            "SELECT old_until, new_until, at, by FROM registration_extensions "
            "WHERE registration_id = ? ORDER BY id",
            (reg_id,),
        )
    ]
    item["requests"] = [
        {"id": i, "kind": k, "on_date": d, "reason": r, "created_at": c}
        for i, k, d, r, c in conn.execute(
            "SELECT id, kind, on_date, reason, created_at FROM registration_requests"
            " WHERE registration_id = ? AND state = 'open' AND code_hash IS NULL"
            " AND expires_at > ? ORDER BY id",
            (reg_id, iso(now)),
        )
    ]
    return item


def open_requests_for_landlord(
    conn: sqlite3.Connection, landlord_id: int, now: datetime
) -> list[str]:
    """Ids of the landlord's registrations with a tenant's request waiting for them."""
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT q.registration_id FROM registration_requests q"
            " JOIN registrations r ON r.id = q.registration_id JOIN rooms rm ON rm.id = r.room_id"
            " WHERE rm.landlord_id = ? AND q.state = 'open' AND q.code_hash IS NULL"
            " AND q.expires_at > ? ORDER BY 1",
            (landlord_id, iso(now)),
        )
    ]


def status_for(
    conn: sqlite3.Connection, vault: PiiVault, ref: str, phone_e164: str, now: datetime
) -> dict[str, Any] | None:
    """The tenant's own registration by reference + phone (both must match), else None."""
    code = normalise_ref(ref)
    row = conn.execute(
        "SELECT id FROM registrations WHERE ref_code = ? AND phone_hash = ?",
        (code, phone_hash(vault, phone_e164)),
    ).fetchone()
    return get(conn, vault, str(row[0]), now) if row else None


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
    columns = {
        "doc": "doc_enc", "phone": "phone_enc", "hukou": "hukou_address_enc",
        "birth_date": "person_enc",
    }  # fmt: skip
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
    if field == "birth_date":
        return open_person(vault, reg_id, row[0]).birth_date.isoformat()
    return vault.decrypt_text(row[0], _purpose(field, reg_id))


# Rows written before the fields were encrypted ------------------------------------------


def seal_legacy(db: sqlite_utils.Database, vault: PiiVault) -> int:
    """Encrypt what migration 9 left in clear (registry_legacy_plain*), rebuild the masks
    and re-seal old outbox payloads; the clear rows are deleted with secure_delete on, the
    file vacuumed and the WAL checkpointed, so no copy stays in the file. Returns how many
    registrations. Runs once (at web start); a no-op when nothing is left in clear."""
    conn = db.conn
    if not conn.execute("SELECT 1 FROM registry_legacy_plain LIMIT 1").fetchone() and not (
        conn.execute("SELECT 1 FROM registry_legacy_plain_co LIMIT 1").fetchone()
    ):
        return 0
    conn.execute("PRAGMA secure_delete = ON")
    try:
        with transaction(db) as tx:
            done = _seal_legacy_rows(tx, vault)
    finally:
        conn.execute("PRAGMA secure_delete = OFF")
    # The migration dropped the old tables without secure_delete: their pages may sit on
    # the free list with the clear values. VACUUM rewrites the file without them.
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return done


def _seal_legacy_rows(conn: sqlite3.Connection, vault: PiiVault) -> int:
    rows = conn.execute(
        "SELECT l.registration_id, l.name, l.sex, l.birth_date, l.ethnicity, l.occupation,"
        " r.doc_type, r.doc_enc FROM registry_legacy_plain l"
        " JOIN registrations r ON r.id = l.registration_id"
    ).fetchall()
    for reg_id, name, sex, born, ethnicity, occupation, doc_type, doc_enc in rows:
        nationality = "CHN" if doc_type in ("resident_id", "hmt_permit") else ""
        person = Person(
            name, sex, date.fromisoformat(born), nationality,
            "" if ethnicity == "外籍" else ethnicity, occupation,
        )  # fmt: skip
        number = vault.decrypt_text(doc_enc, _purpose("doc", reg_id))
        conn.execute(
            "UPDATE registrations SET person_enc = ?, doc_mask = ? WHERE id = ?",
            (seal_person(vault, reg_id, person), mask_document(doc_type, number), reg_id),
        )
    co_rows = conn.execute(
        "SELECT l.co_resident_id, l.name, c.registration_id, c.doc_type, c.doc_enc"
        " FROM registry_legacy_plain_co l JOIN co_residents c ON c.id = l.co_resident_id"
    ).fetchall()
    today = datetime.now(UTC).date()  # a child then needs a guardian's consent
    for co_id, name, reg_id, doc_type, doc_enc in co_rows:
        number = vault.decrypt_text(doc_enc, _purpose("co_doc", reg_id))
        born = None
        if len(number) == 18 and is_ascii_digits(number[:17]):
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        record = {"name": name, "birth_date": born.isoformat() if born else None}
        conn.execute(
            "UPDATE co_residents SET person_enc = ?, doc_mask = ?, minor = ? WHERE id = ?",
            (
                vault.encrypt_text(
                    json.dumps(record, ensure_ascii=False), _purpose("co_person", reg_id)
                ),
                mask_document(doc_type, number), int(born is not None and is_child(born, today)),
                co_id,
            ),
        )  # fmt: skip
    _reseal_outbox(conn, vault)
    conn.execute("DELETE FROM registry_legacy_plain")
    conn.execute("DELETE FROM registry_legacy_plain_co")
    return len(rows)


def _reseal_outbox(conn: sqlite3.Connection, vault: PiiVault) -> None:
    """Old registration payloads kept name, sex, birth date, ethnicity and occupation in
    their clear part: move them into the sealed part."""
    clear_keys = ("name", "sex", "birth_date", "ethnicity", "occupation", "doc_mask",
                  "phone_mask", "relation", "room_id", "doc_type")  # fmt: skip
    for seq, key, payload in conn.execute(
        "SELECT seq, key, payload FROM outbox WHERE topic = 'registration'"
    ).fetchall():
        doc = json.loads(payload)
        public = doc.get("registration", {})
        if not any(k in public for k in clear_keys):
            continue
        sealed = doc.get("personal_sealed")
        personal = (
            json.loads(vault.decrypt_text(base64.b64decode(sealed), OUTBOX_PURPOSE + ":" + key))
            if sealed
            else {}
        )
        for k in clear_keys:
            if k in public:
                personal[k] = public.pop(k)
        for k in [k for k in public if k not in _PUBLIC_KEYS]:
            public.pop(k)
        doc["personal_sealed"] = base64.b64encode(
            vault.encrypt_text(json.dumps(personal, ensure_ascii=False), OUTBOX_PURPOSE + ":" + key)
        ).decode("ascii")
        conn.execute(
            "UPDATE outbox SET payload = ? WHERE seq = ?",
            (json.dumps(doc, ensure_ascii=False, separators=(",", ":")), seq),
        )


_PUBLIC_KEYS = frozenset(
    {"id", "status", "move_in_date", "expected_until", "submitted_at", "decided_at",
     "moved_out_on", "consent_at", "consent_version"}
)  # fmt: skip
