"""Properties, buildings, units and rented rooms, and each room's opaque QR token.

The QR on a door encodes only ``base_url/r/<token>``: no name, no address. The token is
random (not derived from the room id), so stickers cannot be enumerated; rotating it
retires the old one, and a retired sticker is recognised and says "replaced" instead of
looking like an unknown code.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from edge.db import iso
from edge.errors import UserError

TOKEN_BYTES = 16  # 128 bits: unguessable, and short enough for a low-density QR


@dataclass(frozen=True)
class Room:
    id: int
    label: str  # '幸福小区 3幢 1单元 402'
    landlord_id: int | None  # None: no landlord (an owner-occupied flat)
    building_id: int
    token: str | None
    community: str = ""  # '幸福小区'
    place: str = ""  # '3幢1单元 402': what a sticker prints large


@dataclass(frozen=True)
class TokenLookup:
    """Result of scanning a sticker: the room, or why there is none."""

    state: str  # 'current', 'replaced', 'unknown'
    room: Room | None = None


_ROOM_SQL = """
SELECT r.id, p.name || ' ' || b.name || ' ' || u.name || ' ' || r.number, r.landlord_id,
       b.id, t.token, p.name, b.name || u.name || ' ' || r.number
FROM rooms r JOIN units u ON u.id = r.unit_id JOIN buildings b ON b.id = u.building_id
JOIN properties p ON p.id = b.property_id
LEFT JOIN room_tokens t ON t.room_id = r.id AND t.retired_at IS NULL
"""


def _get_or_create(conn: sqlite3.Connection, table: str, where: dict, extra: dict) -> int:
    clause = " AND ".join(f"{k} = ?" for k in where)
    row = conn.execute(f"SELECT id FROM {table} WHERE {clause}", tuple(where.values())).fetchone()
    if row:
        return int(row[0])
    values = {**where, **extra}
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cursor = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
    return int(cursor.lastrowid or 0)


def add_room(
    conn: sqlite3.Connection,
    property_name: str,
    building: str,
    unit: str,
    number: str,
    landlord_id: int,
    at: datetime,
    address: str = "",
) -> Room:
    """Create the room (and its property/building/unit if new) with a first token."""
    for value in (property_name, building, unit, number):
        if not value.strip() or len(value) > 60:
            raise UserError(
                "property, building, unit and room must be 1-60 characters", code="room_label"
            )
    prop = _get_or_create(
        conn,
        "properties",
        {"name": property_name.strip()},
        {"address": address, "created_at": iso(at)},
    )
    bld = _get_or_create(conn, "buildings", {"property_id": prop, "name": building.strip()}, {})
    unt = _get_or_create(conn, "units", {"building_id": bld, "name": unit.strip()}, {})
    if conn.execute(
        "SELECT 1 FROM rooms WHERE unit_id = ? AND number = ?", (unt, number.strip())
    ).fetchone():
        raise UserError(
            "room %(room)s already exists in that unit",
            {"room": number.strip()},
            code="room_exists",
        )
    cursor = conn.execute(
        "INSERT INTO rooms (unit_id, number, landlord_id, created_at) VALUES (?, ?, ?, ?)",
        (unt, number.strip(), landlord_id, iso(at)),
    )
    room_id = int(cursor.lastrowid or 0)
    issue_token(conn, room_id, at)
    room = get_room(conn, room_id)
    assert room is not None
    return room


def issue_token(conn: sqlite3.Connection, room_id: int, at: datetime) -> str:
    """Retire the room's current token (if any) and give it a new one; returns the new one."""
    conn.execute(
        "UPDATE room_tokens SET retired_at = ? WHERE room_id = ? AND retired_at IS NULL",
        (iso(at), room_id),
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        "INSERT INTO room_tokens (token, room_id, created_at) VALUES (?, ?, ?)",
        (token, room_id, iso(at)),
    )
    return token


def ensure_tokens(conn: sqlite3.Connection, room_ids: list[int], at: datetime) -> int:
    """Give each room without a current token one (rooms made in bulk get theirs when their
    stickers are first printed); returns how many were issued."""
    issued = 0
    for room_id in room_ids:
        if not conn.execute(
            "SELECT 1 FROM room_tokens WHERE room_id = ? AND retired_at IS NULL", (room_id,)
        ).fetchone():
            issue_token(conn, room_id, at)
            issued += 1
    return issued


def _room(row: tuple) -> Room:
    landlord = int(row[2]) if row[2] is not None else None
    return Room(int(row[0]), row[1], landlord, int(row[3]), row[4], row[5], row[6])


class RoomInUseError(UserError):
    """A room with registrations (current or past) is not removed: their history needs it."""

    code = "room_in_use"


def remove_room(conn: sqlite3.Connection, room_id: int) -> bool:
    """Delete a room that never had a registration, with its QR tokens (a printed sticker
    then reads "unknown"); False for no such room, RoomInUseError when it has registrations.
    In the caller's transaction."""
    if conn.execute("SELECT 1 FROM rooms WHERE id = ?", (room_id,)).fetchone() is None:
        return False
    used = conn.execute("SELECT COUNT(*) FROM registrations WHERE room_id = ?", (room_id,))
    if used.fetchone()[0]:
        raise RoomInUseError(
            "Room %(room)s has registrations; it stays for their history.", {"room": room_id}
        )
    conn.execute("DELETE FROM room_tokens WHERE room_id = ?", (room_id,))
    conn.execute("DELETE FROM rooms WHERE id = ?", (room_id,))
    return True


def get_room(conn: sqlite3.Connection, room_id: int) -> Room | None:
    row = conn.execute(_ROOM_SQL + " WHERE r.id = ?", (room_id,)).fetchone()
    return _room(row) if row else None


def lookup_token(conn: sqlite3.Connection, token: str) -> TokenLookup:
    """What a scanned sticker refers to. Malformed tokens are simply 'unknown'."""
    if not isinstance(token, str) or not 10 <= len(token) <= 64:
        return TokenLookup("unknown")
    row = conn.execute(
        "SELECT room_id, retired_at FROM room_tokens WHERE token = ?", (token,)
    ).fetchone()
    if row is None:
        return TokenLookup("unknown")
    room = get_room(conn, int(row[0]))
    if row[1] is not None or room is None:
        return TokenLookup("replaced", room)
    return TokenLookup("current", room)


def list_rooms(
    conn: sqlite3.Connection, landlord_id: int | None = None, building_id: int | None = None
) -> list[Room]:
    """Rooms ordered by label; filtered to one landlord and/or one building."""
    where, args = [], []
    if landlord_id is not None:
        where.append("r.landlord_id = ?")
        args.append(landlord_id)
    if building_id is not None:
        where.append("b.id = ?")
        args.append(building_id)
    sql = _ROOM_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY 2"
    return [_room(r) for r in conn.execute(sql, args).fetchall()]
