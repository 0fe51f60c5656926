"""Enrolled vehicles and the plate watchlist: add, remove, list, and facts for the policy.

Every plate that enters the database goes through :func:`normalise_plate`, so the policy
compares like with like (``京a·12345`` typed by an admin is stored as ``京A12345``) and a
malformed plate is refused with a message before anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, parse_iso, transaction, utc_now
from edge.errors import Phrase, UserError
from edge.people.addresses import AddressError, household_for_label
from edge.plates.grammar import normalise_plate
from edge.plates.near_miss import near_miss_variants
from edge.policy.vehicle import Facts, VehicleFact, VehicleKind, WatchFact

VEHICLE_KINDS: tuple[VehicleKind, ...] = ("resident", "visitor", "temporary")


class EnrolmentError(UserError):
    """Input an admin can fix; the message says how."""

    code = "enrolment"


class WatchlistError(EnrolmentError):
    """A watchlist change refused: ``code`` is ``no_entry`` or ``district_entry``."""

    def __init__(self, code: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message, params, code=code)


@dataclass(frozen=True)
class VehicleInput:
    plate: str
    kind: VehicleKind = "resident"
    household: str | None = None  # label such as "3-1-402"
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    note: str = ""


def insert_household(conn: sqlite3.Connection, label: str | None, now: datetime) -> int | None:
    """The id of the household a label names (edge.people.addresses: the room's household when the
    label reads as building-unit-room, made if new), in the caller's transaction; None
    without a label. An EnrolmentError for a label over 40 characters."""
    try:
        return household_for_label(conn, label, now)
    except AddressError as exc:
        raise EnrolmentError(exc.message, exc.params, code=exc.code) from exc


def add_vehicle(db: sqlite_utils.Database, vehicle: VehicleInput) -> int:
    """Enrol a vehicle; returns its id. Raises EnrolmentError (or PlateFormatError) on bad input."""
    plate = normalise_plate(vehicle.plate)
    if vehicle.kind not in VEHICLE_KINDS:
        raise EnrolmentError("kind must be one of %(kinds)s", {"kinds": ", ".join(VEHICLE_KINDS)})
    for moment in (vehicle.valid_from, vehicle.valid_to):
        if moment is not None and moment.tzinfo is None:
            raise EnrolmentError("validity times need a time zone")
    if vehicle.valid_from and vehicle.valid_to and vehicle.valid_from >= vehicle.valid_to:
        raise EnrolmentError("valid_from must be before valid_to")
    if vehicle.kind in ("visitor", "temporary") and vehicle.valid_to is None:
        raise EnrolmentError("a visitor or temporary vehicle needs an end of validity (--valid-to)")
    if len(vehicle.note) > 200:
        raise EnrolmentError("note is longer than 200 characters")
    now = utc_now()
    with transaction(db) as conn:
        duplicate = conn.execute(
            "SELECT id FROM vehicles WHERE plate = ? AND kind = ? AND active = 1",
            (plate, vehicle.kind),
        ).fetchone()
        if duplicate:
            raise EnrolmentError(
                "%(plate)s is already enrolled as %(kind)s (id %(id)s)",
                {"plate": plate, "kind": Phrase(vehicle.kind), "id": duplicate[0]},
            )
        household_id = insert_household(conn, vehicle.household, now)
        cursor = conn.execute(
            "INSERT INTO vehicles"
            " (plate, kind, household_id, valid_from, valid_to, note, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                plate,
                vehicle.kind,
                household_id,
                iso(vehicle.valid_from) if vehicle.valid_from else None,
                iso(vehicle.valid_to) if vehicle.valid_to else None,
                vehicle.note,
                iso(now),
            ),
        )
        return int(cursor.lastrowid or 0)


def remove_vehicle(db: sqlite_utils.Database, plate: str, kind: VehicleKind | None = None) -> int:
    """Delete the plate's enrolments (of one kind if given); returns how many were removed."""
    plate = normalise_plate(plate)
    with transaction(db) as conn:
        if kind:
            cursor = conn.execute(
                "DELETE FROM vehicles WHERE plate = ? AND kind = ?", (plate, kind)
            )
        else:
            cursor = conn.execute("DELETE FROM vehicles WHERE plate = ?", (plate,))
        return cursor.rowcount


def remove_vehicle_id(db: sqlite_utils.Database, vehicle_id: int) -> None:
    """Delete one enrolment by id (the console's remove button); EnrolmentError if absent."""
    with transaction(db) as conn:
        if conn.execute("DELETE FROM vehicles WHERE id = ?", (vehicle_id,)).rowcount != 1:
            raise EnrolmentError("no vehicle %(id)s", {"id": vehicle_id})


def list_vehicles(db: sqlite_utils.Database, household: str | None = None) -> list[dict[str, Any]]:
    """Active enrolments, all or one household's (by label)."""
    where, args = ("AND h.label = ?", [household]) if household else ("", [])
    return [
        dict(row)
        for row in db.query(
            "SELECT v.id, v.plate, v.kind, h.label AS household, v.valid_from, v.valid_to, v.note"
            " FROM vehicles v LEFT JOIN households h ON h.id = v.household_id"
            f" WHERE v.active = 1 {where} ORDER BY v.plate, v.kind",
            args,
        )
    ]


def add_watch(
    db: sqlite_utils.Database,
    plate: str,
    reason: str = "",
    source: str = "local",
    expires_at: datetime | None = None,
) -> int:
    with transaction(db) as conn:
        return insert_watch(conn, plate, reason, source, expires_at, utc_now())


def insert_watch(
    conn: Any,
    plate: str,
    reason: str,
    source: str,
    expires_at: datetime | None,
    now: datetime,
) -> int:
    """Add a watchlist plate inside the caller's transaction (the console audits with it)."""
    plate = normalise_plate(plate)
    if len(reason) > 200:
        raise EnrolmentError("reason is longer than 200 characters")
    if source not in ("local", "district"):
        raise EnrolmentError("source must be local or district")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise EnrolmentError("the end of the watch must be a time-zone-aware time in the future")
    cursor = conn.execute(
        "INSERT INTO watchlist (plate, reason, source, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (plate, reason, source, iso(now), iso(expires_at) if expires_at else None),
    )
    return int(cursor.lastrowid)


#: the two watchlists: the column that names an entry, and what an entry is called
WATCH_TABLES = {"watchlist": ("plate", "watchlist entry"), "watch_faces": ("label", "watch face")}


def delete_local_watch(conn: Any, table: str, watch_id: int) -> str:
    """Delete one local row of a watchlist (``watchlist`` or ``watch_faces``, a face's
    template with it) by id, in the caller's transaction; returns what names it (the plate,
    the label) for the audit row.

    District rows are refused: the next downlink would put them back, so removing them
    here would only pretend (the district platform owns them).
    """
    column, noun = WATCH_TABLES[table]
    row = conn.execute(f"SELECT {column}, source FROM {table} WHERE id = ?", (watch_id,))
    found = row.fetchone()
    if found is None:
        raise WatchlistError(
            "no_entry", "no %(noun)s %(id)s", {"noun": Phrase(noun), "id": watch_id}
        )
    if found[1] != "local":
        raise WatchlistError(
            "district_entry", "district watchlist entries are managed by the district platform"
        )
    conn.execute(f"DELETE FROM {table} WHERE id = ?", (watch_id,))
    return str(found[0])


def remove_watch_id(conn: Any, watch_id: int) -> str:
    """Delete one local watchlist row by id (see delete_local_watch); returns its plate."""
    return delete_local_watch(conn, "watchlist", watch_id)


def remove_watch(db: sqlite_utils.Database, plate: str) -> int:
    plate = normalise_plate(plate)
    with transaction(db) as conn:
        return conn.execute("DELETE FROM watchlist WHERE plate = ?", (plate,)).rowcount


def list_watch(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in db.query(
            "SELECT id, plate, reason, source, created_at, starts_at, expires_at FROM watchlist"
            " WHERE active = 1 ORDER BY plate"
        )
    ]


def facts_for_plate(
    db: sqlite_utils.Database,
    plate: str,
    gate_id: str | None = None,
    since: datetime | None = None,
) -> Facts:
    """Only the rows about this plate: an indexed lookup, cheap on the gate's hot path.

    Revoked visitor/temporary passes are included (so the gate can say "revoked" instead
    of "not registered"). With ``gate_id`` and ``since``, a counted pass also carries the
    time it last spent a use at that gate after ``since`` (the policy's same-visit rule).
    ``near``: active vehicles one confusable character away (an indexed ``IN`` over the
    ~20 variants of the plate, edge.plates.near_miss), for the policy's near-miss rule.
    """
    vehicles = _vehicle_facts(db, [plate], gate_id, since)
    variants = sorted(near_miss_variants(plate))
    near = _vehicle_facts(db, variants, gate_id, since, active_only=True) if variants else ()
    watchlist = tuple(
        WatchFact(
            row["id"],
            row["plate"],
            row["reason"],
            row["source"],
            parse_iso(row["expires_at"]),
            parse_iso(row["starts_at"]),
        )
        for row in db.query(
            "SELECT id, plate, reason, source, starts_at, expires_at FROM watchlist"
            " WHERE plate = ? AND active = 1",
            [plate],
        )
    )
    return Facts(vehicles, watchlist, near)


def _vehicle_facts(
    db: sqlite_utils.Database,
    plates: list[str],
    gate_id: str | None,
    since: datetime | None,
    active_only: bool = False,
) -> tuple[VehicleFact, ...]:
    marks = ", ".join("?" for _ in plates)
    active = "v.active = 1" if active_only else "(v.active = 1 OR v.kind != 'resident')"
    out = []
    for row in db.query(
        "SELECT v.id, v.plate, v.kind, v.valid_from, v.valid_to, v.max_uses, v.uses, v.active,"
        " h.label FROM vehicles v LEFT JOIN households h ON h.id = v.household_id"
        f" WHERE v.plate IN ({marks}) AND {active}",
        plates,
    ):
        last_use = None
        if row["max_uses"] is not None and gate_id is not None and since is not None:
            last_use = last_vehicle_use(db, row["id"], row["plate"], gate_id, since)
        out.append(
            VehicleFact(
                id=row["id"],
                plate=row["plate"],
                kind=row["kind"],
                valid_from=parse_iso(row["valid_from"]),
                valid_to=parse_iso(row["valid_to"]),
                label=f"household {row['label']}" if row["label"] else f"vehicle #{row['id']}",
                max_uses=row["max_uses"],
                uses=row["uses"],
                revoked=not row["active"],
                last_use_at=last_use,
                household=row["label"] or "",
            )
        )
    return tuple(out)


def last_vehicle_use(
    db: sqlite_utils.Database, vehicle_id: int, plate: str, gate_id: str, since: datetime
) -> datetime | None:
    """When this pass last spent a use at ``gate_id`` after ``since`` (from the event log:
    the passage that spent it — or the guard's opening for its confirmed plate — records
    ``vehicle_id`` and ``pass_use`` in its details)."""
    row = db.execute(
        "SELECT MAX(occurred_at) FROM events WHERE plate = ? AND gate_id = ?"
        " AND kind IN ('vehicle_passage', 'manual_open') AND decision = 'open'"
        " AND occurred_at >= ?"
        " AND json_extract(details, '$.vehicle_id') = ?"
        " AND json_extract(details, '$.pass_use') IS NOT NULL",
        (plate, gate_id, iso(since), vehicle_id),
    ).fetchone()
    return parse_iso(row[0]) if row and row[0] else None


def consume_vehicle_use(db: sqlite_utils.Database, vehicle_id: int, now: datetime) -> int | None:
    """Spend one use of a counted plate pass if it is still usable now; returns the use's
    number (1 for the first), or None when none is left (or another gate got there first).

    One guarded UPDATE, like edge.people.passes.consume_use: two gates reading the same plate at
    once cannot both spend its last use.
    """
    with transaction(db) as conn:
        row = conn.execute(
            "UPDATE vehicles SET uses = uses + 1 WHERE id = ? AND active = 1"
            " AND max_uses IS NOT NULL AND uses < max_uses"
            " AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)"
            " RETURNING uses",
            (vehicle_id, iso(now), iso(now)),
        ).fetchone()
        return int(row[0]) if row else None
