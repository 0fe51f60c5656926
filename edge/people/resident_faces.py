"""Face templates of residents: photos checked, templates stored with consent, the index.

Why it is written this way:
- Face templates are biometric data: enrolled only with consent (who recorded it, when),
  encrypted (purpose ``face_template``), tied to the model that made them, and deleted on
  their own when consent is withdrawn (``delete_face_templates`` clears the consent too) or
  with the resident (edge.people.residents.delete_resident).
- Enrolment checks *every* photo before writing anything: one refused photo means nothing
  is stored, so an operator never ends up with half a set of templates, and every refusal
  is reported at once with its reason, in the reader's language (an English msgid, its
  Chinese in errors.po).
- ``store_templates`` writes inside the caller's transaction (the console commits it with
  its audit row and nonce); ``enrol_faces``/``enrol_face_files`` are the CLI's units of work
  and, given ``audit_by``, write the same ``face_enrol`` audit row in the same transaction
  (an enrolment of biometric data is never left out of the audit log).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sqlite_utils

from edge import audit
from edge.db import iso, parse_iso, transaction, utc_now
from edge.errors import Phrase, render_part
from edge.faces.images import ImageInputError, decode_image, image_size, read_image_file
from edge.faces.recogniser import EnrolmentRefused, FaceRecogniser, Template
from edge.people.residents import TEMPLATE_PURPOSE, ResidentError, require_resident
from edge.pii import PiiVault

MAX_PHOTOS = 5
# Pixels one request may have decoded: two 40 MP photos (about 240 MB as BGR, one at a time),
# or five phone photos of 12-16 MP. Checked from the headers before decoding.
REQUEST_PIXEL_BUDGET = 80_000_000
_PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG: what phones and cameras make


@dataclass(frozen=True)
class PhotoRefused:
    index: int
    label: str  # file name or "upload 2": no content
    code: str
    reason: object  # a message (Phrase, UserError): English msgid and its parameters

    @property
    def message(self) -> str:
        """Why, in English (logs, the district protocol's diagnostics)."""
        return str(self.reason)

    def render(self, translate: Callable[[str], str] | None) -> str:
        """Why, in the reader's language (``translate`` is gettext; None: English)."""
        return str(render_part(self.reason, translate))


class FaceEnrolmentError(ResidentError):
    """One or more photos refused; nothing was stored. ``refused`` lists each with why."""

    def __init__(self, refused: list[PhotoRefused]) -> None:
        lines: Phrase | None = None
        for r in refused:  # "a.jpg: why; b.jpg: why", each part a message of its own
            line = Phrase("%(photo)s: %(reason)s", photo=r.label, reason=r.reason)
            lines = line if lines is None else Phrase("%(first)s; %(next)s", first=lines,
                                                      next=line)  # fmt: skip
        super().__init__(
            "photos_refused",
            "nothing enrolled, %(n)s photo(s) refused: %(lines)s",
            {"n": len(refused), "lines": lines or ""},
        )
        self.refused = refused


def upload_templates(
    recogniser: FaceRecogniser,
    uploads: Sequence[tuple[str, bytes]],
    pixel_budget: int = REQUEST_PIXEL_BUDGET,
    on_image: Callable[[np.ndarray], None] | None = None,
) -> list[Template]:
    """Uploaded photos → one template each, or FaceEnrolmentError listing every refusal.
    ``on_image`` sees each decoded photo that gave a template (the console's liveness score)
    before it is dropped.

    Decoded one at a time, each image dropped once its template is made, and only while
    the photos decoded so far stay within ``pixel_budget`` (read from the headers before
    any pixel is decoded): decoding five 40 MP PNGs of one request together would take the
    web process from 0.8 to 1.5 GB."""
    templates: list[Template] = []
    refusals: list[PhotoRefused] = []
    spent = 0
    for index, (label, data) in enumerate(uploads):
        if data and not data.startswith(_PHOTO_MAGIC):
            refusals.append(
                PhotoRefused(index, label, "bad_type", Phrase("not a JPEG or PNG photo"))
            )
            continue
        try:
            width, height = image_size(data)
            if spent + width * height > pixel_budget:
                refusals.append(
                    PhotoRefused(
                        index,
                        label,
                        "over_budget",
                        Phrase(
                            "the photos together have more than %(mp)s megapixels: send fewer"
                            " or smaller photos at a time",
                            mp=pixel_budget // 1_000_000,
                        ),
                    )
                )
                continue
            spent += width * height
            image = decode_image(data)
        except ImageInputError as exc:
            refusals.append(PhotoRefused(index, label, "bad_image", exc))
            continue
        try:
            templates.append(recogniser.enrolment_template(image))
            if on_image is not None:
                on_image(image)
        except EnrolmentRefused as exc:
            refusals.append(PhotoRefused(index, label, exc.refusal.code, exc.refusal.reason))
        finally:
            del image
    if refusals:
        raise FaceEnrolmentError(sorted(refusals, key=lambda r: r.index))
    return templates


def check_photos(
    recogniser: FaceRecogniser,
    photos: Sequence[tuple[int, str, np.ndarray]],
    refused: Sequence[PhotoRefused] = (),
) -> list[Template]:
    """A template per photo, or FaceEnrolmentError listing *every* refused photo (earlier
    refusals such as unreadable files included): never stopping at the first, so the
    operator sees all reasons at once."""
    templates, refusals = [], list(refused)
    for index, label, image in photos:
        try:
            templates.append(recogniser.enrolment_template(image))
        except EnrolmentRefused as exc:
            refusals.append(PhotoRefused(index, label, exc.refusal.code, exc.refusal.reason))
    if refusals:
        raise FaceEnrolmentError(sorted(refusals, key=lambda r: r.index))
    return templates


def check_consent(consent: bool, consent_by: str) -> None:
    if not consent:
        raise ResidentError(
            "consent_missing", "face templates are biometric data: record the resident's consent"
        )
    if not consent_by.strip():
        raise ResidentError("consent_by_missing", "say who recorded the consent (operator)")


def check_photo_count(count: int) -> None:
    if count == 0:
        raise ResidentError("no_photos", "no photos given")
    if count > MAX_PHOTOS:
        raise ResidentError("too_many_photos", "at most %(n)s photos at a time", {"n": MAX_PHOTOS})


def store_templates(
    conn: sqlite3.Connection,
    vault: PiiVault,
    model_sha256: str,
    resident_id: int,
    templates: Sequence[Template],
    consent_by: str,
    at: datetime,
) -> list[int]:
    """Store checked templates (encrypted) and the consent inside the caller's transaction."""
    require_resident(conn, resident_id)
    conn.execute(
        "UPDATE residents SET face_consent_at = ?, face_consent_by = ? WHERE id = ?",
        (iso(at), consent_by.strip()[:60], resident_id),
    )
    ids = []
    for template in templates:
        blob = vault.encrypt(template.vector.astype("<f4").tobytes(), TEMPLATE_PURPOSE)
        cursor = conn.execute(
            "INSERT INTO face_templates (resident_id, template, model_sha256, quality,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (
                resident_id,
                blob,
                model_sha256,
                json.dumps({k: round(v, 3) for k, v in asdict(template.quality).items()}),
                iso(at),
            ),
        )
        ids.append(int(cursor.lastrowid or 0))
    return ids


def delete_face_templates(conn: sqlite3.Connection, resident_id: int) -> int:
    """Consent withdrawn: every template goes and the consent record is cleared with them."""
    require_resident(conn, resident_id)
    count = conn.execute("DELETE FROM face_templates WHERE resident_id = ?", (resident_id,))
    delete_face_photo(conn, resident_id)
    conn.execute(
        "UPDATE residents SET face_consent_at = NULL, face_consent_by = NULL WHERE id = ?",
        (resident_id,),
    )
    return count.rowcount


def enrol_faces(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    photos: Sequence[tuple[str, np.ndarray]],
    consent_by: str,
    consent: bool,
    audit_by: str | None = None,
    audit_details: dict[str, Any] | None = None,
) -> list[int]:
    """Check every photo, then store all templates and the consent in one transaction
    (with its ``face_enrol`` audit row by ``audit_by``, when given)."""
    check_consent(consent, consent_by)
    if not photos:
        raise ResidentError("no_photos", "no photos given")
    templates = check_photos(recogniser, [(i, label, im) for i, (label, im) in enumerate(photos)])
    return _store_audited(
        db, vault, recogniser, resident_id, templates, consent_by, audit_by, audit_details
    )


def enrol_face_files(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    paths: Sequence[Path],
    consent_by: str,
    consent: bool,
    audit_by: str | None = None,
    audit_details: dict[str, Any] | None = None,
) -> list[int]:
    """``enrol_faces`` for photo files: an unreadable, corrupt or huge file is refused like
    a photo without a face (with its reason), and then nothing is stored."""
    check_consent(consent, consent_by)
    if not paths:
        raise ResidentError("no_photos", "no photos given")
    require_resident(db.conn, resident_id)  # before decoding anything: fail fast on a typo
    readable, refused = [], []
    for index, path in enumerate(paths):
        try:
            readable.append((index, path.name, read_image_file(path)))
        except ImageInputError as exc:
            refused.append(PhotoRefused(index, path.name, "bad_image", exc))
    templates = check_photos(recogniser, readable, refused)
    return _store_audited(
        db, vault, recogniser, resident_id, templates, consent_by, audit_by, audit_details
    )


def _store_audited(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    resident_id: int,
    templates: Sequence[Template],
    consent_by: str,
    audit_by: str | None,
    audit_details: dict[str, Any] | None,
) -> list[int]:
    """The templates and consent in one transaction, with the audit row the console writes
    for the same act (``face_enrol``: template ids, model, no photo kept) when ``audit_by``."""
    with transaction(db) as conn:
        at = utc_now()
        model = recogniser.model_sha256
        ids = store_templates(conn, vault, model, resident_id, templates, consent_by, at)
        if audit_by is not None:
            details = {
                "templates": ids,
                "model_sha256": model[:12],
                "photo_kept": False,
                **(audit_details or {}),
            }
            audit.append(conn, audit_by, "face_enrol", f"resident:{resident_id}", details, at)
        return ids


def consent_time(db: sqlite_utils.Database, resident_id: int) -> datetime | None:
    row = db.execute(
        "SELECT face_consent_at FROM residents WHERE id = ?", (resident_id,)
    ).fetchone()
    return parse_iso(row[0]) if row else None


# -- the enrolment photo's thumbnail ----------------------------------------------------------
PHOTO_PURPOSE = "resident.face_photo"
PHOTO_QUALITY = 80


def store_face_photo(
    conn: sqlite3.Connection,
    vault: PiiVault,
    resident_id: int,
    template: Template,
    consent_by: str,
    at: datetime,
) -> bool:
    """Keep ``template``'s aligned face as the resident's photo thumbnail (encrypted JPEG),
    replacing any earlier one, inside the caller's transaction; False when the template has
    no face crop (nothing is stored then). Only with the resident's consent to keep one."""
    require_resident(conn, resident_id)
    if template.crop is None or template.crop.size == 0:
        return False
    ok, encoded = cv2.imencode(".jpg", template.crop, [cv2.IMWRITE_JPEG_QUALITY, PHOTO_QUALITY])
    if not ok:
        return False
    blob = vault.encrypt(encoded.tobytes(), PHOTO_PURPOSE)
    conn.execute(
        "INSERT INTO resident_face_photos (resident_id, photo, consent_at, consent_by,"
        " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (resident_id) DO UPDATE SET"
        " photo = excluded.photo, consent_at = excluded.consent_at,"
        " consent_by = excluded.consent_by, created_at = excluded.created_at",
        (resident_id, blob, iso(at), consent_by.strip()[:60], iso(at)),
    )
    return True


def delete_face_photo(conn: sqlite3.Connection, resident_id: int) -> bool:
    """Remove the resident's photo thumbnail (in the caller's transaction); True if one was
    kept."""
    cursor = conn.execute("DELETE FROM resident_face_photos WHERE resident_id = ?", (resident_id,))
    return cursor.rowcount > 0


def face_photo(conn: sqlite3.Connection, vault: PiiVault, resident_id: int) -> bytes | None:
    """The resident's photo thumbnail (JPEG bytes), or None when none is kept."""
    row = conn.execute(
        "SELECT photo FROM resident_face_photos WHERE resident_id = ?", (resident_id,)
    ).fetchone()
    return vault.decrypt(row[0], PHOTO_PURPOSE) if row else None
