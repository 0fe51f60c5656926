"""Guard prompts and plate corrections in SQLite: written by the gate, answered on the console.

Why durable: a prompt is made in the same transaction as the event that raised it (the
gate's event writer calls `insert_prompt`), so a guard who reloads the console, or a web
process that restarts, still sees the question; and a power cut can never leave a near-miss
passage without its question, or a question without its passage.

A question is about a car at the barrier *now*: after `PROMPT_TTL` the car has most likely
gone, and opening then would let in whoever stands there instead, so the console no longer
offers it (`open_prompts(since=...)`) and refuses to confirm it; the gate closes its own
questions as soon as its vehicle loop says the car left.

Lifecycle: ``open`` → ``confirmed`` (a guard confirmed the plate and the gate was opened by
hand) or ``dismissed`` (a guard said no) — both by an operator, both audited by the
console — or ``closed`` by the gate itself (the waiting car was read after all, or left).
A confirmation that finds the prompt no longer open changes nothing (`PromptGone`): two
guards answering at once open the gate once.

A confirmed near miss, or an unread car whose plate the guard typed, is a *correction*:
the plate crop the gate read and the true plate, kept beyond event retention. With the
gate's passages and unread cars they give each lane's read rate over time (`read_rates`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from edge.db import iso

__all__ = [
    "PROMPT_TTL",
    "LaneDay",
    "NewPrompt",
    "PromptGone",
    "claim_prompt",
    "close_gate_prompts",
    "get_prompt",
    "insert_correction",
    "insert_prompt",
    "open_prompts",
    "prompt_crop",
    "prompts_for_events",
    "read_rates",
    "release_prompt",
    "set_open_event",
]

PromptKind = Literal["near_miss", "unread_waiting"]
PROMPT_TTL = timedelta(minutes=5)
_COLUMNS = (
    "id, event_id, gate_id, kind, read_plate, candidates, created_at, state, resolved_at,"
    " resolved_by, resolution, corrected_plate, open_event_id, crop IS NOT NULL AS has_crop,"
    " (SELECT e.snapshot_path IS NOT NULL FROM events e WHERE e.id = plate_prompts.event_id)"
    " AS has_snapshot"
)


class PromptGone(LookupError):
    """The prompt does not exist or is no longer open (answered by someone, or closed)."""


@dataclass(frozen=True)
class NewPrompt:
    """What the gate asks: `candidates` are the plates it may be ([] for an unread car),
    each {"plate", "kind", "household", "vehicle_id"}; `crop` a JPEG of the plate it read."""

    kind: PromptKind
    read_plate: str = ""
    candidates: tuple[dict[str, Any], ...] = ()
    crop: bytes | None = None


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        if "candidates" in item:
            item["candidates"] = json.loads(item["candidates"] or "[]")
        for flag in ("has_crop", "has_snapshot"):
            if flag in item:
                item[flag] = bool(item[flag])
        out.append(item)
    return out


def insert_prompt(
    conn: sqlite3.Connection, event_id: str, gate_id: str, prompt: NewPrompt, at: datetime
) -> int:
    """Store an open prompt for `event_id`, in the caller's transaction; returns its id."""
    cursor = conn.execute(
        "INSERT INTO plate_prompts (event_id, gate_id, kind, read_plate, candidates, crop,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            gate_id,
            prompt.kind,
            prompt.read_plate,
            json.dumps(list(prompt.candidates), ensure_ascii=False),
            prompt.crop,
            iso(at),
        ),
    )
    return int(cursor.lastrowid or 0)


def open_prompts(
    conn: sqlite3.Connection,
    gate_id: str | None = None,
    limit: int = 20,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Open prompts, newest first, without their crops (one gate's, or all; only those
    asked at or after `since` when given)."""
    where, args = "WHERE state = 'open'", []
    if gate_id is not None:
        where, args = where + " AND gate_id = ?", [gate_id]
    if since is not None:
        where, args = where + " AND created_at >= ?", [*args, iso(since)]
    sql = f"SELECT {_COLUMNS} FROM plate_prompts {where} ORDER BY id DESC LIMIT ?"
    return _dicts(conn.execute(sql, [*args, limit]))


def get_prompt(conn: sqlite3.Connection, prompt_id: int) -> dict[str, Any] | None:
    rows = _dicts(conn.execute(f"SELECT {_COLUMNS} FROM plate_prompts WHERE id = ?", [prompt_id]))
    return rows[0] if rows else None


def prompts_for_events(conn: sqlite3.Connection, event_ids: list[str]) -> dict[str, dict]:
    """Open prompts of these events, by event id (the live feed adds them to its items)."""
    if not event_ids:
        return {}
    marks = ", ".join("?" for _ in event_ids)
    sql = f"SELECT {_COLUMNS} FROM plate_prompts WHERE state = 'open' AND event_id IN ({marks})"
    return {p["event_id"]: p for p in _dicts(conn.execute(sql, event_ids))}


def prompt_crop(conn: sqlite3.Connection, prompt_id: int) -> bytes | None:
    row = conn.execute("SELECT crop FROM plate_prompts WHERE id = ?", [prompt_id]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def claim_prompt(
    conn: sqlite3.Connection,
    prompt_id: int,
    state: Literal["confirmed", "dismissed"],
    operator: str,
    at: datetime,
    corrected_plate: str | None = None,
) -> dict[str, Any]:
    """Answer an open prompt, in the caller's transaction; returns it as it was.
    Raises PromptGone when it is not open (then nothing changed)."""
    prompt = get_prompt(conn, prompt_id)
    cursor = conn.execute(
        "UPDATE plate_prompts SET state = ?, resolved_at = ?, resolved_by = ?,"
        " corrected_plate = ? WHERE id = ? AND state = 'open'",
        (state, iso(at), operator, corrected_plate, prompt_id),
    )
    if prompt is None or cursor.rowcount != 1:
        raise PromptGone(prompt_id)
    return prompt


def release_prompt(conn: sqlite3.Connection, prompt_id: int) -> None:
    """Reopen a prompt whose confirmation could not open the gate (the guard may retry)."""
    conn.execute(
        "UPDATE plate_prompts SET state = 'open', resolved_at = NULL, resolved_by = NULL,"
        " corrected_plate = NULL WHERE id = ? AND state = 'confirmed'",
        (prompt_id,),
    )


def set_open_event(
    conn: sqlite3.Connection, prompt_id: int, open_event_id: str | None, resolution: str
) -> None:
    conn.execute(
        "UPDATE plate_prompts SET open_event_id = ?, resolution = ? WHERE id = ?",
        (open_event_id, resolution, prompt_id),
    )


def close_gate_prompts(
    conn: sqlite3.Connection,
    gate_id: str,
    kinds: tuple[PromptKind, ...],
    resolution: str,
    at: datetime,
) -> int:
    """The gate closes its own open prompts of `kinds` (the waiting car was read, or the
    car left); in the caller's transaction; returns how many."""
    marks = ", ".join("?" for _ in kinds)
    cursor = conn.execute(
        "UPDATE plate_prompts SET state = 'closed', resolved_at = ?, resolved_by = 'gate',"
        f" resolution = ? WHERE gate_id = ? AND kind IN ({marks}) AND state = 'open'",
        (iso(at), resolution, gate_id, *kinds),
    )
    return cursor.rowcount


def insert_correction(
    conn: sqlite3.Connection,
    prompt: dict[str, Any],
    occurred_at: str,
    true_plate: str,
    operator: str,
    at: datetime,
) -> int:
    """Keep the prompt's crop with the plate the guard says it shows, in the caller's
    transaction; returns the correction's id."""
    cursor = conn.execute(
        "INSERT INTO plate_corrections (prompt_id, event_id, gate_id, occurred_at, read_plate,"
        " true_plate, crop, created_at, created_by)"
        " SELECT id, event_id, gate_id, ?, read_plate, ?, crop, ?, ? FROM plate_prompts"
        " WHERE id = ?",
        (occurred_at, true_plate, iso(at), operator, prompt["id"]),
    )
    return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class LaneDay:
    """One lane's cars on one local day: `passages` decided from a read plate, `corrected`
    of those a guard said were misread, `unread` cars the gate could not read."""

    gate_id: str
    day: date
    passages: int
    corrected: int
    unread: int

    @property
    def cars(self) -> int:
        return self.passages + self.unread

    @property
    def read_rate(self) -> float | None:
        """Cars read right, of all cars: (passages - corrected) / (passages + unread)."""
        return (self.passages - self.corrected) / self.cars if self.cars else None


def read_rates(
    conn: sqlite3.Connection, zone: tzinfo, now: datetime, days: int = 7
) -> list[LaneDay]:
    """Per lane and local day, the last `days` days (newest first), days with cars only.

    Cars: vehicle passages (a plate was decided) and unread-plate events — except an
    unread car whose waiting prompt the gate closed because it was read after all (that
    car is its passage). Corrections count against the day the car was there.
    """
    local_today = now.astimezone(zone).date()
    start_local = datetime.combine(local_today - timedelta(days=days - 1), datetime.min.time())
    since = iso(start_local.replace(tzinfo=zone))
    counts: dict[tuple[str, date], list[int]] = {}

    def day_of(stamp: str) -> date:
        return datetime.fromisoformat(stamp).astimezone(zone).date()

    rows = conn.execute(
        "SELECT e.gate_id, e.occurred_at, e.kind FROM events e"
        " LEFT JOIN plate_prompts p ON p.event_id = e.id"
        " WHERE e.occurred_at >= ? AND (e.kind = 'vehicle_passage' OR (e.kind = 'plate_unread'"
        " AND COALESCE(p.resolution, '') != 'read'))",
        [since],
    )
    for gate_id, occurred_at, kind in rows:
        cell = counts.setdefault((gate_id, day_of(occurred_at)), [0, 0, 0])
        cell[0 if kind == "vehicle_passage" else 2] += 1
    for gate_id, occurred_at in conn.execute(
        "SELECT c.gate_id, c.occurred_at FROM plate_corrections c JOIN events e"
        " ON e.id = c.event_id WHERE e.kind = 'vehicle_passage' AND c.occurred_at >= ?",
        [since],
    ):
        counts.setdefault((gate_id, day_of(occurred_at)), [0, 0, 0])[1] += 1
    out = [LaneDay(g, d, *cell) for (g, d), cell in counts.items()]
    return sorted(out, key=lambda x: (x.gate_id, -x.day.toordinal()))
