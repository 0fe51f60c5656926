"""Reading gate events for the console: filters, keyset pages, counts, one event with its
relations, and the live feed after a cursor.

Why keyset pages and not OFFSET: a box keeps a year of events (hundreds of thousands of
rows); ``OFFSET n`` makes SQLite walk and throw away n rows for every later page, while a
keyset page ("older than the last row shown") is one index seek whatever the page. The
order is (occurred_at DESC, rowid DESC): time first because that is what people read, the
rowid to break ties between events of the same millisecond (a passage and its alert share
one timestamp). The ``events_time``/``events_kind``/``events_gate_time`` indexes carry the
rowid, so both filters and order are served by an index.

The feed uses the rowid alone: it grows with each insert and SQLite has one writer at a
time, so a row that commits later always has a larger rowid and ``rowid > cursor`` never
skips one.

No Flask here: errors are :class:`FilterError` codes the web layer turns into messages.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

from edge.db import iso
from edge.errors import UserError
from edge.events.record import EventKind
from edge.plates.grammar import PROVINCES, SERIAL, is_valid_plate
from edge.vocabulary import N_

KINDS: tuple[str, ...] = get_args(EventKind)
DECISIONS = ("open", "deny", "none")
# Kinds a guard must see at once: a watchlist hit, a door alarm, a camera that went dark.
ALERT_KINDS = (
    "watchlist_alert",
    "door_forced",
    "door_held_open",
    "fire_alarm",
    "camera_fault",
    "storage_fault",
    "face_spoof_suspected",
    "face_spoof_repeated",
)
PAGE_SIZE = 50
FEED_LIMIT = 50
_COLUMNS = (
    "id, occurred_at, gate_id, kind, plate, subject, confidence, decision, reasons,"
    " snapshot_path, related_event_id, details"
)
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_SEPARATORS = re.compile(r"[\s·•・.\-_—–]+")
_PLATE_CHARS = re.compile(f"^[{PROVINCES}]?[{SERIAL}]{{0,7}}$")
_STORED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
_LOCAL_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
_LOCAL_MINUTE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d$")
_LOCAL_SECOND = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d$")
MAX_PERSON = 64


# FilterError.code -> what the person who typed it reads (msgids; zh in the catalogs)
FILTER_MESSAGES = {
    "plate_match": N_("Choose whether the plate must match exactly or by its beginning."),
    "plate_chars": N_(
        "A plate has a province character, then letters and digits (at most 8 in all)."
    ),
    "plate_incomplete": N_(
        "That is not a complete plate. Choose “starts with” to search by its beginning."
    ),
    "person_length": N_("The person text is too long (at most 64 characters)."),
    "time_format": N_(
        "Give the time as a date (2025-06-01) or a date and time (2025-06-01 14:30)."
    ),
    "time_order": N_("The end of the time range must be after its start."),
    "gate_unknown": N_("There is no such gate."),
    "decision_unknown": N_("Unknown decision."),
    "kind_unknown": N_("Unknown kind of event."),
    "cursor": N_("This page link is damaged. Start again from the newest events."),
    "event_id": N_("That is not an event number."),
}


class FilterError(UserError):
    """A filter, cursor or id someone typed (or edited in the URL) that means nothing."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(
            FILTER_MESSAGES.get(code, N_("The request could not be understood.")), code=code
        )
        self.field = field


@dataclass(frozen=True)
class EventFilters:
    """A search; every field empty means "all events". Times are UTC-aware bounds."""

    plate: str = ""
    plate_match: str = "exact"  # or "prefix"
    person: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    gate_id: str = ""
    decision: str = ""
    kind: str = ""

    def for_audit(self) -> dict[str, str]:
        """The filters used, for the police audit trail. The person text is marked as
        given but not copied: an officer may type a name there, and names stay out of logs."""
        used: dict[str, str] = {}
        if self.plate:
            used["plate"] = self.plate
            used["plate_match"] = self.plate_match
        if self.person:
            used["person"] = "(given)"
        for name in ("gate_id", "decision", "kind"):
            if getattr(self, name):
                used[name] = getattr(self, name)
        if self.since:
            used["since"] = iso(self.since)
        if self.until:
            used["until"] = iso(self.until)
        return used


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row shown (the next page is strictly older)."""

    occurred_at: str
    rowid: int

    def encode(self) -> str:
        return f"{self.rowid}~{self.occurred_at}"


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: Cursor | None  # None: this is the last page


# -- parsing what people typed --------------------------------------------------------------
def normalise_plate_query(raw: str) -> str:
    """Full-width to half-width, separators dropped, upper case (as plates are stored)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()


def parse_local_time(raw: str, zone: ZoneInfo, field: str, end: bool) -> datetime | None:
    """A site-local date or date-time from the form → UTC-aware bound (None if empty).

    A date alone means the whole day; an end bound includes the minute (or second) it
    names, so "to 10:00" keeps an event at 10:00:40 — what a person reading it expects.
    """
    text = raw.strip()
    if not text:
        return None
    try:
        if _LOCAL_DAY.match(text):
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), zone)
        if _LOCAL_MINUTE.match(text) or _LOCAL_SECOND.match(text):
            moment = datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=zone)
            if end:
                moment += (
                    timedelta(seconds=1) if _LOCAL_SECOND.match(text) else timedelta(minutes=1)
                )
            return moment
    except (ValueError, OverflowError):
        pass
    raise FilterError("time_format", field)


def parse_filters(
    args: Mapping[str, str], zone: ZoneInfo, known_gates: Collection[str]
) -> EventFilters:
    """The search form's fields → filters, or FilterError naming the first bad field."""
    plate = normalise_plate_query(args.get("plate", "")[:32])
    match = args.get("plate_match", "") or "exact"
    if match not in ("exact", "prefix"):
        raise FilterError("plate_match", "plate_match")
    if plate and not _PLATE_CHARS.match(plate):
        raise FilterError("plate_chars", "plate")
    if plate and match == "exact" and not is_valid_plate(plate):
        raise FilterError("plate_incomplete", "plate")
    person = " ".join(args.get("person", "").split())
    if len(person) > MAX_PERSON:
        raise FilterError("person_length", "person")
    since = parse_local_time(args.get("from", "")[:40], zone, "from", end=False)
    until = parse_local_time(args.get("to", "")[:40], zone, "to", end=True)
    if since and until and since >= until:
        raise FilterError("time_order", "to")
    gate_id = args.get("gate", "").strip()
    if gate_id and gate_id not in known_gates:
        raise FilterError("gate_unknown", "gate")
    decision = args.get("decision", "").strip()
    if decision and decision not in DECISIONS:
        raise FilterError("decision_unknown", "decision")
    kind = args.get("kind", "").strip()
    if kind and kind not in KINDS:
        raise FilterError("kind_unknown", "kind")
    return EventFilters(plate, match, person, since, until, gate_id, decision, kind)


def parse_cursor(raw: str) -> Cursor | None:
    """``<rowid>~<stored time>`` from a "next page" link; None when absent."""
    if not raw:
        return None
    rowid, sep, at = raw.replace(" ", "+").partition("~")  # a "+" a client left unquoted
    if (
        not sep
        or not (rowid.isascii() and rowid.isdigit())
        or len(rowid) > 18
        or not _STORED_TIME.match(at)
    ):
        raise FilterError("cursor", "before")
    return Cursor(at, int(rowid))


def parse_feed_cursor(raw: str | None) -> int | None:
    """The feed's ``after`` (an events rowid); None when absent (start from "now")."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise FilterError("cursor", "after")
    return int(raw)


def is_event_id(text: str) -> bool:
    return bool(_ULID.match(text))


# -- queries ---------------------------------------------------------------------------------
def _where(filters: EventFilters) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filters.plate and filters.plate_match == "exact":
        clauses.append("plate = ?")
        args.append(filters.plate)
    elif filters.plate:  # a range, so the events_plate index serves a prefix too
        clauses.append("plate >= ? AND plate < ?")
        args += [filters.plate, filters.plate + "\U0010ffff"]
    if filters.person:
        escaped = re.sub(r"([\\%_])", r"\\\1", filters.person)
        clauses.append("subject LIKE ? ESCAPE '\\'")
        args.append(f"%{escaped}%")
    if filters.since:
        clauses.append("occurred_at >= ?")
        args.append(iso(filters.since))
    if filters.until:
        clauses.append("occurred_at < ?")
        args.append(iso(filters.until))
    for column, value in (
        ("gate_id", filters.gate_id),
        ("decision", filters.decision),
        ("kind", filters.kind),
    ):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    return clauses, args


def _decode(row: sqlite3.Row | tuple, names: tuple[str, ...]) -> dict[str, Any]:
    item = dict(zip(names, row, strict=True))
    for key, empty in (("reasons", []), ("details", {})):
        try:
            item[key] = json.loads(item[key] or "null") or empty
        except ValueError:
            item[key] = empty
    return item


_NAMES = ("rowid", *(c.strip() for c in _COLUMNS.split(",")))


def _select(conn: sqlite3.Connection, sql_tail: str, args: list[Any]) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT rowid, {_COLUMNS} FROM events {sql_tail}", args).fetchall()
    return [_decode(row, _NAMES) for row in rows]


def search_sql(filters: EventFilters, before: Cursor | None, limit: int) -> tuple[str, list]:
    """The page query (exposed so a test can check its plan uses an index, not a scan)."""
    clauses, args = _where(filters)
    if before is not None:
        clauses.append("(occurred_at, rowid) < (?, ?)")
        args += [before.occurred_at, before.rowid]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    tail = f"{where} ORDER BY occurred_at DESC, rowid DESC LIMIT ?"
    return tail, [*args, limit]


def search(
    conn: sqlite3.Connection,
    filters: EventFilters,
    before: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page, newest first, strictly older than ``before``."""
    tail, args = search_sql(filters, before, limit + 1)
    rows = _select(conn, tail, args)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return Page(rows, Cursor(last["occurred_at"], last["rowid"]) if last else None)


def counts(conn: sqlite3.Connection, filters: EventFilters) -> dict[str, int]:
    """Matching events per decision, and the total."""
    clauses, args = _where(filters)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    found = dict(
        conn.execute(f"SELECT decision, COUNT(*) FROM events {where} GROUP BY decision", args)
    )
    result = {d: int(found.get(d, 0)) for d in DECISIONS}
    result["total"] = sum(result.values())
    return result


def iter_matching(
    conn: sqlite3.Connection, filters: EventFilters, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every match, newest first, fetched in keyset batches (flat memory for an export)."""
    cursor: Cursor | None = None
    while True:
        page = search(conn, filters, cursor, batch)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def get_event(conn: sqlite3.Connection, event_id: str) -> dict[str, Any] | None:
    rows = _select(conn, "WHERE id = ?", [event_id])
    return rows[0] if rows else None


def related_events(conn: sqlite3.Connection, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The event this one points at and the events pointing at it, in time order."""
    return _select(
        conn,
        "WHERE (id = ? OR related_event_id = ?) AND id != ? ORDER BY occurred_at, rowid",
        [event["related_event_id"] or "", event["id"], event["id"]],
    )


def latest_for_gate(conn: sqlite3.Connection, gate_id: str, limit: int) -> list[dict[str, Any]]:
    return _select(
        conn, "WHERE gate_id = ? ORDER BY occurred_at DESC, rowid DESC LIMIT ?", [gate_id, limit]
    )


def recent_alerts(conn: sqlite3.Connection, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Alert events since ``since``, newest first (shown as banners when a page opens)."""
    marks = ", ".join("?" for _ in ALERT_KINDS)
    return _select(
        conn,
        f"WHERE kind IN ({marks}) AND occurred_at >= ? ORDER BY occurred_at DESC, rowid DESC"
        " LIMIT ?",
        [*ALERT_KINDS, iso(since), limit],
    )


def current_cursor(conn: sqlite3.Connection) -> int:
    """The newest events rowid (0 for an empty table): where a fresh feed starts."""
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0])


@dataclass(frozen=True)
class FeedBatch:
    rows: list[dict[str, Any]]
    cursor: int  # pass back as ``after`` next time
    more: bool  # True: more rows are waiting, ask again at once


def feed(
    conn: sqlite3.Connection, after: int, alerts_only: bool = False, limit: int = FEED_LIMIT
) -> FeedBatch:
    """Events with a rowid above ``after``, oldest first.

    The top is read first and the rows are bounded by it, so a row committed between the
    two statements is left for the next poll rather than skipped by the returned cursor.
    """
    top = current_cursor(conn)
    tail = "WHERE rowid > ? AND rowid <= ?"
    args: list[Any] = [after, top]
    if alerts_only:
        tail += f" AND kind IN ({', '.join('?' for _ in ALERT_KINDS)})"
        args += list(ALERT_KINDS)
    rows = _select(conn, f"{tail} ORDER BY rowid LIMIT ?", [*args, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    # A cursor above the top (the database was restored from a backup) restarts at the top.
    cursor = rows[-1]["rowid"] if more else top
    return FeedBatch(rows, cursor, more)
