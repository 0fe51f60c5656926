"""Commands from the hub's console to a gate on a gate box: a guard's manual open, or the
plate a guard confirmed for a near miss — through the hub, authenticated, audited.

Why through the hub and not hub → box: gate boxes only dial out (one port and certificate on
the hub, nothing listening on a box beside a road), and a box's link already holds a signed
long-poll open to the hub. So a third long-poll of the link (``POST /community/v1/commands``,
sync.community.hub) waits at the hub for commands of its box; the console writes one row in
``community_commands`` and wakes ``menwei hub serve`` (``wake_hub``: one datagram), which
hands it to the waiting link at once; the link asks its gate's own control socket
(edge.gates.control, the very channel of a manual open on one box: the gate records the
event with the operator and pulses the relay) and posts the gate's answer back.

At most once, never late: a command is handed out once (``waiting`` → ``sent`` in one
guarded UPDATE) and only before ``expires_at`` (``COMMAND_TTL_S``): an open delivered
minutes later, when a box comes back, would let in whoever stands at the gate then. A
command the box never took is marked ``expired`` by the console when it stops waiting, so
it can never be handed out afterwards.

The box says which gates it runs (id, name, kind) on every command poll: the console shows
them before their first event, and a gate id another box (or the hub) already owns is
refused, as events for it are (sync.community.ingest).

A gate box's questions for the guard (a plate near miss, an unread car waiting; edge.store.
prompts) go up to the hub beside its events (``POST /community/v1/prompts``), so they show
on the gate's card at the hub; a guard's confirmation there is a command like an open,
carrying the confirmed plate and the passage it answers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import select
import socket
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.db import iso, parse_iso, transaction
from edge.plates.grammar import is_valid_plate
from edge.store.prompts import NewPrompt, insert_prompt
from sync.community.boxes import ONLINE_WITHIN_S

log = logging.getLogger(__name__)

COMMAND_TTL_S = 3.0  # a command not taken by its box by then is never delivered
MAX_GATES = 64
GATE_KINDS = ("vehicle", "pedestrian")


@dataclass(frozen=True)
class RemoteGate:
    """A gate on a gate box, as the hub's console knows it."""

    id: str
    name: str
    kind: str
    box_id: str
    box_state: str  # invited / enrolled / revoked
    online: bool
    last_seen_at: str | None
    remote: bool = True


def check_gates(gates: Any) -> list[tuple[str, str, str]]:
    """A box's report of its gates as (id, name, kind); ValueError when malformed."""
    if not isinstance(gates, list) or len(gates) > MAX_GATES:
        raise ValueError(f"gates must be a list of at most {MAX_GATES}")
    out = []
    for gate in gates:
        if not isinstance(gate, dict):
            raise ValueError("each gate must be an object")
        gate_id, name, kind = gate.get("id"), gate.get("name"), gate.get("kind")
        if not isinstance(gate_id, str) or not 0 < len(gate_id) <= 64:
            raise ValueError("a gate id is 1-64 characters")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise ValueError("a gate name is 1-64 characters")
        if kind not in GATE_KINDS:
            raise ValueError("a gate kind is vehicle or pedestrian")
        out.append((gate_id, name, kind))
    return out


def claim_gate(
    conn: sqlite3.Connection, box_id: str, gate_id: str, kind: str, name: str | None = None
) -> str | None:
    """Record that ``box_id`` runs ``gate_id``; the reason when it cannot (another box's
    gate, or one of the hub's own), else None. In the caller's transaction."""
    owner = conn.execute(
        "SELECT box_id FROM community_gates WHERE gate_id = ?", (gate_id,)
    ).fetchone()
    now = iso(datetime.now().astimezone())
    if owner is not None:
        if owner[0] != box_id:
            return f"gate {gate_id} belongs to another box"
        if name is not None:
            conn.execute(
                "UPDATE community_gates SET name = ?, kind = ?, reported_at = ? WHERE gate_id = ?",
                (name, kind, now, gate_id),
            )
            conn.execute(
                "UPDATE gates SET name = ?, updated_at = ? WHERE id = ? AND name != ?",
                (name, now, gate_id, name),
            )
        return None
    if conn.execute("SELECT 1 FROM gates WHERE id = ?", (gate_id,)).fetchone():
        return f"gate {gate_id} is one of the hub's own gates"
    conn.execute(
        "INSERT INTO community_gates (gate_id, box_id, name, kind, reported_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (gate_id, box_id, name, kind, now if name is not None else None),
    )
    conn.execute(
        "INSERT INTO gates (id, name, kind, updated_at) VALUES (?, ?, ?, ?)",
        (gate_id, name or f"{gate_id} ({box_id})", kind, now),
    )
    return None


def report_gates(
    db: sqlite_utils.Database, box_id: str, gates: list[tuple[str, str, str]]
) -> list[str]:
    """Record the gates a box runs; the reasons for those refused."""
    refused = []
    with transaction(db) as conn:
        for gate_id, name, kind in gates:
            why = claim_gate(conn, box_id, gate_id, kind, name)
            if why:
                refused.append(why)
    return refused


def newest_command(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM community_commands").fetchone()[0])


def take_commands(db: sqlite_utils.Database, box_id: str, now: datetime) -> list[dict[str, Any]]:
    """The box's commands not yet handed out and not expired, marked ``sent`` (at most
    once); with each, how long it has left."""
    with transaction(db) as conn:
        rows = conn.execute(
            "UPDATE community_commands SET state = 'sent', sent_at = ?"
            " WHERE box_id = ? AND state = 'waiting' AND expires_at > ?"
            " RETURNING id, gate_id, request, expires_at",
            (iso(now), box_id, iso(now)),
        ).fetchall()
    out = []
    for command_id, gate_id, request, expires_at in sorted(rows):
        left = parse_iso(expires_at)
        ttl_ms = 0 if left is None else max(0, int((left - now).total_seconds() * 1000))
        out.append(
            {"id": command_id, "gate_id": gate_id, "request": json.loads(request), "ttl_ms": ttl_ms}
        )
    return out


def finish_command(
    db: sqlite_utils.Database, box_id: str, command_id: int, reply: dict[str, Any], now: datetime
) -> bool:
    """Keep the gate's answer to a command the box was handed; False for any other."""
    with transaction(db) as conn:
        cursor = conn.execute(
            "UPDATE community_commands SET state = ?, done_at = ?, reply = ?"
            " WHERE id = ? AND box_id = ? AND state = 'sent'",
            (
                "done" if reply.get("ok") else "refused",
                iso(now),
                json.dumps(reply, ensure_ascii=False)[:4096],
                command_id,
                box_id,
            ),
        )
    return cursor.rowcount == 1


# -- the console's side ---------------------------------------------------------------------------
def remote_gates(conn: sqlite3.Connection, now: datetime) -> list[RemoteGate]:
    """Every gate the gate boxes run, with its box's state and whether it is online."""
    rows = conn.execute(
        "SELECT g.gate_id, COALESCE(g.name, t.name, g.gate_id), COALESCE(g.kind, t.kind),"
        " b.box_id, b.state, b.last_seen_at FROM community_gates g"
        " JOIN community_boxes b ON b.box_id = g.box_id"
        " LEFT JOIN gates t ON t.id = g.gate_id ORDER BY g.box_id, g.gate_id"
    ).fetchall()
    gates = []
    for gate_id, name, kind, box_id, box_state, seen_at in rows:
        seen = parse_iso(seen_at)
        online = (
            box_state == "enrolled"
            and seen is not None
            and (now - seen).total_seconds() <= ONLINE_WITHIN_S
        )
        gates.append(
            RemoteGate(gate_id, name, kind or "pedestrian", box_id, box_state, online, seen_at)
        )
    return gates


def remote_gate(conn: sqlite3.Connection, gate_id: str, now: datetime) -> RemoteGate | None:
    for gate in remote_gates(conn, now):
        if gate.id == gate_id:
            return gate
    return None


def queue_command(
    db: sqlite_utils.Database,
    gate: RemoteGate,
    request: dict[str, Any],
    now: datetime,
    ttl_s: float = COMMAND_TTL_S,
) -> int:
    with transaction(db) as conn:
        cursor = conn.execute(
            "INSERT INTO community_commands (box_id, gate_id, request, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                gate.box_id,
                gate.id,
                json.dumps(request, ensure_ascii=False),
                iso(now),
                iso(now + timedelta(seconds=ttl_s)),
            ),
        )
    file = database_file(db.conn)
    if file is not None:
        wake_hub(file)  # committed: the hub hands it out now
    return int(cursor.lastrowid or 0)


# -- waking the hub: a guard waits at the gate for a command ------------------------------------
def wake_address(db_path: Path) -> bytes:
    """The hub's wake socket for the database at ``db_path``: a name in Linux's abstract
    socket namespace made from the file's resolved path — nothing left on disk after a
    SIGKILL, no path length limit, and every process using that database finds it. Any
    local process may send to it; all a datagram does is make the hub look sooner."""
    digest = hashlib.sha256(str(Path(db_path).resolve()).encode()).hexdigest()[:32]
    return b"\0menwei-hub-wake-" + digest.encode()


def bind_wake_socket(db_path: Path) -> socket.socket | None:
    """The hub's end of its wake socket; None when it cannot be had (the hub then only
    polls, every POLL_S)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(wake_address(db_path))
    except OSError as exc:
        log.warning("hub: no wake socket (%s): commands wait for the next poll", exc)
        sock.close()
        return None
    return sock


def wait_for_wake(sock: socket.socket, timeout_s: float) -> bool:
    """Until a datagram arrives (True; all waiting ones are read) or ``timeout_s``."""
    ready, _, _ = select.select([sock], [], [], timeout_s)
    if not ready:
        return False
    with contextlib.suppress(BlockingIOError, InterruptedError):
        while True:
            sock.recv(16, socket.MSG_DONTWAIT)
    return True


def wake_hub(db_path: Path) -> None:
    """Tell a `menwei hub serve` on this database to look now (best effort: a hub that is
    not running, or restarting, finds the command at its next look)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(b"!", socket.MSG_DONTWAIT, wake_address(db_path))


def database_file(conn: sqlite3.Connection) -> Path | None:
    """The connection's database file; None for an in-memory database."""
    file = conn.execute("PRAGMA database_list").fetchone()[2]
    return Path(file) if file else None


@dataclass(frozen=True)
class CommandResult:
    state: str  # done / refused (the gate answered), expired (never taken), sent (no answer)
    reply: dict[str, Any]


def await_command(
    db: sqlite_utils.Database,
    command_id: int,
    timeout_s: float,
    take_s: float = COMMAND_TTL_S,
    step_s: float = 0.005,
) -> CommandResult:
    """Wait for the box's answer. A command its box has not taken within ``take_s`` is
    marked ``expired`` at once (so it can never be delivered later); one taken but not
    answered within ``timeout_s`` stays ``sent`` (the gate may have opened)."""
    started = time.monotonic()
    while True:
        row = db.execute(
            "SELECT state, reply FROM community_commands WHERE id = ?", (command_id,)
        ).fetchone()
        if row is None:  # its box was forgotten meanwhile (boxes.forget): never delivered
            return CommandResult("expired", {})
        state, reply = row[0], json.loads(row[1] or "{}")
        waited = time.monotonic() - started
        if state in ("done", "refused", "expired"):
            return CommandResult(state, reply)
        if state == "waiting" and waited >= take_s:
            with transaction(db) as conn:
                expired = conn.execute(
                    "UPDATE community_commands SET state = 'expired'"
                    " WHERE id = ? AND state = 'waiting'",
                    (command_id,),
                ).rowcount
            if expired:
                return CommandResult("expired", {})
            continue  # taken just now: wait for its answer
        if state == "sent" and waited >= timeout_s:
            return CommandResult("sent", {})
        time.sleep(step_s)


# -- a gate box's questions for the guard ---------------------------------------------------------
PROMPT_KINDS = ("near_miss", "unread_waiting")
MAX_PROMPTS = 50
MAX_CROP_BYTES = 256 * 1024
_EVENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def store_prompts(db: sqlite_utils.Database, box_id: str, items: Any) -> list[dict[str, str]]:
    """A gate box's questions for the guard (a plate near miss, an unread car waiting), kept
    at the hub so its console shows them on the gate's card and a guard's confirmation goes
    back as a command. One result per item: stored, duplicate or rejected with a reason."""
    if not isinstance(items, list) or len(items) > MAX_PROMPTS:
        raise ValueError(f"items must be a list of at most {MAX_PROMPTS}")
    results = []
    with transaction(db) as conn:
        for item in items:
            try:
                event_id, gate_id, prompt, at = _prompt_of(item)
                owner = conn.execute(
                    "SELECT box_id FROM community_gates WHERE gate_id = ?", (gate_id,)
                ).fetchone()
                if owner is None or owner[0] != box_id:
                    raise ValueError(f"gate {gate_id} is not one of this box's gates")
                if conn.execute(
                    "SELECT 1 FROM plate_prompts WHERE event_id = ?", (event_id,)
                ).fetchone():
                    results.append({"event_id": event_id, "status": "duplicate"})
                    continue
                insert_prompt(conn, event_id, gate_id, prompt, at)
                results.append({"event_id": event_id, "status": "stored"})
            except ValueError as exc:
                key = item.get("event_id") if isinstance(item, dict) else None
                results.append(
                    {"event_id": str(key)[:26], "status": "rejected", "reason": str(exc)}
                )
    return results


_RESOLUTION = re.compile(r"^[a-z_]{1,32}$")
#: how a question a gate box sent was answered there: a guard confirmed it (the gate
#: opened) or dismissed it, or the gate closed it itself (read after all, car left)
OUTCOMES = ("confirmed", "dismissed", "closed")


def close_prompts(db: sqlite_utils.Database, box_id: str, items: Any, now: datetime) -> int:
    """Questions the gate box closed itself (the car was read after all, or left, or a
    guard answered on the box), closed on the hub's card too; only the box's own gates'.
    Closing one already closed (a resend) changes nothing. Returns how many closed."""
    if not isinstance(items, list) or len(items) > MAX_PROMPTS:
        raise ValueError(f"closed must be a list of at most {MAX_PROMPTS}")
    checked = []
    for item in items:
        event_id = item.get("event_id") if isinstance(item, dict) else None
        resolution = item.get("resolution") if isinstance(item, dict) else None
        outcome = item.get("outcome", "closed") if isinstance(item, dict) else None
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            raise ValueError("each closed question needs its event_id")
        if not isinstance(resolution, str) or not _RESOLUTION.match(resolution):
            raise ValueError("a resolution is 1-32 letters a-z or _")
        if not isinstance(outcome, str) or not _RESOLUTION.match(outcome):
            raise ValueError("an outcome is 1-32 letters a-z or _")
        # an outcome this hub does not know (a newer box) is still a closing
        checked.append((event_id, resolution, outcome if outcome in OUTCOMES else "closed"))
    closed = 0
    with transaction(db) as conn:
        for event_id, resolution, outcome in checked:
            closed += conn.execute(
                "UPDATE plate_prompts SET state = ?, resolved_at = ?, resolved_by = 'gate',"
                " resolution = ? WHERE event_id = ? AND state = 'open' AND gate_id IN"
                " (SELECT gate_id FROM community_gates WHERE box_id = ?)",
                (outcome, iso(now), resolution, event_id, box_id),
            ).rowcount
    return closed


def _prompt_of(item: Any) -> tuple[str, str, NewPrompt, datetime]:
    if not isinstance(item, dict):
        raise ValueError("a prompt must be an object")
    event_id, gate_id = item.get("event_id"), item.get("gate_id")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise ValueError("event_id must be an event id")
    if not isinstance(gate_id, str) or not 0 < len(gate_id) <= 64:
        raise ValueError("gate_id must be 1-64 characters")
    kind, read_plate = item.get("kind"), item.get("read_plate", "")
    if kind not in PROMPT_KINDS:
        raise ValueError("kind must be near_miss or unread_waiting")
    if not isinstance(read_plate, str) or len(read_plate) > 16:
        raise ValueError("read_plate must be a plate")
    candidates = item.get("candidates", [])
    if not isinstance(candidates, list) or len(candidates) > 10:
        raise ValueError("candidates must be a list of at most 10")
    for candidate in candidates:
        plate = candidate.get("plate") if isinstance(candidate, dict) else None
        if not isinstance(plate, str) or not is_valid_plate(plate):
            raise ValueError("each candidate needs a valid plate")
    crop = item.get("crop")
    data = None
    if crop is not None:
        try:
            data = base64.b64decode(crop, validate=True) if isinstance(crop, str) else None
        except ValueError:
            data = None
        if data is None or len(data) > MAX_CROP_BYTES or not data.startswith(b"\xff\xd8"):
            raise ValueError("crop must be a JPEG in base64 of at most 256 KiB")
    at = parse_iso(item.get("created_at")) if isinstance(item.get("created_at"), str) else None
    if at is None or at.tzinfo is None:
        raise ValueError("created_at must be an ISO time with its zone")
    return event_id, gate_id, NewPrompt(kind, read_plate, tuple(candidates), data), at


def prompts_to_send(
    conn: sqlite3.Connection, after_id: int, since: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """A gate box's open questions after ``after_id`` and asked at or after ``since`` (an
    older one is about a car long gone), as the hub takes them."""
    rows = conn.execute(
        "SELECT id, event_id, gate_id, kind, read_plate, candidates, crop, created_at"
        " FROM plate_prompts WHERE id > ? AND state = 'open' AND created_at >= ?"
        " ORDER BY id LIMIT ?",
        (after_id, iso(since), limit),
    ).fetchall()
    return [
        {
            "id": row[0],
            "event_id": row[1],
            "gate_id": row[2],
            "kind": row[3],
            "read_plate": row[4],
            "candidates": json.loads(row[5] or "[]"),
            "crop": base64.b64encode(row[6]).decode() if row[6] else None,
            "created_at": row[7],
        }
        for row in rows
    ]


def prompts_closed(conn: sqlite3.Connection, sent_up_to: int, since: datetime) -> list[dict]:
    """A gate box's questions the hub was sent (id up to ``sent_up_to``), still young, that
    were closed, confirmed or dismissed on the box: their closing, for the hub's card, with
    its ``outcome`` (confirmed, dismissed or closed; an older hub ignores the key)."""
    rows = conn.execute(
        "SELECT id, event_id, state, resolution FROM plate_prompts"
        " WHERE id <= ? AND state != 'open' AND created_at >= ? ORDER BY id LIMIT 1000",
        (sent_up_to, iso(since)),
    ).fetchall()
    out = []
    for prompt_id, event_id, state, resolution in rows:
        why = resolution if isinstance(resolution, str) and _RESOLUTION.match(resolution) else None
        out.append(
            {"id": prompt_id, "event_id": event_id, "resolution": why or state, "outcome": state}
        )
    return out
