"""The hub's side of the uplink and of counted passes: gate-box events in, uses spent.

Events arrive exactly as a box's outbox sends them to a district (sync.json_protocol), so
the box's uplink worker, its backoff, dead-lettering and SIGKILL guarantees are the same
code. The hub stores each event once by its ULID (a resend is answered ``duplicate``), with
its snapshot, and writes it into its own outbox in the same transaction: the district
receives the events of every gate of the community from the hub, exactly once.

A gate id belongs to the first box that sent an event for it; an event from another box
for that gate (or for one of the hub's own gates) is refused with a reason, so a stolen
key cannot write history into someone else's door.

An event a gate box decided while the hub was unreachable, with a counted pass it allowed
(``details.counted_offline``), spends that use here when it arrives — even past the
pass's limit — and adds a ``pass_reconciled`` event saying so, so the guards see it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from ulid import ULID

from edge.db import iso, transaction
from edge.people.passes import consume_use
from edge.people.vehicles import consume_vehicle_use
from edge.people.visitors import consume_visitor_use
from edge.store.outbox import enqueue
from sync.community.commands import claim_gate

DECISIONS = {"open", "deny", "none"}
SNAPSHOT_PATH = re.compile(r"^\d{4}/\d{2}/\d{2}/[0-9A-Z]{26}\.jpg$")
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024
COUNTED = {"qr": "qr_passes", "visitor": "residents", "vehicle": "vehicles"}
VEHICLE_KINDS = {"vehicle_passage", "plate_unread"}


class RowRefused(ValueError):
    """This event cannot be stored; the message goes back to the box as its reason."""


def _check(key: str, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("id") != key:
        raise RowRefused("payload id differs from the key")
    for name in ("occurred_at", "gate_id", "kind"):
        if not isinstance(payload.get(name), str) or not 0 < len(payload[name]) <= 64:
            raise RowRefused(f"{name} missing or too long")
    try:
        moment = datetime.fromisoformat(payload["occurred_at"])
    except ValueError:
        raise RowRefused("occurred_at is not an ISO time") from None
    if moment.tzinfo is None:
        raise RowRefused("occurred_at has no time zone")
    if payload.get("decision") not in DECISIONS:
        raise RowRefused("decision must be open, deny or none")
    if not isinstance(payload.get("reasons", []), list):
        raise RowRefused("reasons must be a list")
    if not isinstance(payload.get("details", {}), dict):
        raise RowRefused("details must be an object")
    for name in ("plate", "subject", "snapshot_path", "related_event_id"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise RowRefused(f"{name} must be text")
    if payload.get("confidence") is not None and not isinstance(payload["confidence"], int | float):
        raise RowRefused("confidence must be a number")
    return payload


def _save_snapshot(snapshot_dir: Path, relative: str | None, snapshot: Any) -> str | None:
    """Write the event's JPEG under the hub's snapshot folder; the stored relative path."""
    if not relative or not isinstance(snapshot, dict) or not snapshot.get("data_b64"):
        return None
    if not SNAPSHOT_PATH.match(relative):
        raise RowRefused("snapshot_path is not a snapshot path")
    try:
        data = base64.b64decode(snapshot["data_b64"], validate=True)
    except (TypeError, ValueError):
        raise RowRefused("snapshot is not base64") from None
    if len(data) > MAX_SNAPSHOT_BYTES or not data.startswith(b"\xff\xd8"):
        raise RowRefused("snapshot is not a JPEG of a sensible size")
    target = snapshot_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".jpg.part")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return relative


def _insert_event(conn: sqlite3.Connection, payload: dict[str, Any], snapshot: str | None) -> bool:
    row = {
        "id": payload["id"],
        "occurred_at": payload["occurred_at"],
        "gate_id": payload["gate_id"],
        "kind": payload["kind"],
        "plate": payload.get("plate"),
        "subject": payload.get("subject"),
        "confidence": payload.get("confidence"),
        "decision": payload["decision"],
        "reasons": json.dumps(payload.get("reasons", []), ensure_ascii=False),
        "snapshot_path": snapshot,
        "related_event_id": payload.get("related_event_id"),
        "details": json.dumps(payload.get("details", {}), ensure_ascii=False),
    }
    cursor = conn.execute(
        f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"
        " ON CONFLICT(id) DO NOTHING",
        tuple(row.values()),
    )
    if cursor.rowcount != 1:
        return False
    outgoing = {**row, "reasons": payload.get("reasons", []), "details": payload.get("details", {})}
    enqueue(conn, row["id"], "event", outgoing, datetime.fromisoformat(row["occurred_at"]))
    return True


def _reconcile(conn: sqlite3.Connection, payload: dict[str, Any], now: datetime) -> None:
    """Spend the use a disconnected gate allowed, and say so in a linked event."""
    counted = payload.get("details", {}).get("counted_offline")
    if not isinstance(counted, dict) or counted.get("kind") not in COUNTED:
        return
    table, item = COUNTED[counted["kind"]], counted.get("id")
    if not isinstance(item, int):
        return
    row = conn.execute(
        f"UPDATE {table} SET uses = uses + 1 WHERE id = ? RETURNING uses, max_uses", (item,)
    ).fetchone()
    if row is None:
        code, message = "pass_gone", "the pass used offline no longer exists at the hub"
    elif row[1] is not None and row[0] > row[1]:
        code, message = "pass_overused", f"used {row[0]} times offline and online, of {row[1]}"
    else:
        code, message = "pass_reconciled", f"offline use counted: {row[0]} of {row[1]}"
    event = {
        "id": str(ULID.from_datetime(now)),  # as edge.events.record makes them
        "occurred_at": iso(now),
        "gate_id": payload["gate_id"],
        "kind": "pass_reconciled",
        "decision": "none",
        "reasons": [{"code": code, "message": message}],
        "related_event_id": payload["id"],
        "details": {"pass_kind": counted["kind"], "pass_id": item},
    }
    _insert_event(conn, event, None)


def store_events(
    db: sqlite_utils.Database,
    box_id: str,
    items: list[Any],
    snapshot_dir: Path,
    now: datetime,
) -> list[dict[str, str]]:
    """One result per item, in order: accepted, duplicate, or rejected with a reason.
    The batch commits as one transaction (one fsync, not one per event); each row is a
    savepoint in it, so a refused row rolls back alone and never holds back the others."""
    results = []
    with transaction(db):
        for item in items:
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not 0 < len(key) <= 64:
                raise RowRefused("an item without a key")
            try:
                with transaction(db) as conn:
                    fresh = _store_one(conn, box_id, key, item, snapshot_dir, now)
                results.append({"key": key, "status": "accepted" if fresh else "duplicate"})
            except RowRefused as exc:
                results.append({"key": key, "status": "rejected", "reason": str(exc)})
            except sqlite3.IntegrityError as exc:
                results.append({"key": key, "status": "rejected", "reason": f"refused: {exc}"})
    return results


def _store_one(
    conn: sqlite3.Connection,
    box_id: str,
    key: str,
    item: dict[str, Any],
    snapshot_dir: Path,
    now: datetime,
) -> bool:
    if item.get("topic") != "event":
        raise RowRefused("a hub takes gate events only")
    payload = _check(key, item.get("payload"))
    kind = "vehicle" if payload["kind"] in VEHICLE_KINDS else "pedestrian"
    refused = claim_gate(conn, box_id, payload["gate_id"], kind)
    if refused:
        raise RowRefused(refused)
    if conn.execute("SELECT 1 FROM events WHERE id = ?", (key,)).fetchone():
        return False  # a resend: its snapshot is already here (and never overwritten)
    snapshot = _save_snapshot(snapshot_dir, payload.get("snapshot_path"), item.get("snapshot"))
    fresh = _insert_event(conn, payload, snapshot)
    if fresh:
        _reconcile(conn, payload, now)
    return fresh


def spend_at_hub(
    db: sqlite_utils.Database, kind: str, item_id: int, now: datetime
) -> tuple[bool, int | None]:
    """Spend one use of a counted pass for a gate box: (spent, the use's number)."""
    if kind == "qr":
        spent = consume_use(db, item_id, now)
        row = db.execute("SELECT uses FROM qr_passes WHERE id = ?", (item_id,)).fetchone()
        return spent, (int(row[0]) if spent and row else None)
    use = (consume_visitor_use if kind == "visitor" else consume_vehicle_use)(db, item_id, now)
    return use is not None, use
