"""Gate events: written with their outbox row in one transaction, with a snapshot on disk.

The order is the durability rule of the appliance: snapshot file first (fsynced, renamed),
then the event row and its outbox row in one SQLite transaction. Only when that commit
returns is the event "done" — a power cut before it leaves no row (and at worst an orphan
JPEG the retention job removes), a power cut after it loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import sqlite_utils
from ulid import ULID

from edge.db import iso, transaction
from edge.store.outbox import enqueue
from edge.store.prompts import NewPrompt, insert_prompt
from edge.store.snapshots import SnapshotStore

EventKind = Literal[
    "vehicle_passage",
    "plate_unread",
    "watchlist_alert",
    "camera_fault",
    "camera_recovered",
    "storage_fault",  # the store refused a write or a read, or its check found damage
    "storage_recovered",
    "manual_open",
    # pedestrian gates (edge.gates.pedestrian, gate_drivers.door)
    "face_passage",
    "face_unknown",
    "face_spoof_suspected",  # a face that identified but was not judged live (liveness)
    "face_spoof_repeated",  # several of those at one door within a minute: a stronger alert
    "pin_passage",
    "qr_pass",
    "door_forced",
    "door_held_open",
    "door_closed",
    "exit_button",
    "fire_alarm",
    "fire_alarm_cleared",
]


@dataclass(frozen=True)
class NewEvent:
    gate_id: str
    kind: EventKind
    occurred_at: datetime
    decision: Literal["open", "deny", "none"] = "none"
    plate: str | None = None
    subject: str | None = None
    confidence: float | None = None
    reasons: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    related_event_id: str | None = None
    prompt: NewPrompt | None = None  # a question for the guard, stored with the event


@dataclass(frozen=True)
class StoredEvent:
    id: str
    snapshot_path: str | None
    linked_ids: tuple[str, ...] = ()


def manual_open_event(
    gate_id: str,
    at: datetime,
    operator: str,
    reason: str,
    plate: str | None = None,
    related_event_id: str | None = None,
) -> NewEvent:
    """The event a guard's manual open writes (vehicle or pedestrian gate alike): who and why.

    `plate`: the plate the guard confirmed (a near miss or an unread car), stored with the
    opening and pointing at the passage it corrects (`related_event_id`)."""
    details: dict[str, Any] = {"operator": operator}
    if plate:
        details["corrected_plate"] = plate
    return NewEvent(
        gate_id,
        "manual_open",
        at,
        "open",
        plate=plate or None,
        subject=f"operator: {operator}",
        reasons=(
            {
                "code": "manual_open",
                "message": f"opened by hand: {reason}",
                "params": {"operator": operator, "note": reason},
            },
        ),
        details=details,
        related_event_id=related_event_id,
    )


_CAMERA_FAULTY = ("stalled", "reconnecting", "failed")


def camera_change_event(
    gate_id: str, previous: str, health: Any, at: datetime, camera: str = "colour"
) -> NewEvent | None:
    """The event for a camera going down (ok/starting → stalled/reconnecting/failed) or
    coming back (→ ok), or None when the change is neither (both gate loops record these).
    ``camera``: which of the door's cameras (``"infrared"``: the liveness stage's second
    camera, whose loss takes faces off the door; its reason says so)."""
    state = getattr(health, "state", "unknown")
    if state in _CAMERA_FAULTY and previous in ("ok", "starting"):
        kind: EventKind = "camera_fault"
    elif state == "ok" and previous in _CAMERA_FAULTY:
        kind = "camera_recovered"
    else:
        return None
    return NewEvent(
        gate_id,
        kind,
        at,
        "none",
        reasons=(
            {
                "code": kind,
                "message": f"{'infrared ' if camera == 'infrared' else ''}camera "
                f"{previous} → {state}",
                "params": {"previous": previous, "state": state}
                | ({"camera": camera} if camera != "colour" else {}),
            },
        ),
        details={"last_error": getattr(health, "last_error", None)}
        | ({"camera": camera} if camera != "colour" else {}),
    )


StorageOperation = Literal["write", "read", "check"]
_STORAGE_MESSAGES = {
    "write": "the store refuses writes: events are kept in the spool",
    "read": "the people data cannot be read: deciding from the last good copy",
    "check": "the integrity check found damage in the database",
}


def storage_event(
    gate_id: str,
    at: datetime,
    operation: StorageOperation,
    error: str | None = None,
    recovered: bool = False,
) -> NewEvent:
    """A ``storage_fault`` (or, with ``recovered``, ``storage_recovered``) event: what
    failed (``operation``); the store's own error text goes in the details (a diagnostic,
    as a camera's last error)."""
    kind: EventKind = "storage_recovered" if recovered else "storage_fault"
    message = f"{operation}: storage recovered" if recovered else _STORAGE_MESSAGES[operation]
    return NewEvent(
        gate_id,
        kind,
        at,
        "none",
        reasons=({"code": kind, "message": message, "params": {"operation": operation}},),
        details={"error": error} if error else {},
    )


def new_event_id(at: datetime) -> str:
    """A ULID made on the box, sortable by time: the idempotency key all the way up."""
    return str(ULID.from_datetime(at))


def _insert(
    conn: sqlite3.Connection,
    event: NewEvent,
    event_id: str,
    snapshot_path: str | None,
    details: dict[str, Any],
    related_event_id: str | None,
) -> None:
    row = {
        "id": event_id,
        "occurred_at": iso(event.occurred_at),
        "gate_id": event.gate_id,
        "kind": event.kind,
        "plate": event.plate,
        "subject": event.subject,
        "confidence": None if event.confidence is None else round(float(event.confidence), 4),
        "decision": event.decision,
        "reasons": json.dumps(list(event.reasons), ensure_ascii=False),
        "snapshot_path": snapshot_path,
        "related_event_id": related_event_id,
        "details": json.dumps(details, ensure_ascii=False, default=str),
    }
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", tuple(row.values()))
    payload = {**row, "reasons": list(event.reasons), "details": details}
    enqueue(conn, event_id, "event", payload, event.occurred_at)


def record_event(
    db: sqlite_utils.Database,
    event: NewEvent,
    snapshot: np.ndarray | None = None,
    snapshots: SnapshotStore | None = None,
    linked: Sequence[NewEvent] = (),
    ids: tuple[str, tuple[str, ...]] | None = None,
) -> StoredEvent:
    """Store ``event``, its snapshot and ``linked`` events durably; returns once committed.

    ``linked`` events (e.g. the watchlist alert a passage raised) go into the same
    transaction with ``related_event_id`` pointing at ``event``: a power cut can never
    keep the passage and lose its alert. So does the event's ``prompt`` (a question for the
    guard, edge.store.prompts).

    ``ids`` (the event's and its linked events' ids, made when the gate decided) makes the
    call idempotent: an event whose id is already stored is not stored again, so a spool
    replayed after a crash (edge.events.spool) writes each event exactly once.
    """
    if ids is not None and _stored(db, ids[0]):
        return StoredEvent(ids[0], None, ids[1])
    event_id = ids[0] if ids else new_event_id(event.occurred_at)
    details = dict(event.details)
    snapshot_path = None
    if snapshot is not None and snapshots is not None:
        saved = snapshots.save(event_id, snapshot, event.occurred_at)
        snapshot_path = saved.relative_path
        if saved.error:
            details["snapshot_error"] = saved.error
    linked_ids = ids[1] if ids else tuple(new_event_id(other.occurred_at) for other in linked)
    with transaction(db) as conn:
        if ids is not None and _stored(db, event_id):  # stored since the look above
            return StoredEvent(event_id, None, linked_ids)
        _insert(conn, event, event_id, snapshot_path, details, event.related_event_id)
        for other, other_id in zip(linked, linked_ids, strict=True):
            _insert(conn, other, other_id, None, dict(other.details), event_id)
        if event.prompt is not None:
            insert_prompt(conn, event_id, event.gate_id, event.prompt, event.occurred_at)
    return StoredEvent(event_id, snapshot_path, linked_ids)


def _stored(db: sqlite_utils.Database, event_id: str) -> bool:
    return db.execute("SELECT 1 FROM events WHERE id = ?", [event_id]).fetchone() is not None


def recent_events(
    db: sqlite_utils.Database, limit: int = 20, gate_id: str | None = None
) -> list[dict[str, Any]]:
    """Newest first, with reasons and details decoded (``menwei events``)."""
    where, args = ("WHERE gate_id = ?", [gate_id]) if gate_id else ("", [])
    rows = db.execute(
        f"SELECT * FROM events {where} ORDER BY occurred_at DESC, rowid DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    names = [d[0] for d in db.execute("SELECT * FROM events LIMIT 0").description]
    result = []
    for values in rows:
        item = dict(zip(names, values, strict=True))
        item["reasons"] = json.loads(item["reasons"])
        item["details"] = json.loads(item["details"])
        result.append(item)
    return result
