"""Residents at pedestrian gates: add, edit, (de)activate, list, delete; PINs.

Why it is written this way:
- Names are personal data: stored only encrypted (edge.pii, purpose ``resident.name``), and
  listed masked (``张**``) unless the caller holds the key *and* asks for full names.
- Deleting a resident takes everything biometric or credential-like with them in one
  transaction: face templates, PIN, the passes and visitors they host.
- PINs are hashed with scrypt (salted, memory-hard), never encrypted: nobody needs them back.
  A keypad entry is ``<resident number>*<PIN>``, so one hash is checked per attempt.
- Two layers: functions taking a connection (``insert_resident``, ``update_resident``, ...)
  write inside the caller's transaction, so the web console commits a change together with
  its audit row and double-submit nonce; the ``db`` functions (``add_resident``,
  ``set_pin``, ...) are the CLI's one-transaction units of work over them.
- Errors an operator can cause are ``ResidentError`` with a stable ``code``: the console
  shows its own translation for the code, the CLI the English message.

Enrolling face templates lives in edge.people.resident_faces; the index the gate matches against
(``load_face_index``) is read here, beside the resident rows it joins.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlite_utils

from edge.db import iso, transaction, utc_now
from edge.faces.embedder import EMBEDDING_DIM
from edge.faces.index import FaceIndex
from edge.people.addresses import find_household, remember_group
from edge.people.vehicles import EnrolmentError, insert_household
from edge.pii import PiiVault
from edge.policy.person import ResidentFact

NAME_PURPOSE = "resident.name"
TEMPLATE_PURPOSE = "face_template"  # the PII purpose of residents' face templates
_GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class ResidentError(EnrolmentError):
    """Input an operator can fix; ``code`` is stable (the console translates by it)."""

    def __init__(self, code: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message, params, code=code)


# -- the resident record ---------------------------------------------------------------------
def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``: enough for a guard to see it is the right person, not to learn a
    name. Always two stars, so the mask does not give away the length either."""
    name = name.strip()
    return f"{name[0]}**" if name else "**"


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 60:
        raise ResidentError("name_length", "name must be 1-60 characters")
    return name


def check_group(group: str) -> str:
    group = (group or "").strip()
    if not _GROUP.match(group):
        raise ResidentError(
            "group_format", "group must be lower-case letters, digits or _, e.g. residents"
        )
    return group


def check_household(label: str | None) -> str | None:
    """A household label such as ``3-1-402``, or None for a resident without one."""
    label = (label or "").strip()
    if not label:
        return None
    if len(label) > 40 or not label.isprintable():
        raise ResidentError(
            "household_label", "household label must be 1-40 characters, e.g. 3-1-402"
        )
    return label


def _household_id(conn: sqlite3.Connection, household: str | None, at: datetime) -> int | None:
    """The household a form or the command line named (edge.people.addresses), as ResidentError
    when it names nothing (a picker's room that was deleted meanwhile)."""
    try:
        return insert_household(conn, household, at)
    except EnrolmentError as exc:
        raise ResidentError(exc.code, str(exc)) from exc


def require_resident(conn: sqlite3.Connection, resident_id: int, kind: str | None = None) -> None:
    """ResidentError ``no_resident`` unless the row exists (and is of ``kind`` if given)."""
    sql = "SELECT 1 FROM residents WHERE id = ?" + (" AND kind = ?" if kind else "")
    args = (resident_id, kind) if kind else (resident_id,)
    if not conn.execute(sql, args).fetchone():
        raise ResidentError("no_resident", "no resident %(id)s", {"id": resident_id})


def insert_resident(
    conn: sqlite3.Connection,
    vault: PiiVault,
    name: str,
    household: str | None,
    group: str,
    at: datetime,
) -> int:
    """Add a resident inside the caller's transaction; the household is created if new."""
    name, group, household = check_name(name), check_group(group), check_household(household)
    household_id = _household_id(conn, household, at)
    remember_group(conn, group, at)
    cursor = conn.execute(
        "INSERT INTO residents (household_id, name, name_enc, access_group, created_at)"
        " VALUES (?, '', ?, ?, ?)",
        (household_id, vault.encrypt_text(name, NAME_PURPOSE), group, iso(at)),
    )
    return int(cursor.lastrowid or 0)


def add_resident(
    db: sqlite_utils.Database,
    vault: PiiVault,
    name: str,
    household: str | None = None,
    group: str = "residents",
) -> int:
    with transaction(db) as conn:
        return insert_resident(conn, vault, name, household, group, utc_now())


def _name_of(vault: PiiVault, plain: str | None, sealed: bytes | None) -> str:
    """Residents enrolled before names were encrypted keep their plain ``name``."""
    return vault.decrypt_text(sealed, NAME_PURPOSE) if sealed is not None else plain or ""


def update_resident(
    conn: sqlite3.Connection,
    vault: PiiVault,
    resident_id: int,
    name: str,
    household: str | None,
    group: str,
    at: datetime,
) -> list[str]:
    """Change name, household and group; returns the names of the fields that changed."""
    name, group, household = check_name(name), check_group(group), check_household(household)
    row = conn.execute(
        "SELECT r.name, r.name_enc, r.household_id, r.access_group FROM residents r"
        " WHERE r.id = ? AND r.kind = 'resident'",
        (resident_id,),
    ).fetchone()
    if row is None:
        raise ResidentError("no_resident", "no resident %(id)s", {"id": resident_id})
    home = find_household(conn, household) if household else None
    changed = [
        field
        for field, old, new in (
            ("name", _name_of(vault, row[0], row[1]), name),
            ("household", row[2], home[0] if home else (-1 if household else None)),
            ("group", row[3], group),
        )
        if old != new
    ]
    if changed:
        remember_group(conn, group, at)
        conn.execute(
            "UPDATE residents SET name = '', name_enc = ?, household_id = ?, access_group = ?"
            " WHERE id = ?",
            (
                vault.encrypt_text(name, NAME_PURPOSE),
                _household_id(conn, household, at),
                group,
                resident_id,
            ),
        )
    return changed


def set_active(conn: sqlite3.Connection, resident_id: int, active: bool) -> bool:
    """(De)activate; True if it changed. An inactive resident's face leaves the gates' index
    (``load_face_index``) and the policy denies their PIN (``resident_inactive``)."""
    require_resident(conn, resident_id, "resident")
    cursor = conn.execute(
        "UPDATE residents SET active = ? WHERE id = ? AND active != ?",
        (int(active), resident_id, int(active)),
    )
    return cursor.rowcount == 1


def delete_resident(conn: sqlite3.Connection, resident_id: int) -> dict[str, int]:
    """Delete a resident with everything biometric or credential-like hanging off them: face
    templates, PIN, the QR passes and visitor rows they host (and those visitors' templates).
    Returns how many of each went (counts only, for the audit log)."""
    require_resident(conn, resident_id)
    visitors = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM residents WHERE host_resident_id = ?", (resident_id,)
        ).fetchall()
    ]
    people = [resident_id, *visitors]
    marks = ",".join("?" * len(people))  # ids from the database, bound as parameters
    counts = {
        "templates": conn.execute(
            f"DELETE FROM face_templates WHERE resident_id IN ({marks})", people
        ).rowcount,
        "passes": conn.execute(
            f"DELETE FROM qr_passes WHERE host_resident_id IN ({marks})", people
        ).rowcount,
        "pin": conn.execute(
            "SELECT COUNT(*) FROM residents WHERE id = ? AND pin_hash IS NOT NULL", (resident_id,)
        ).fetchone()[0],
    }
    # Their login goes too: deactivated (the audit log refers to the user id) and signed out;
    # the link row goes with the resident (ON DELETE CASCADE).
    account = "SELECT user_id FROM resident_accounts WHERE resident_id = ?"
    counts["accounts"] = conn.execute(
        f"UPDATE users SET active = 0 WHERE id IN ({account})", (resident_id,)
    ).rowcount
    conn.execute(f"DELETE FROM web_sessions WHERE user_id IN ({account})", (resident_id,))
    conn.execute(f"DELETE FROM residents WHERE id IN ({marks})", people)
    counts["visitors"] = len(visitors)
    return counts


def hosted(db: sqlite_utils.Database, resident_id: int) -> dict[str, int]:
    """What deleting this resident takes with them besides their own record: the QR passes
    and visitor rows they host, and their login (shown on the console's confirmation page)."""
    passes = db.execute(
        "SELECT COUNT(*) FROM qr_passes WHERE host_resident_id = ?", (resident_id,)
    ).fetchone()[0]
    visitors = db.execute(
        "SELECT COUNT(*) FROM residents WHERE host_resident_id = ?", (resident_id,)
    ).fetchone()[0]
    accounts = db.execute(
        "SELECT COUNT(*) FROM resident_accounts a JOIN users u ON u.id = a.user_id"
        " WHERE a.resident_id = ? AND u.active = 1",
        (resident_id,),
    ).fetchone()[0]
    return {"passes": int(passes), "visitors": int(visitors), "accounts": int(accounts)}


def remove_resident(db: sqlite_utils.Database, resident_id: int) -> int:
    """Delete the resident, their templates and passes in one transaction; templates removed."""
    with transaction(db) as conn:
        return delete_resident(conn, resident_id)["templates"]


_COLUMNS = (
    "SELECT r.id, h.label, r.access_group, r.active, r.face_consent_at,"
    " (SELECT COUNT(*) FROM face_templates t WHERE t.resident_id = r.id),"
    " r.pin_hash IS NOT NULL, r.name, r.name_enc, r.household_id, r.face_consent_by"
    " FROM residents r LEFT JOIN households h ON h.id = r.household_id"
)
_KEYS = ("id", "household", "group", "active", "face_consent_at", "templates", "has_pin")


def _contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter(
    household: str | None,
    active: bool | None,
    kind: str,
    household_ids: Sequence[int] | None = None,
) -> tuple[str, list[Any]]:
    """WHERE clause: of ``kind``, household label containing ``household``, ``active`` state,
    and, with ``household_ids``, only those households (one page of the households list)."""
    where: list[str] = ["r.kind = ?"]
    args: list[object] = [kind]
    if household:
        where.append("h.label LIKE ? ESCAPE '\\'")
        args.append(_contains(household))
    if household_ids is not None:
        where.append(f"r.household_id IN ({', '.join('?' * len(household_ids)) or 'NULL'})")
        args.extend(household_ids)
    if active is not None:
        where.append("r.active = ?")
        args.append(int(active))
    return " AND ".join(where), args


def list_residents(
    db: sqlite_utils.Database,
    vault: PiiVault | None = None,
    *,
    masked: bool = False,
    household: str | None = None,
    active: bool | None = None,
    kind: str = "resident",
    limit: int = -1,
    offset: int = 0,
    household_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Residents (not visitors), by household label then id; optionally only those whose
    household label contains ``household``, of one ``active`` state, one page of them.

    Without a ``vault`` no name at all; with one, ``name`` in full (the admin CLI on the box)
    or, with ``masked``, only ``name_masked`` (the console's lists: the full name is never in
    the result, so a template cannot show it by mistake). Callers must not log names.
    """
    where, args = _filter(household, active, kind, household_ids)
    sql = f"{_COLUMNS} WHERE {where} ORDER BY h.label IS NULL, h.label, r.id LIMIT ? OFFSET ?"
    listed = []
    for row in db.execute(sql, [*args, limit, offset]).fetchall():
        entry = dict(zip(_KEYS, row[:7], strict=True))
        entry["active"], entry["has_pin"] = bool(entry["active"]), bool(entry["has_pin"])
        if vault is not None and masked:
            entry["name_masked"] = mask_name(_name_of(vault, row[7], row[8]))
        elif vault is not None:
            entry = {"id": entry["id"], "name": _name_of(vault, row[7], row[8]), **entry}
        listed.append(entry)
    return listed


def count_residents(
    db: sqlite_utils.Database,
    *,
    household: str | None = None,
    active: bool | None = None,
    kind: str = "resident",
) -> int:
    where, args = _filter(household, active, kind)
    sql = "SELECT COUNT(*) FROM residents r LEFT JOIN households h ON h.id = r.household_id"
    return int(db.execute(f"{sql} WHERE {where}", args).fetchone()[0])


def _households_where(contains: str | None) -> tuple[str, list[Any]]:
    if not contains:
        return "", []
    return " WHERE label LIKE ? ESCAPE '\\'", [_contains(contains)]


def list_households(
    db: sqlite_utils.Database, contains: str | None = None, limit: int = -1, offset: int = 0
) -> list[dict[str, Any]]:
    """Households (id, label, room_id, needs_review) by label — the ones flagged for review
    first — all or those whose label contains ``contains``; ``limit``/``offset`` give one
    page (a community has thousands)."""
    where, args = _households_where(contains)
    sql = (
        f"SELECT id, label, room_id, needs_review FROM households{where}"
        " ORDER BY needs_review DESC, label, id LIMIT ? OFFSET ?"
    )
    return [dict(row) for row in db.query(sql, [*args, limit, offset])]


def count_households(db: sqlite_utils.Database, contains: str | None = None) -> int:
    where, args = _households_where(contains)
    return int(db.execute(f"SELECT COUNT(*) FROM households{where}", args).fetchone()[0])


def get_resident(
    db: sqlite_utils.Database, vault: PiiVault, resident_id: int
) -> dict[str, Any] | None:
    """One resident (kind resident) with the full name, for their own edit page; or None."""
    row = db.execute(
        f"{_COLUMNS} WHERE r.id = ? AND r.kind = 'resident'", (resident_id,)
    ).fetchone()
    if row is None:
        return None
    entry = dict(zip(_KEYS, row[:7], strict=True))
    name = _name_of(vault, row[7], row[8])
    entry.update(
        name=name,
        name_masked=mask_name(name),
        household_id=row[9],
        face_consent_by=row[10],
        active=bool(entry["active"]),
        has_pin=bool(entry["has_pin"]),
    )
    return entry


def resident_fact(db: sqlite_utils.Database, resident_id: int) -> ResidentFact | None:
    row = db.execute(
        "SELECT r.id, r.active, r.access_group, h.label FROM residents r"
        " LEFT JOIN households h ON h.id = r.household_id WHERE r.id = ?",
        (resident_id,),
    ).fetchone()
    if not row:
        return None
    label = f"resident {row[0]}" + (f" of household {row[3]}" if row[3] else "")
    return ResidentFact(row[0], bool(row[1]), row[2], label)


# -- PINs ------------------------------------------------------------------------------------
def _hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)


def hash_pin(pin: str) -> str:
    """Check the PIN rules and hash it. Slow on purpose (scrypt): call it *before* opening a
    write transaction, so the database is not held locked while it runs."""
    if not re.fullmatch(r"\d{6,8}", pin or ""):
        raise ResidentError("pin_format", "PIN must be 6-8 digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise ResidentError("pin_weak", "PIN is too easy to guess (repeated or consecutive digits)")
    salt = secrets.token_bytes(16)
    return f"scrypt${salt.hex()}${_hash_pin(pin, salt).hex()}"


def store_pin_hash(conn: sqlite3.Connection, resident_id: int, stored: str | None) -> bool:
    """Set (a ``hash_pin`` result) or clear (None) the PIN; True if there was one before."""
    require_resident(conn, resident_id)
    had = conn.execute(
        "SELECT pin_hash IS NOT NULL FROM residents WHERE id = ?", (resident_id,)
    ).fetchone()[0]
    conn.execute("UPDATE residents SET pin_hash = ? WHERE id = ?", (stored, resident_id))
    return bool(had)


def set_pin(db: sqlite_utils.Database, resident_id: int, pin: str) -> None:
    stored = hash_pin(pin)
    with transaction(db) as conn:
        store_pin_hash(conn, resident_id, stored)


def check_pin(db: sqlite_utils.Database, resident_id: int, pin: str) -> bool:
    row = db.execute("SELECT pin_hash FROM residents WHERE id = ?", (resident_id,)).fetchone()
    if not row or not row[0] or not re.fullmatch(r"\d{4,12}", pin):
        return False
    _, salt_hex, digest_hex = row[0].split("$")
    return hmac.compare_digest(_hash_pin(pin, bytes.fromhex(salt_hex)).hex(), digest_hex)


def load_face_index(db: sqlite_utils.Database, vault: PiiVault, model_sha256: str) -> FaceIndex:
    """All active residents' templates made by this model, decrypted into one index."""
    rows = db.execute(
        "SELECT t.resident_id, t.template FROM face_templates t JOIN residents r"
        " ON r.id = t.resident_id WHERE r.active = 1 AND r.face_consent_at IS NOT NULL"
        " AND t.model_sha256 = ?",
        (model_sha256,),
    ).fetchall()
    if not rows:
        return FaceIndex.empty()
    vectors = np.stack(
        [np.frombuffer(vault.decrypt(blob, TEMPLATE_PURPOSE), "<f4") for _, blob in rows]
    ).reshape(-1, EMBEDDING_DIM)
    return FaceIndex(vectors, np.array([rid for rid, _ in rows], np.int64))
