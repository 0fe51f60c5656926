"""Residents at pedestrian gates: add, list, remove; face templates with consent; PINs.

Why it is written this way:
- Names are personal data: stored only encrypted (edge.pii, purpose ``resident.name``).
- Face templates are biometric data: enrolled only with consent (who recorded it, when),
  encrypted (purpose ``face_template``), tied to the model that made them, and deleted with
  the resident in the same transaction (``ON DELETE CASCADE`` inside ``remove_resident``).
- Enrolment checks *every* photo before writing anything: one refused photo means nothing
  is stored, so an operator never ends up with half a set of templates.
- PINs are hashed with scrypt (salted, memory-hard), never encrypted: nobody needs them back.
  A keypad entry is ``<resident number>*<PIN>``, so one hash is checked per attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from edge.db import iso, parse_iso, transaction, utc_now
from edge.faces.embedder import EMBEDDING_DIM
from edge.faces.images import ImageInputError, read_image_file
from edge.faces.index import FaceIndex
from edge.faces.recogniser import EnrolmentRefused, FaceRecogniser, Template
from edge.person_policy import ResidentFact
from edge.pii import PiiVault
from edge.vehicles import EnrolmentError, _household_id

NAME_PURPOSE = "resident.name"
TEMPLATE_PURPOSE = "face_template"
_GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class PhotoRefused:
    index: int
    label: str  # file name or "upload 2": no content
    code: str
    message: str


class FaceEnrolmentError(EnrolmentError):
    """One or more photos refused; nothing was stored. ``refused`` lists each with why."""

    def __init__(self, refused: list[PhotoRefused]) -> None:
        lines = "; ".join(f"{r.label}: {r.message}" for r in refused)
        super().__init__(f"nothing enrolled, {len(refused)} photo(s) refused: {lines}")
        self.refused = refused


def _resident_exists(conn: Any, resident_id: int) -> None:
    if not conn.execute("SELECT 1 FROM residents WHERE id = ?", (resident_id,)).fetchone():
        raise EnrolmentError(f"no resident {resident_id}")


def add_resident(
    db: sqlite_utils.Database,
    vault: PiiVault,
    name: str,
    household: str | None = None,
    group: str = "residents",
) -> int:
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise EnrolmentError("name must be 1-60 characters")
    if not _GROUP.match(group):
        raise EnrolmentError("group must be lower-case letters, digits or _, e.g. residents")
    now = utc_now()
    with transaction(db) as conn:
        household_id = _household_id(conn, household, now)
        cursor = conn.execute(
            "INSERT INTO residents (household_id, name, name_enc, access_group, created_at)"
            " VALUES (?, '', ?, ?, ?)",
            (household_id, vault.encrypt_text(name, NAME_PURPOSE), group, iso(now)),
        )
        return int(cursor.lastrowid)


def list_residents(
    db: sqlite_utils.Database, vault: PiiVault | None = None
) -> list[dict[str, Any]]:
    """Residents; without names unless a ``vault`` is given (the admin CLI on the box).

    Names are decrypted only for display to whoever holds the key; callers must not log
    the result. Residents enrolled before names were encrypted keep their plain ``name``.
    """
    rows = db.execute(
        "SELECT r.id, h.label, r.access_group, r.active, r.face_consent_at,"
        " (SELECT COUNT(*) FROM face_templates t WHERE t.resident_id = r.id),"
        " r.pin_hash IS NOT NULL, r.name, r.name_enc"
        " FROM residents r LEFT JOIN households h ON h.id = r.household_id ORDER BY r.id"
    ).fetchall()
    keys = ("id", "household", "group", "active", "face_consent_at", "templates", "has_pin")
    listed = []
    for row in rows:
        entry = dict(zip(keys, row[:7], strict=True))
        if vault is not None:
            plain, sealed = row[7], row[8]
            entry = {"id": entry["id"], "name": plain, **{k: entry[k] for k in keys[1:]}}
            if sealed is not None:
                entry["name"] = vault.decrypt_text(sealed, NAME_PURPOSE)
        listed.append(entry)
    return listed


def remove_resident(db: sqlite_utils.Database, resident_id: int) -> int:
    """Delete the resident, their templates and passes in one transaction; templates removed."""
    with transaction(db) as conn:
        _resident_exists(conn, resident_id)
        count = conn.execute(
            "SELECT COUNT(*) FROM face_templates WHERE resident_id = ?", (resident_id,)
        ).fetchone()[0]
        conn.execute("DELETE FROM face_templates WHERE resident_id = ?", (resident_id,))
        conn.execute("DELETE FROM residents WHERE id = ?", (resident_id,))
    return int(count)


def enrol_faces(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    photos: Sequence[tuple[str, np.ndarray]],
    consent_by: str,
    consent: bool,
) -> list[int]:
    """Check every photo, then store all templates and the consent in one transaction."""
    _check_consent(consent, consent_by)
    if not photos:
        raise EnrolmentError("no photos given")
    templates, refused = _templates(recogniser, list(enumerate(photos)))
    if refused:
        raise FaceEnrolmentError(refused)
    return _store_templates(db, vault, recogniser, resident_id, templates, consent_by)


def enrol_face_files(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    paths: Sequence[Path],
    consent_by: str,
    consent: bool,
) -> list[int]:
    """``enrol_faces`` for photo files: an unreadable, corrupt or huge file is refused like
    a photo without a face (with its reason), and then nothing is stored."""
    _check_consent(consent, consent_by)
    if not paths:
        raise EnrolmentError("no photos given")
    _resident_exists(db.conn, resident_id)  # before decoding anything: fail fast on a typo
    readable, refused = [], []
    for index, path in enumerate(paths):
        try:
            readable.append((index, (path.name, read_image_file(path))))
        except ImageInputError as exc:
            message = f"{exc.message_zh} / {exc}"
            refused.append(PhotoRefused(index, path.name, "bad_image", message))
    templates, quality_refused = _templates(recogniser, readable)
    refused = sorted(refused + quality_refused, key=lambda r: r.index)
    if refused:
        raise FaceEnrolmentError(refused)
    return _store_templates(db, vault, recogniser, resident_id, templates, consent_by)


def _check_consent(consent: bool, consent_by: str) -> None:
    if not consent:
        raise EnrolmentError("face templates are biometric data: record the resident's consent")
    if not consent_by.strip():
        raise EnrolmentError("say who recorded the consent (operator)")


def _templates(
    recogniser: FaceRecogniser, photos: list[tuple[int, tuple[str, np.ndarray]]]
) -> tuple[list[Template], list[PhotoRefused]]:
    """Check every photo (never stopping at the first refusal, so all reasons are shown)."""
    templates, refused = [], []
    for index, (label, image) in photos:
        try:
            templates.append(recogniser.enrolment_template(image))
        except EnrolmentRefused as exc:
            r = exc.refusal
            refused.append(PhotoRefused(index, label, r.code, f"{r.message_zh} / {r.message_en}"))
    return templates, refused


def _store_templates(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    templates: list[Template],
    consent_by: str,
) -> list[int]:
    now = iso(utc_now())
    ids = []
    with transaction(db) as conn:
        _resident_exists(conn, resident_id)
        conn.execute(
            "UPDATE residents SET face_consent_at = ?, face_consent_by = ? WHERE id = ?",
            (now, consent_by.strip()[:60], resident_id),
        )
        for template in templates:
            blob = vault.encrypt(template.vector.astype("<f4").tobytes(), TEMPLATE_PURPOSE)
            cursor = conn.execute(
                "INSERT INTO face_templates (resident_id, template, model_sha256, quality,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    resident_id,
                    blob,
                    recogniser.model_sha256,
                    json.dumps({k: round(v, 3) for k, v in asdict(template.quality).items()}),
                    now,
                ),
            )
            ids.append(int(cursor.lastrowid))
    return ids


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


def _hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)


def set_pin(db: sqlite_utils.Database, resident_id: int, pin: str) -> None:
    if not re.fullmatch(r"\d{6,8}", pin):
        raise EnrolmentError("PIN must be 6-8 digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise EnrolmentError("PIN is too easy to guess (repeated or consecutive digits)")
    salt = secrets.token_bytes(16)
    stored = f"scrypt${salt.hex()}${_hash_pin(pin, salt).hex()}"
    with transaction(db) as conn:
        _resident_exists(conn, resident_id)
        conn.execute("UPDATE residents SET pin_hash = ? WHERE id = ?", (stored, resident_id))


def check_pin(db: sqlite_utils.Database, resident_id: int, pin: str) -> bool:
    row = db.execute("SELECT pin_hash FROM residents WHERE id = ?", (resident_id,)).fetchone()
    if not row or not row[0] or not re.fullmatch(r"\d{4,12}", pin):
        return False
    _, salt_hex, digest_hex = row[0].split("$")
    return hmac.compare_digest(_hash_pin(pin, bytes.fromhex(salt_hex)).hex(), digest_hex)


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


def consent_time(db: sqlite_utils.Database, resident_id: int) -> datetime | None:
    row = db.execute(
        "SELECT face_consent_at FROM residents WHERE id = ?", (resident_id,)
    ).fetchone()
    return parse_iso(row[0]) if row else None
