"""Visitor passes of three kinds — QR code, plate, face — issued, listed, revoked, spent.

One module for the three because a guard thinks of "a pass for a visitor of 3-1-402", not
of three tables: the console lists them together and revokes any of them the same way.
Where each lives:

| kind | row | a use is spent |
| --- | --- | --- |
| QR | ``qr_passes`` (only the token's hash; edge.people.passes) | each door opening |
| plate | ``vehicles`` of kind 'visitor' with ``max_uses`` | once per passage |
| face | ``residents`` of kind 'visitor' + ``face_templates`` | once per passage |

Rules every pass obeys (``check_terms``): the window starts no earlier than a few minutes
ago (the guard types the current minute) and no later than 30 days ahead, ends after it
starts and lasts at most 30 days; 1-100 uses. A pass names its host: a household, and
optionally one resident of it. A pass carries no visitor's name: the note says what the
visit is for, and a note that looks like a phone or ID number is refused (data
minimisation; the face pass is biometric data enough).

Every write here takes the caller's connection inside its transaction, so the console
claims its form nonce, writes the pass and its audit row in one commit. Biometric data of
visitors is not kept: revoking a face pass deletes its templates at once, and
edge.box.retention deletes them at its first run after the pass ends (expired or used up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard

import sqlite_utils

from edge.db import iso, parse_iso, transaction
from edge.faces.recogniser import Template
from edge.people.addresses import find_household
from edge.people.passes import insert_pass
from edge.people.resident_faces import store_templates
from edge.people.vehicles import EnrolmentError
from edge.pii import PiiVault
from edge.plates.grammar import normalise_plate
from edge.policy.person import VisitFact

PassKind = Literal["qr", "plate", "face"]
PASS_KINDS: tuple[PassKind, ...] = ("qr", "plate", "face")


def is_pass_kind(kind: str) -> TypeGuard[PassKind]:
    """A kind of pass (``qr``, ``plate``, ``face``), e.g. from a URL."""
    return kind in PASS_KINDS


Status = Literal["active", "upcoming", "expired", "used_up", "revoked"]
STATUSES: tuple[Status, ...] = ("active", "upcoming", "expired", "used_up", "revoked")

MAX_WINDOW = timedelta(days=30)
MAX_AHEAD = timedelta(days=30)
START_SLACK = timedelta(minutes=10)  # "now" typed to the minute is a little in the past
MAX_USES = 100
MAX_NOTE = 40
VISITOR_GROUP = "visitors"
_DIGITS = re.compile(r"\d[\d\s-]{5,}\d")  # 7+ digits in a row: a phone or ID number
_QR_LABEL = re.compile(r"^visitor of (.+?)(?:: (.*))?$")


class PassTermsError(EnrolmentError):
    """A pass's window, uses or host is refused; ``code`` lets the console translate it."""

    def __init__(self, code: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message, params, code=code)


@dataclass(frozen=True)
class Terms:
    valid_from: datetime
    valid_to: datetime
    max_uses: int


@dataclass(frozen=True)
class Host:
    household_id: int
    household: str  # its label, e.g. "3-1-402"
    resident_id: int | None = None


def check_terms(valid_from: datetime, valid_to: datetime, max_uses: int, now: datetime) -> Terms:
    """The rules of every pass's window and uses (see the module docstring)."""
    if valid_from.tzinfo is None or valid_to.tzinfo is None:
        raise PassTermsError("naive_time", "validity times need a time zone")
    if valid_from < now - START_SLACK:
        raise PassTermsError("start_in_past", "the pass cannot start in the past")
    if valid_from > now + MAX_AHEAD:
        raise PassTermsError("start_too_far", "the pass must start within 30 days")
    if valid_to <= valid_from:
        raise PassTermsError("end_before_start", "the end must be after the start")
    if valid_to - valid_from > MAX_WINDOW:
        raise PassTermsError("too_long", "a pass lasts at most 30 days")
    if isinstance(max_uses, bool) or not isinstance(max_uses, int) or not 1 <= max_uses <= MAX_USES:
        raise PassTermsError("uses_out_of_range", "uses must be 1-%(max)s", {"max": MAX_USES})
    return Terms(valid_from, valid_to, max_uses)


def check_note(note: str) -> str:
    """What the visit is for ("plumber", "family"): short, and no phone or ID numbers."""
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise PassTermsError(
            "note_too_long", "the note has at most %(max)s characters", {"max": MAX_NOTE}
        )
    if _DIGITS.search(note):
        raise PassTermsError("note_has_number", "no phone or ID numbers in the note")
    if any(ch in note for ch in "<>{}") or any(ord(ch) < 32 for ch in note):
        raise PassTermsError("note_bad_chars", "the note may contain only ordinary text")
    return note


def resolve_host(conn: Any, household: str, resident_id: int | None) -> Host:
    """The host household (by label) and optional host resident, which must belong to it.

    The household must exist: a typo must not create a household nobody lives in. With
    only a resident number, the household is that resident's.
    """
    household = household.strip()
    if resident_id is not None:
        row = conn.execute(
            "SELECT r.household_id, h.label FROM residents r"
            " LEFT JOIN households h ON h.id = r.household_id"
            " WHERE r.id = ? AND r.kind = 'resident' AND r.active = 1",
            (resident_id,),
        ).fetchone()
        if row is None:
            raise PassTermsError(
                "no_host_resident", "no active resident %(id)s", {"id": resident_id}
            )
        if row[0] is None:
            raise PassTermsError("host_without_household", "the host resident has no household")
        if household and household != row[1]:
            raise PassTermsError(
                "host_not_in_household",
                "resident %(id)s does not live in %(household)s",
                {"id": resident_id, "household": household},
            )
        return Host(int(row[0]), str(row[1]), resident_id)
    if not household:
        raise PassTermsError("no_host", "name the host household (or resident)")
    found = find_household(conn, household)
    if found is None:
        raise PassTermsError("no_household", "no household %(household)s", {"household": household})
    return Host(found[0], found[1], None)


def _label(host: Host, note: str) -> str:
    who = f"visitor of {host.household}"
    return f"{who}: {note}"[:60] if note else who


# -- issuing ------------------------------------------------------------------------------
def issue_qr(
    conn: Any, host: Host, terms: Terms, note: str, issued_by: str, now: datetime
) -> tuple[int, str]:
    """A QR pass; returns (id, token). The token is shown once: only its hash is stored."""
    return insert_pass(
        conn,
        _label(host, note),
        terms.valid_from,
        terms.valid_to,
        terms.max_uses,
        host.resident_id,
        VISITOR_GROUP,
        issued_by,
        now,
    )


def issue_plate(
    conn: Any, plate: str, host: Host, terms: Terms, note: str, issued_by: str, now: datetime
) -> int:
    """A counted plate pass (a 'visitor' vehicles row). Refused when the plate already has a
    usable visitor pass overlapping this window: two passes would make uses ambiguous."""
    plate = normalise_plate(plate)
    clash = conn.execute(
        "SELECT id FROM vehicles WHERE plate = ? AND kind = 'visitor' AND active = 1"
        " AND (max_uses IS NULL OR uses < max_uses)"
        " AND COALESCE(valid_from, '') < ? AND (valid_to IS NULL OR valid_to > ?)",
        (plate, iso(terms.valid_to), iso(terms.valid_from)),
    ).fetchone()
    if clash:
        raise PassTermsError(
            "plate_has_pass",
            "%(plate)s already has a visitor pass for this time (#%(id)s)",
            {"plate": plate, "id": clash[0]},
        )
    cursor = conn.execute(
        "INSERT INTO vehicles (plate, kind, resident_id, household_id, valid_from, valid_to,"
        " note, created_at, max_uses, uses, issued_by)"
        " VALUES (?, 'visitor', ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        (
            plate,
            host.resident_id,
            host.household_id,
            iso(terms.valid_from),
            iso(terms.valid_to),
            note,
            iso(now),
            terms.max_uses,
            issued_by,
        ),
    )
    return int(cursor.lastrowid)


def issue_face(
    conn: Any,
    vault: PiiVault,
    model_sha256: str,
    templates: Sequence[Template],
    host: Host,
    terms: Terms,
    issued_by: str,
    consent_by: str,
    consent: bool,
    now: datetime,
) -> int:
    """A face pass: a residents row of kind 'visitor' (no name) and its encrypted templates,
    with the visitor's consent recorded (who recorded it, when). The templates come from
    edge.people.resident_faces.check_photos: the same quality checks as residents' enrolment."""
    if not consent or not consent_by.strip():
        raise PassTermsError(
            "no_consent", "face templates are biometric data: record the visitor's consent"
        )
    if not templates:
        raise EnrolmentError("no photos given")
    cursor = conn.execute(
        "INSERT INTO residents (household_id, name, access_group, created_at, kind, valid_from,"
        " valid_to, max_uses, uses, host_resident_id, issued_by)"
        " VALUES (?, '', ?, ?, 'visitor', ?, ?, ?, 0, ?, ?)",
        (
            host.household_id,
            VISITOR_GROUP,
            iso(now),
            iso(terms.valid_from),
            iso(terms.valid_to),
            terms.max_uses,
            host.resident_id,
            issued_by,
        ),
    )
    visitor_id = int(cursor.lastrowid)
    store_templates(conn, vault, model_sha256, visitor_id, templates, consent_by, now)
    return visitor_id


# -- revoking -----------------------------------------------------------------------------
def revoke(conn: Any, kind: PassKind, pass_id: int) -> dict[str, Any]:
    """Stop a pass working at once; the row stays as history. Returns what the audit row
    says about it. A face pass loses its templates now (biometric data is not kept)."""
    if kind == "qr":
        row = conn.execute("SELECT revoked FROM qr_passes WHERE id = ?", (pass_id,)).fetchone()
        if row is None:
            raise PassTermsError("no_pass", "no QR pass %(id)s", {"id": pass_id})
        if row[0]:
            raise PassTermsError(
                "already_revoked", "QR pass %(id)s is already revoked", {"id": pass_id}
            )
        conn.execute("UPDATE qr_passes SET revoked = 1 WHERE id = ?", (pass_id,))
        return {"kind": kind}
    if kind == "plate":
        row = conn.execute(
            "SELECT active, source, plate FROM vehicles WHERE id = ? AND kind = 'visitor'",
            (pass_id,),
        ).fetchone()
        if row is None:
            raise PassTermsError("no_pass", "no plate pass %(id)s", {"id": pass_id})
        if row[1] != "local":
            raise PassTermsError("district_pass", "district passes are managed by the district")
        if not row[0]:
            raise PassTermsError(
                "already_revoked", "plate pass %(id)s is already revoked", {"id": pass_id}
            )
        conn.execute("UPDATE vehicles SET active = 0 WHERE id = ?", (pass_id,))
        return {"kind": kind, "plate": row[2]}
    if kind == "face":
        row = conn.execute(
            "SELECT active FROM residents WHERE id = ? AND kind = 'visitor'", (pass_id,)
        ).fetchone()
        if row is None:
            raise PassTermsError("no_pass", "no face pass %(id)s", {"id": pass_id})
        if not row[0]:
            raise PassTermsError(
                "already_revoked", "face pass %(id)s is already revoked", {"id": pass_id}
            )
        conn.execute("UPDATE residents SET active = 0 WHERE id = ?", (pass_id,))
        deleted = conn.execute(
            "DELETE FROM face_templates WHERE resident_id = ?", (pass_id,)
        ).rowcount
        return {"kind": kind, "templates_deleted": deleted}
    raise PassTermsError("bad_kind", "unknown pass kind %(kind)r", {"kind": kind})


# -- listing ------------------------------------------------------------------------------
def status_of(
    now: datetime,
    valid_from: datetime | None,
    valid_to: datetime | None,
    uses: int,
    max_uses: int | None,
    revoked: bool,
) -> Status:
    """One status per pass, in this order of precedence: revoked, used up, expired, upcoming."""
    if revoked:
        return "revoked"
    if max_uses is not None and uses >= max_uses:
        return "used_up"
    if valid_to is not None and now >= valid_to:
        return "expired"
    if valid_from is not None and now < valid_from:
        return "upcoming"
    return "active"


_LIST_SQL = """
WITH passes AS (
SELECT 'qr' AS kind, q.id, q.label AS what, NULL AS plate, q.host_resident_id AS host_resident,
       NULL AS household, q.valid_from, q.valid_to, q.uses, q.max_uses, q.revoked,
       q.issued_by, q.created_at, 1 AS local, NULL AS templates
  FROM qr_passes q
UNION ALL
SELECT 'plate', v.id, v.note, v.plate, v.resident_id, h.label, v.valid_from, v.valid_to,
       v.uses, v.max_uses, 1 - v.active, v.issued_by, v.created_at, v.source = 'local', NULL
  FROM vehicles v LEFT JOIN households h ON h.id = v.household_id WHERE v.kind = 'visitor'
UNION ALL
SELECT 'face', r.id, '', NULL, r.host_resident_id, h.label, r.valid_from, r.valid_to,
       r.uses, r.max_uses, 1 - r.active, r.issued_by, r.created_at, 1,
       (SELECT COUNT(*) FROM face_templates t WHERE t.resident_id = r.id)
  FROM residents r LEFT JOIN households h ON h.id = r.household_id WHERE r.kind = 'visitor'
)
SELECT * FROM passes WHERE NOT revoked AND (valid_to IS NULL OR valid_to > :now)
UNION ALL
SELECT * FROM (
  SELECT * FROM passes WHERE revoked OR valid_to <= :now ORDER BY created_at DESC LIMIT :ended
)
ORDER BY created_at DESC
"""


def list_passes(
    db: sqlite_utils.Database, now: datetime, status: Status | None = None, ended: int = 500
) -> list[dict[str, Any]]:
    """Passes of every kind, newest first, each with its status; tokens are never stored.

    Every pass that can still let someone in (not revoked, not past its end) is listed,
    however old: a month-long pass must stay findable, and revocable, among hundreds of
    newer day passes. Of the ended ones (revoked or expired), only the newest ``ended``:
    history is the event log's job. There are few live passes at any time (no pass spans
    more than :data:`MAX_WINDOW`), so the list stays short.
    """
    rows = []
    for row in db.query(_LIST_SQL, {"now": iso(now), "ended": ended}):
        item = dict(row)
        valid_from, valid_to = parse_iso(item["valid_from"]), parse_iso(item["valid_to"])
        item["revoked"] = bool(item["revoked"])
        item["local"] = bool(item["local"])
        if item["kind"] == "qr":  # the label issue_qr wrote: household and note apart
            labelled = _QR_LABEL.match(item["what"] or "")
            if labelled:
                item["household"], item["what"] = labelled.group(1), labelled.group(2) or ""
        item["status"] = status_of(
            now, valid_from, valid_to, item["uses"], item["max_uses"], item["revoked"]
        )
        if status is None or item["status"] == status:
            rows.append(item)
    return rows


def count_by_status(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] += 1
    return counts


# -- at the pedestrian gate ---------------------------------------------------------------
def visit_terms(
    db: sqlite_utils.Database, person_id: int, gate_id: str, since: datetime
) -> tuple[str, VisitFact] | None:
    """For a visitor (residents row of kind 'visitor'): a label without personal data and
    the pass's terms, with its last use at ``gate_id`` after ``since``; None for a resident."""
    row = db.execute(
        "SELECT r.kind, r.valid_from, r.valid_to, r.uses, r.max_uses, r.host_resident_id,"
        " h.label FROM residents r LEFT JOIN households h ON h.id = r.household_id"
        " WHERE r.id = ?",
        (person_id,),
    ).fetchone()
    if row is None or row[0] != "visitor":
        return None
    label = f"visitor {person_id}" + (f" of household {row[6]}" if row[6] else "")
    if row[5] is not None:
        label += f" (host resident {row[5]})"
    last = None
    if row[4] is not None:
        last_row = db.execute(
            "SELECT MAX(occurred_at) FROM events WHERE gate_id = ? AND decision = 'open'"
            " AND kind IN ('face_passage', 'pin_passage') AND occurred_at >= ?"
            " AND json_extract(details, '$.visitor_id') = ?"
            " AND json_extract(details, '$.pass_use') IS NOT NULL",
            (gate_id, iso(since), person_id),
        ).fetchone()
        last = parse_iso(last_row[0]) if last_row and last_row[0] else None
    fact = VisitFact(parse_iso(row[1]), parse_iso(row[2]), row[3], row[4], last)
    return label, fact


def consume_visitor_use(db: sqlite_utils.Database, person_id: int, now: datetime) -> int | None:
    """Spend one use of a visitor's face pass if still usable now; returns the use's number,
    or None when none is left (one guarded UPDATE: two doors cannot both spend the last)."""
    with transaction(db) as conn:
        row = conn.execute(
            "UPDATE residents SET uses = uses + 1 WHERE id = ? AND kind = 'visitor'"
            " AND active = 1 AND max_uses IS NOT NULL AND uses < max_uses"
            " AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)"
            " RETURNING uses",
            (person_id, iso(now), iso(now)),
        ).fetchone()
        return int(row[0]) if row else None
