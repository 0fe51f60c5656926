"""Faces on the watchlist: added from a photo by police or an admin, matched at every
pedestrian gate, an alert on a match.

Why stored like residents' templates (encrypted, purpose ``watch_face``, tied to the model
that made them): a face template is biometric data whoever it belongs to, and a copied
database must not yield it. No photo is kept — only the 128-number template — and the
label names the case, not the person ("wanted person 2026-118").

Why matched without a margin: residents are told apart by a margin between the best and
second-best identity, because opening the door for the wrong one is a break-in. A watch
hit only raises an alert (the door decision is the residents' policy), two photos of the
same wanted person are two rows that would "compete" under a margin, and a missed alert
is the worse mistake here. The threshold is the residents' one (measured, BENCHMARKS.md).

District rows (``source = 'district'``) belong to the district platform's downlink and are
not removable here; expired rows are deleted by edge.box.retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlite_utils

from edge.db import iso
from edge.faces.embedder import EMBEDDING_DIM
from edge.faces.index import FaceIndex
from edge.faces.recogniser import Template
from edge.people.vehicles import EnrolmentError, delete_local_watch
from edge.pii import PiiVault

PURPOSE = "watch_face"
MAX_LABEL = 60
MAX_REASON = 200


@dataclass(frozen=True)
class WatchEntry:
    id: int  # the lowest id of the rows sharing this label: one identity per case
    label: str
    reason: str
    source: str
    ids: tuple[int, ...] = ()  # every watch_faces row of the case (several photos)


@dataclass(frozen=True)
class WatchIndex:
    """The active watch faces of one model, searchable as one matrix product."""

    index: FaceIndex
    entries: dict[int, WatchEntry]

    @classmethod
    def empty(cls) -> WatchIndex:
        return cls(FaceIndex.empty(), {})

    def __len__(self) -> int:
        return len(self.index)


def add_watch_face(
    conn: Any,
    vault: PiiVault,
    template: Template,
    model_sha256: str,
    label: str,
    reason: str,
    added_by: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> int:
    """Store one watch face inside the caller's transaction; returns its id."""
    label = " ".join(label.split())
    reason = " ".join(reason.split())
    if not 1 <= len(label) <= MAX_LABEL:
        raise EnrolmentError("label must be 1-%(max)s characters", {"max": MAX_LABEL})
    if len(reason) > MAX_REASON:
        raise EnrolmentError("reason is longer than %(max)s characters", {"max": MAX_REASON})
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise EnrolmentError("the end of the watch must be a time-zone-aware time in the future")
    vector = np.asarray(template.vector, dtype="<f4").reshape(EMBEDDING_DIM)
    cursor = conn.execute(
        "INSERT INTO watch_faces (label, reason, source, template, model_sha256, added_by,"
        " created_at, expires_at) VALUES (?, ?, 'local', ?, ?, ?, ?, ?)",
        (
            label,
            reason,
            vault.encrypt(vector.tobytes(), PURPOSE),
            model_sha256,
            added_by,
            iso(now),
            iso(expires_at) if expires_at else None,
        ),
    )
    return int(cursor.lastrowid)


def remove_watch_face(conn: Any, watch_id: int) -> str:
    """Delete a local watch face, template included (see delete_local_watch); returns its
    label for the audit row."""
    return delete_local_watch(conn, "watch_faces", watch_id)


def list_watch_faces(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Active watch faces without their templates, newest first."""
    return [
        dict(row)
        for row in db.query(
            "SELECT id, label, reason, source, added_by, created_at, starts_at, expires_at,"
            " model_sha256 FROM watch_faces WHERE active = 1 ORDER BY created_at DESC, id DESC"
        )
    ]


#: a row alerts from starts_at (a 布控's BeginTime; NULL: at once) until expires_at; both
#: parameters are the same "now"
_ACTIVE = (
    "active = 1 AND (starts_at IS NULL OR starts_at <= ?)"
    " AND (expires_at IS NULL OR expires_at > ?)"
)


def watch_signature(db: sqlite_utils.Database, now: datetime) -> tuple:
    """Changes whenever a watch face is added, removed, starts or expires: cheap enough to
    poll."""
    return tuple(
        db.execute(
            f"SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(id), 0) FROM watch_faces"
            f" WHERE {_ACTIVE}",
            (iso(now), iso(now)),
        ).fetchone()
    )


def load_watch_index(
    db: sqlite_utils.Database, vault: PiiVault, model_sha256: str, now: datetime
) -> WatchIndex:
    """Active, unexpired watch faces made by this model, decrypted into one index.

    Rows with the same label and source are one identity (several photos of one case): the
    frame agreement needs the *same* identity in consecutive frames, and two photos of one
    person taking turns as the best match must not reset it.
    """
    rows = db.execute(
        f"SELECT id, label, reason, source, template FROM watch_faces WHERE {_ACTIVE}"
        " AND model_sha256 = ? ORDER BY id",
        (iso(now), iso(now), model_sha256),
    ).fetchall()
    if not rows:
        return WatchIndex.empty()
    vectors = np.stack(
        [np.frombuffer(vault.decrypt(row[4], PURPOSE), "<f4") for row in rows]
    ).reshape(-1, EMBEDDING_DIM)
    first: dict[tuple[str, str], int] = {}
    members: dict[int, list[int]] = {}
    for row in rows:
        case = first.setdefault((row[3], row[1]), row[0])
        members.setdefault(case, []).append(row[0])
    identities = [first[(row[3], row[1])] for row in rows]
    entries = {
        row[0]: WatchEntry(row[0], row[1], row[2], row[3], tuple(members[row[0]]))
        for row in rows
        if row[0] in members
    }
    return WatchIndex(FaceIndex(vectors, np.array(identities, np.int64)), entries)
