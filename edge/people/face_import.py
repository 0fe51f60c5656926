"""Faces in bulk: a ZIP of photos named by resident number (``12.jpg``, ``12_2.jpg``), each
through the same enrolment checks as one photo in the console, with the operator's
attestation that the residents consented.

Why it is written this way:
- The ZIP is checked as a whole first (edge.people.archive: names that climb out of a
  folder, symbolic links, bombs): such an archive is refused and nothing in it is used.
- Then every photo is judged on its own and reported on its own: a refused photo stores
  nothing, and does not stop the resident's other photos nor other residents'.
- The accepted templates of the whole ZIP are stored in one transaction, with the consent
  (who attested it) on each resident and one audit row with counts — never names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils

from edge import audit
from edge.db import transaction
from edge.errors import Phrase
from edge.faces.recogniser import FaceRecogniser, Template
from edge.people.archive import ArchiveError, ArchiveLimits, open_archive, read_member
from edge.people.resident_faces import (
    MAX_PHOTOS,
    FaceEnrolmentError,
    check_consent,
    store_templates,
    upload_templates,
)
from edge.pii import PiiVault

MAX_ZIP_BYTES = 200 * 1024 * 1024
FACE_LIMITS = ArchiveLimits(max_members=5000, max_total=1 << 30, max_member=12 << 20)
_NAME = re.compile(r"^(\d{1,9})(?:_(\d{1,2}))?\.(?:jpe?g|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class PhotoResult:
    name: str  # the member's file name (no folder)
    resident_id: int | None
    accepted: bool
    code: str  # 'ok' or why it was refused
    reason: object = None  # why, a message (Phrase, UserError) each reader reads in their language


@dataclass
class FaceImportReport:
    photos: list[PhotoResult] = field(default_factory=list)
    stored: int = 0  # templates written (0 for a dry run)

    @property
    def accepted(self) -> int:
        return sum(photo.accepted for photo in self.photos)


def _refuse(name: str, rid: int | None, code: str, reason: object) -> PhotoResult:
    return PhotoResult(name, rid, False, code, reason)


def import_faces(
    db: sqlite_utils.Database,
    vault: PiiVault,
    recogniser: FaceRecogniser,
    data: bytes,
    consent_by: str,
    consent: bool,
    actor: str,
    at: datetime,
    commit: bool,
) -> FaceImportReport:
    """Judge every photo in the ZIP and (with ``commit``) store the accepted ones.
    ArchiveError when the ZIP itself is refused; ResidentError without consent."""
    check_consent(consent, consent_by)
    if len(data) > MAX_ZIP_BYTES:
        raise ArchiveError("too_large", "the file is larger than %(n)s MB", {"n": 200})
    archive, members = open_archive(data, FACE_LIMITS)
    known = {row[0] for row in db.execute("SELECT id FROM residents WHERE kind = 'resident'")}
    report = FaceImportReport()
    accepted: dict[int, list[Template]] = {}
    for info in sorted(members, key=lambda i: i.filename):
        name = info.filename.rsplit("/", 1)[-1]
        if not name or name.startswith(".") or info.filename.startswith("__MACOSX/"):
            continue  # a folder entry or an operating system's side file
        found = _NAME.match(name)
        if found is None:
            report.photos.append(
                _refuse(
                    name,
                    None,
                    "bad_name",
                    Phrase("name the photo by resident number: 12.jpg, 12_2.jpg"),
                )
            )
            continue
        rid = int(found.group(1))
        if rid not in known:
            report.photos.append(
                _refuse(
                    name,
                    rid,
                    "unknown_resident",
                    Phrase("there is no resident with this number"),
                )
            )
            continue
        if len(accepted.get(rid, [])) >= MAX_PHOTOS:
            report.photos.append(
                _refuse(
                    name,
                    rid,
                    "too_many_photos",
                    Phrase("at most %(n)s photos a resident", n=MAX_PHOTOS),
                )
            )
            continue
        photo = read_member(archive, info, FACE_LIMITS.max_member)
        try:
            templates = upload_templates(recogniser, [(name, photo)])
        except FaceEnrolmentError as exc:
            refusal = exc.refused[0]
            report.photos.append(_refuse(name, rid, refusal.code, refusal.reason))
            continue
        finally:
            del photo
        accepted.setdefault(rid, []).extend(templates)
        report.photos.append(PhotoResult(name, rid, True, "ok"))
    if commit and accepted:
        with transaction(db) as conn:
            for rid, templates in accepted.items():
                store_templates(
                    conn, vault, recogniser.model_sha256, rid, templates, consent_by, at
                )
                report.stored += len(templates)
            details = {
                "residents": len(accepted),
                "templates": report.stored,
                "refused": len(report.photos) - report.accepted,
                "consent_by": consent_by.strip()[:60],
            }
            audit.append(conn, actor, "bulk_faces", "faces", details, at)
    return report
