"""Enrolled vehicles and the plate watchlist: add, remove, list, and facts for the policy.

Every plate that enters the database goes through :func:`normalise_plate`, so the policy
compares like with like (``京a·12345`` typed by an admin is stored as ``京A12345``) and a
malformed plate is refused with a message before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from edge.db import iso, parse_iso, transaction, utc_now
from edge.plates.grammar import normalise_plate
from edge.policy import Facts, VehicleFact, VehicleKind, WatchFact

VEHICLE_KINDS: tuple[VehicleKind, ...] = ("resident", "visitor", "temporary")


class EnrolmentError(ValueError):
    """Input an admin can fix; the message says how."""


@dataclass(frozen=True)
class VehicleInput:
    plate: str
    kind: VehicleKind = "resident"
    household: str | None = None  # label such as "3-1-402"
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    note: str = ""


def _household_id(conn: Any, label: str | None, now: datetime) -> int | None:
    if not label:
        return None
    label = label.strip()
    if not label or len(label) > 40:
        raise EnrolmentError("household label must be 1-40 characters, e.g. 3-1-402")
    row = conn.execute("SELECT id FROM households WHERE label = ?", (label,)).fetchone()
    if row:
        return row[0]
    cursor = conn.execute(
        "INSERT INTO households (label, created_at) VALUES (?, ?)", (label, iso(now))
    )
    return cursor.lastrowid


def add_vehicle(db: sqlite_utils.Database, vehicle: VehicleInput) -> int:
    """Enrol a vehicle; returns its id. Raises EnrolmentError (or PlateFormatError) on bad input."""
    plate = normalise_plate(vehicle.plate)
    if vehicle.kind not in VEHICLE_KINDS:
        raise EnrolmentError(f"kind must be one of {', '.join(VEHICLE_KINDS)}")
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
                f"{plate} is already enrolled as {vehicle.kind} (id {duplicate[0]})"
            )
        household_id = _household_id(conn, vehicle.household, now)
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
        return cursor.lastrowid


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
            raise EnrolmentError(f"no vehicle {vehicle_id}")


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
    plate = normalise_plate(plate)
    if len(reason) > 200:
        raise EnrolmentError("reason is longer than 200 characters")
    with transaction(db) as conn:
        cursor = conn.execute(
            "INSERT INTO watchlist (plate, reason, source, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (plate, reason, source, iso(utc_now()), iso(expires_at) if expires_at else None),
        )
        return cursor.lastrowid


def remove_watch(db: sqlite_utils.Database, plate: str) -> int:
    plate = normalise_plate(plate)
    with transaction(db) as conn:
        return conn.execute("DELETE FROM watchlist WHERE plate = ?", (plate,)).rowcount


def list_watch(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in db.query(
            "SELECT id, plate, reason, source, created_at, expires_at FROM watchlist"
            " WHERE active = 1 ORDER BY plate"
        )
    ]


def facts_for_plate(db: sqlite_utils.Database, plate: str) -> Facts:
    """Only the rows about this plate: an indexed lookup, cheap on the gate's hot path."""
    vehicles = tuple(
        VehicleFact(
            id=row["id"],
            plate=row["plate"],
            kind=row["kind"],
            valid_from=parse_iso(row["valid_from"]),
            valid_to=parse_iso(row["valid_to"]),
            label=f"household {row['label']}" if row["label"] else f"vehicle #{row['id']}",
        )
        for row in db.query(
            "SELECT v.id, v.plate, v.kind, v.valid_from, v.valid_to, h.label FROM vehicles v"
            " LEFT JOIN households h ON h.id = v.household_id WHERE v.plate = ? AND v.active = 1",
            [plate],
        )
    )
    watchlist = tuple(
        WatchFact(
            row["id"], row["plate"], row["reason"], row["source"], parse_iso(row["expires_at"])
        )
        for row in db.query(
            "SELECT id, plate, reason, source, expires_at FROM watchlist"
            " WHERE plate = ? AND active = 1",
            [plate],
        )
    )
    return Facts(vehicles, watchlist)
