"""Downlink: the district's watchlist and resident/vehicle lists, validated then swapped in.

Each list arrives whole (with an ETag). It is validated completely before anything is
written: one invalid plate, a wrong type or a missing field rejects the whole list with a
logged reason and the box keeps the last good list — a half-applied list could open the
gate for a car the district just removed. A valid list replaces every ``source='district'``
row in one transaction with the new ETag, so readers (the gate) see the old list or the new
one, never a mix; locally enrolled rows are never touched. When the platform is
unreachable nothing changes and the gate goes on deciding with what it has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, transaction, utc_now
from edge.errors import MenweiError
from edge.people.vehicles import insert_household
from edge.plates.grammar import PlateFormatError, normalise_plate
from sync.state import get_state, set_state
from sync.transport import TransportError

log = logging.getLogger(__name__)

MAX_ITEMS = 100_000
LISTS = ("watchlist", "vehicles")


class ListInvalidError(MenweiError, ValueError):
    """The list cannot be used; the message says which row and why (no personal data)."""


@dataclass(frozen=True)
class WatchItem:
    plate: str
    reason: str
    expires_at: datetime | None


@dataclass(frozen=True)
class VehicleItem:
    plate: str
    kind: str
    household: str | None
    valid_from: datetime | None
    valid_to: datetime | None


def item_time(row: dict, name: str, index: int) -> datetime | None:
    """Field ``name`` of item ``index`` as an aware time (None if absent); ListInvalidError
    for anything else. Shared by every downlink list's parser."""
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ListInvalidError(f"item {index}: {name} must be an ISO time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ListInvalidError(f"item {index}: {name} is not an ISO time") from None
    if moment.tzinfo is None:
        raise ListInvalidError(f"item {index}: {name} has no time zone")
    return moment


def item_text(row: dict, name: str, index: int, limit: int, required: bool = False) -> str | None:
    """Field ``name`` of item ``index`` as text of at most ``limit`` characters."""
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise ListInvalidError(f"item {index}: {name} must be text of at most {limit} characters")
    return value


def list_items(document: Any) -> list[dict]:
    """The ``items`` of a list document, each an object, at most MAX_ITEMS of them."""
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ListInvalidError("list document must be an object with an 'items' array")
    items = document["items"]
    if len(items) > MAX_ITEMS:
        raise ListInvalidError(f"list has {len(items)} items, more than {MAX_ITEMS}")
    for index, row in enumerate(items):
        if not isinstance(row, dict):
            raise ListInvalidError(f"item {index}: not an object")
    return items


def _plate(row: dict, index: int) -> str:
    raw = item_text(row, "plate", index, 20, required=True)
    try:
        return normalise_plate(raw or "")
    except PlateFormatError:
        raise ListInvalidError(f"item {index}: not a valid plate") from None


def parse_watchlist(document: Any) -> list[WatchItem]:
    result = []
    for index, row in enumerate(list_items(document)):
        result.append(
            WatchItem(
                _plate(row, index),
                item_text(row, "reason", index, 200) or "",
                item_time(row, "expires_at", index),
            )
        )
    return result


def parse_vehicles(document: Any) -> list[VehicleItem]:
    result = []
    for index, row in enumerate(list_items(document)):
        kind = row.get("kind", "resident")
        if kind not in ("resident", "visitor", "temporary"):
            raise ListInvalidError(f"item {index}: kind must be resident, visitor or temporary")
        item = VehicleItem(
            _plate(row, index),
            kind,
            item_text(row, "household", index, 40),
            item_time(row, "valid_from", index),
            item_time(row, "valid_to", index),
        )
        if item.valid_from and item.valid_to and item.valid_from >= item.valid_to:
            raise ListInvalidError(f"item {index}: valid_from must be before valid_to")
        if kind != "resident" and item.valid_to is None:
            raise ListInvalidError(f"item {index}: a {kind} vehicle needs valid_to")
        result.append(item)
    return result


def apply_watchlist(db: sqlite_utils.Database, items: list[WatchItem], etag: str | None) -> None:
    now = iso(utc_now())
    with transaction(db) as conn:
        conn.execute("DELETE FROM watchlist WHERE source = 'district'")
        conn.executemany(
            "INSERT INTO watchlist (plate, reason, source, created_at, expires_at)"
            " VALUES (?, ?, 'district', ?, ?)",
            [(i.plate, i.reason, now, iso(i.expires_at) if i.expires_at else None) for i in items],
        )
        set_state(conn, "downlink.watchlist.etag", etag or "")
        set_state(conn, "downlink.watchlist.count", str(len(items)))


def apply_vehicles(db: sqlite_utils.Database, items: list[VehicleItem], etag: str | None) -> None:
    at = utc_now()
    now = iso(at)
    with transaction(db) as conn:
        conn.execute("DELETE FROM vehicles WHERE source = 'district'")
        households: dict[str, int | None] = {}
        for item in items:
            household_id = None
            if item.household:
                if item.household not in households:
                    households[item.household] = insert_household(conn, item.household, at)
                household_id = households[item.household]
            conn.execute(
                "INSERT INTO vehicles (plate, kind, household_id, valid_from, valid_to,"
                " note, created_at, source) VALUES (?, ?, ?, ?, ?, 'district list', ?, 'district')",
                (
                    item.plate,
                    item.kind,
                    household_id,
                    iso(item.valid_from) if item.valid_from else None,
                    iso(item.valid_to) if item.valid_to else None,
                    now,
                ),
            )
        set_state(conn, "downlink.vehicles.etag", etag or "")
        set_state(conn, "downlink.vehicles.count", str(len(items)))


PARSERS = {
    "watchlist": (parse_watchlist, apply_watchlist),
    "vehicles": (parse_vehicles, apply_vehicles),
}


def pull_list(
    db: sqlite_utils.Database, protocol: Any, name: str, handlers: dict | None = None
) -> str:
    """Fetch, validate and apply one list; returns what happened (for status and logs).

    ``handlers`` adds lists whose (parse, apply) need more than the database (the watch
    faces need the PII key and the recogniser model: sync.downlink_faces).
    Never raises for platform trouble: unreachable, malformed or invalid all leave the
    current list in force and are recorded in ``sync_state`` for ``menwei sync status``.
    """
    parse, apply = {**PARSERS, **(handlers or {})}[name]
    etag = get_state(db.conn, f"downlink.{name}.etag") or None
    try:
        reply = protocol.fetch_list(name, etag)
        if not reply.changed:
            outcome = "unchanged"
        else:
            items = parse(reply.document)
            apply(db, items, reply.etag)
            outcome = f"applied {len(items)} items"
            log.info("downlink %s: %s (etag %s)", name, outcome, reply.etag)
    except ListInvalidError as exc:
        outcome = f"rejected: {exc}"
        log.error("downlink %s rejected, keeping the last good list: %s", name, exc)
    except TransportError as exc:
        outcome = f"unreachable: {exc}"
        log.warning("downlink %s not fetched, keeping the last good list: %s", name, exc)
    with transaction(db) as conn:
        set_state(conn, f"downlink.{name}.last", outcome[:300])
        set_state(conn, f"downlink.{name}.checked_at", iso(utc_now()))
    return outcome
