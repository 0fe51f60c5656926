"""The one address model of the box: community → building (楼栋) → unit (单元) → room (房号).

Residents and their vehicles hang off a household, and a household is the people of one
room; tenants register against the same rooms; so ``3幢1单元402`` typed by a guard,
``3-1-402`` sent by the district and the sticker on the door are one flat. Free text is
read once (edge.address_labels) where it arrives — the command line, the district's lists,
an imported workbook — and forms pick a room from the tree instead.

Why it is written this way:
- Functions taking a connection write inside the caller's transaction, so the console and
  the importer commit an address change with their audit row.
- A room or household in use is never deleted: the refusal says what uses it (residents,
  vehicles, tenant registrations), so the admin knows what to move first.
- Access groups are codes (``residents``) in storage and in [gates.access], with the label
  people read (``住户``) in ``access_groups``; forms choose from that list.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.address_labels import FlatAddress, parse_flat
from edge.db import iso
from edge.errors import Phrase, UserError
from edge.migrations import community_id, flat_room

GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ROOM_CHOICE = re.compile(r"^room:([0-9]{1,10})$")  # what a form's room picker sends
MAX_GENERATED = 20_000  # rooms one `rooms generate` may make: a typo must not make millions


class AddressError(UserError):
    """An address an operator can fix; ``code`` is stable (the console translates it)."""

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(message, params or {}, code=code)


@dataclass(frozen=True)
class RoomAddress:
    id: int
    building_id: int
    building: str  # '3幢'
    unit_id: int
    unit: str  # '1单元'
    number: str  # '402'
    landlord_id: int | None

    @property
    def label(self) -> str:
        """'3-1-402' when building and unit are numbered, else '3幢 1单元 402'."""
        flat = parse_flat(f"{self.building}{self.unit}{self.number}")
        return flat.label if flat else f"{self.building} {self.unit} {self.number}"


_ROOM_SQL = (
    "SELECT r.id, b.id, b.name, u.id, u.name, r.number, r.landlord_id FROM rooms r"
    " JOIN units u ON u.id = r.unit_id JOIN buildings b ON b.id = u.building_id"
)


def _room(row: tuple) -> RoomAddress:
    return RoomAddress(int(row[0]), int(row[1]), row[2], int(row[3]), row[4], row[5], row[6])


def get_room(conn: sqlite3.Connection, room_id: int) -> RoomAddress | None:
    row = conn.execute(_ROOM_SQL + " WHERE r.id = ?", (room_id,)).fetchone()
    return _room(row) if row else None


def find_flat(conn: sqlite3.Connection, text: str) -> RoomAddress | None:
    """The existing room a label names ('3-1-402', '三幢一单元402'); None if none."""
    flat = parse_flat(text)
    home = community_id(conn, create=False)
    if flat is None or home is None:
        return None
    for room in rooms_numbered(conn, flat.room):
        if _same_flat(room, flat):
            return room
    return None


def rooms_numbered(conn: sqlite3.Connection, number: str) -> list[RoomAddress]:
    return [_room(r) for r in conn.execute(_ROOM_SQL + " WHERE r.number = ?", (number,))]


def _same_flat(room: RoomAddress, flat: FlatAddress) -> bool:
    return parse_flat(f"{room.building}{room.unit}{room.number}") == flat


def room_for_flat(
    conn: sqlite3.Connection, flat: FlatAddress, at: datetime, parts: dict | None = None
) -> int:
    """The room of ``flat``, made (with its building and unit) if new; ``parts`` caches
    buildings and units across the calls of one transaction."""
    home = community_id(conn)
    assert home is not None
    return flat_room(conn, home, flat, iso(at), parts)


# -- households: the people and cars of one room ----------------------------------------------
def household_for_room(conn: sqlite3.Connection, room_id: int, at: datetime) -> int:
    """The household of room ``room_id``, made if it has none (in the caller's transaction)."""
    row = conn.execute("SELECT id FROM households WHERE room_id = ?", (room_id,)).fetchone()
    if row:
        return int(row[0])
    room = get_room(conn, room_id)
    if room is None:
        raise AddressError("no_room", "there is no such room")
    label = room.label
    taken = conn.execute("SELECT id, room_id FROM households WHERE label = ?", (label,)).fetchone()
    if taken is not None:  # an unlinked household of the same label: it is this room's
        conn.execute(
            "UPDATE households SET room_id = ?, needs_review = 0 WHERE id = ?", (room_id, taken[0])
        )
        return int(taken[0])
    cursor = conn.execute(
        "INSERT INTO households (label, room_id, created_at) VALUES (?, ?, ?)",
        (label, room_id, iso(at)),
    )
    return int(cursor.lastrowid or 0)


def household_for_label(conn: sqlite3.Connection, label: str | None, at: datetime) -> int | None:
    """The household a typed or received label names (None without a label): the room's
    household when the label reads as building-unit-room (room made if new); otherwise a
    household of that exact text, flagged for the admin to link to a room."""
    text = (label or "").strip()
    if not text:
        return None
    if len(text) > 40 or not text.isprintable():
        raise AddressError("household_label", "household label must be 1-40 characters")
    chosen = ROOM_CHOICE.match(text)
    if chosen:
        return household_for_room(conn, int(chosen.group(1)), at)
    alias = conn.execute(
        "SELECT household_id FROM household_aliases WHERE label = ?", (text,)
    ).fetchone()
    if alias:
        return int(alias[0])
    flat = parse_flat(text)
    if flat is not None:
        return household_for_room(conn, room_for_flat(conn, flat, at), at)
    row = conn.execute("SELECT id FROM households WHERE label = ?", (text,)).fetchone()
    if row:
        return int(row[0])
    cursor = conn.execute(
        "INSERT INTO households (label, needs_review, created_at) VALUES (?, 1, ?)",
        (text, iso(at)),
    )
    return int(cursor.lastrowid or 0)


def find_household(conn: sqlite3.Connection, text: str) -> tuple[int, str] | None:
    """The existing household (id, label) that a picker's ``room:N``, a label, one of its
    aliases or another spelling of its flat names; None when there is none."""
    text = (text or "").strip()
    chosen = ROOM_CHOICE.match(text)
    if chosen:
        sql, args = "SELECT id, label FROM households WHERE room_id = ?", (int(chosen.group(1)),)
        row = conn.execute(sql, args).fetchone()
        return (int(row[0]), row[1]) if row else None
    row = conn.execute("SELECT id, label FROM households WHERE label = ?", (text,)).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT h.id, h.label FROM household_aliases a JOIN households h"
            " ON h.id = a.household_id WHERE a.label = ?",
            (text,),
        ).fetchone()
    if row is None:
        room = find_flat(conn, text)
        if room is not None:
            row = conn.execute(
                "SELECT id, label FROM households WHERE room_id = ?", (room.id,)
            ).fetchone()
    return (int(row[0]), row[1]) if row else None


def picker_groups(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The room picker's choices: one group per building and unit, each room with the
    value a form sends (``room:N``) and its household label (to mark the current one).
    With more than one community a building is named with its community ("幸福小区 3幢")."""
    communities = dict(
        conn.execute(
            "SELECT b.id, p.name FROM buildings b JOIN properties p ON p.id = b.property_id"
        )
    )
    several = len(set(communities.values())) > 1
    groups = []
    for building in tree(conn):
        title = building["name"]
        if several:
            title = f"{communities.get(building['id'], '')} {building['name']}".strip()
        for unit in building["units"]:
            rooms = []
            for room in unit["rooms"]:
                flat = parse_flat(f"{building['name']}{unit['name']}{room['number']}")
                label = (
                    flat.label if flat else f"{building['name']} {unit['name']} {room['number']}"
                )
                rooms.append(
                    {"value": f"room:{room['id']}", "number": room["number"], "label": label}
                )
            groups.append({"building": building["name"], "unit": unit["name"], "rooms": rooms,
                           "building_key": str(building["id"]), "building_title": title,
                           "title": f"{title} {unit['name']}"})  # fmt: skip
    return groups


def link_household(conn: sqlite3.Connection, household_id: int, room_id: int, at: datetime) -> int:
    """Put a flagged household into a room: into the room's household when it has one (its
    residents and vehicles move, its label stays as an alias); returns the household kept."""
    row = conn.execute("SELECT label FROM households WHERE id = ?", (household_id,)).fetchone()
    if row is None:
        raise AddressError("no_household", "there is no such household")
    if get_room(conn, room_id) is None:
        raise AddressError("no_room", "there is no such room")
    other = conn.execute("SELECT id FROM households WHERE room_id = ?", (room_id,)).fetchone()
    if other and other[0] == household_id:
        return household_id
    if other is None:
        room = get_room(conn, room_id)
        assert room is not None
        conn.execute(
            "UPDATE households SET room_id = ?, needs_review = 0, label = ? WHERE id = ?",
            (room_id, room.label, household_id),
        )
        keeper = household_id
    else:
        keeper = int(other[0])
        for table in ("residents", "vehicles"):
            conn.execute(
                f"UPDATE {table} SET household_id = ? WHERE household_id = ?",
                (keeper, household_id),
            )
        conn.execute(
            "UPDATE household_aliases SET household_id = ? WHERE household_id = ?",
            (keeper, household_id),
        )
        conn.execute("DELETE FROM households WHERE id = ?", (household_id,))
    conn.execute(
        "INSERT OR IGNORE INTO household_aliases (label, household_id, created_at)"
        " VALUES (?, ?, ?)",
        (row[0], keeper, iso(at)),
    )
    return keeper


def household_uses(conn: sqlite3.Connection, household_id: int) -> dict[str, int]:
    """What keeps a household: its residents (and visitors) and vehicles, by count."""
    return {
        table: int(
            conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE household_id = ?", (household_id,)
            ).fetchone()[0]
        )
        for table in ("residents", "vehicles")
    }


def delete_household(conn: sqlite3.Connection, household_id: int) -> None:
    """Delete an empty household; AddressError ``in_use`` naming what still uses it."""
    if not conn.execute("SELECT 1 FROM households WHERE id = ?", (household_id,)).fetchone():
        raise AddressError("no_household", "there is no such household")
    _refuse_in_use(household_uses(conn, household_id))
    conn.execute("DELETE FROM households WHERE id = ?", (household_id,))


def _refuse_in_use(uses: dict[str, int]) -> None:
    used = {name: count for name, count in uses.items() if count}
    if used:
        listed = ", ".join(f"{count} {name}" for name, count in used.items())
        raise AddressError("in_use", "still in use by %(uses)s", {"uses": listed})


def room_uses(conn: sqlite3.Connection, room_id: int) -> dict[str, int]:
    """What keeps a room: tenant registrations ever made through it, and its household's
    residents and vehicles."""
    uses = {
        "registrations": int(
            conn.execute(
                "SELECT COUNT(*) FROM registrations WHERE room_id = ?", (room_id,)
            ).fetchone()[0]
        )
    }
    home = conn.execute("SELECT id FROM households WHERE room_id = ?", (room_id,)).fetchone()
    uses.update(household_uses(conn, int(home[0])) if home else {"residents": 0, "vehicles": 0})
    return uses


def delete_room(conn: sqlite3.Connection, room_id: int) -> None:
    """Delete an unused room (its empty household and sticker tokens with it); AddressError
    ``in_use`` naming what still uses it, ``no_room`` when there is none."""
    if get_room(conn, room_id) is None:
        raise AddressError("no_room", "there is no such room")
    _refuse_in_use(room_uses(conn, room_id))
    conn.execute("DELETE FROM households WHERE room_id = ?", (room_id,))
    conn.execute("DELETE FROM room_tokens WHERE room_id = ?", (room_id,))
    conn.execute("DELETE FROM rooms WHERE id = ?", (room_id,))


# -- the tree, for pickers and lists ------------------------------------------------------------
def tree(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Buildings → units → rooms of the community, in natural order, for a picker."""
    buildings: dict[int, dict[str, Any]] = {}
    units: dict[int, dict[str, Any]] = {}
    for row in conn.execute(_ROOM_SQL + " ORDER BY b.id, u.id, r.id"):
        room = _room(row)
        building = buildings.setdefault(
            room.building_id, {"id": room.building_id, "name": room.building, "units": []}
        )
        if room.unit_id not in units:
            units[room.unit_id] = {"id": room.unit_id, "name": room.unit, "rooms": []}
            building["units"].append(units[room.unit_id])
        units[room.unit_id]["rooms"].append({"id": room.id, "number": room.number})
    ordered = sorted(buildings.values(), key=lambda b: natural_key(b["name"]))
    for building in ordered:
        building["units"].sort(key=lambda u: natural_key(u["name"]))
        for unit in building["units"]:
            unit["rooms"].sort(key=lambda r: natural_key(r["number"]))
    return ordered


def communities(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The communities (小区) with their building and room counts, in name order."""
    rows = conn.execute(
        "SELECT p.id, p.name, COUNT(DISTINCT b.id), COUNT(r.id) FROM properties p"
        " LEFT JOIN buildings b ON b.property_id = p.id LEFT JOIN units u ON u.building_id = b.id"
        " LEFT JOIN rooms r ON r.unit_id = u.id GROUP BY p.id ORDER BY p.id"
    ).fetchall()
    return [{"id": r[0], "name": r[1], "buildings": r[2], "rooms": r[3]} for r in rows]


COMMUNITY_NAME_MAX = 40


def rename_community(conn: sqlite3.Connection, community_id: int, name: str) -> str:
    """Give a community its real name (the default "本小区" made before a property existed,
    or a typo); in the caller's transaction. Returns the old name. Raises AddressError:
    ``no_community``, ``community_name`` (1-40 printable characters), ``community_taken``."""
    name = " ".join((name or "").split())
    if not name or len(name) > COMMUNITY_NAME_MAX or not name.isprintable():
        raise AddressError("community_name", "a community's name has 1-40 characters")
    row = conn.execute("SELECT name FROM properties WHERE id = ?", (community_id,)).fetchone()
    if row is None:
        raise AddressError("no_community", "there is no such community")
    other = conn.execute(
        "SELECT 1 FROM properties WHERE name = ? AND id != ?", (name, community_id)
    ).fetchone()
    if other is not None:
        raise AddressError("community_taken", "another community is called %(name)s",
                           {"name": name})  # fmt: skip
    conn.execute("UPDATE properties SET name = ? WHERE id = ?", (name, community_id))
    return str(row[0])


def natural_key(text: str) -> tuple:
    """'2幢' before '10幢', '402' before '1001'."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


# -- making a building's rooms at once ------------------------------------------------------------
def parse_range(text: str, low: int, high: int, what: str) -> list[int]:
    """'1-3' → [1, 2, 3]; '5' → [5]; '1-3,5' → [1, 2, 3, 5]; within [low, high]."""
    numbers: set[int] = set()
    for part in (text or "").replace("，", ",").split(","):
        bounds = part.strip().split("-")
        if not 1 <= len(bounds) <= 2 or not all(b.strip().isdigit() for b in bounds):
            raise AddressError(
                "bad_range", "%(what)s must be like 1-18 or 1,3,5", {"what": Phrase(what)}
            )
        first, last = int(bounds[0]), int(bounds[-1])
        if not low <= first <= last <= high:
            raise AddressError(
                "bad_range",
                "%(what)s must lie within %(low)s-%(high)s",
                {"what": Phrase(what), "low": low, "high": high},
            )
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def building_number(name: str) -> int:
    """The number of a building given as '3幢', '3', '三栋'; AddressError otherwise."""
    flat = parse_flat(f"{name.strip()}1单元1")
    if flat is None:
        raise AddressError("bad_building", "building must be a number such as 3幢")
    return flat.building


def generate_rooms(
    conn: sqlite3.Connection,
    building: str,
    units: list[int],
    floors: list[int],
    rooms_per_floor: list[int],
    at: datetime,
) -> dict[str, int]:
    """Make every room of a building: unit × floor × room, numbered floor then room
    (floor 12, room 3 → '1203'); rooms that exist are kept. Returns made/kept counts."""
    number = building_number(building)
    total = len(units) * len(floors) * len(rooms_per_floor)
    if total > MAX_GENERATED:
        raise AddressError("too_many_rooms", "at most %(n)s rooms at once", {"n": MAX_GENERATED})
    before = conn.execute("SELECT COUNT(*) FROM rooms").fetchone()[0]
    parts: dict = {}
    for unit in units:
        for floor in floors:
            for room in rooms_per_floor:
                room_for_flat(conn, FlatAddress(number, unit, f"{floor}{room:02d}"), at, parts)
    made = conn.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] - before
    return {"made": made, "kept": total - made}


# -- access groups -------------------------------------------------------------------------------
def access_groups(conn: sqlite3.Connection, extra: set[str] | None = None) -> list[dict[str, str]]:
    """Groups to choose from, with their labels: the named ones and ``extra`` (those the
    gates' [gates.access] names), ``visitors`` left out (a visitor pass's, not a resident's)."""
    named = dict(conn.execute("SELECT name, label FROM access_groups").fetchall())
    for name in extra or set():
        named.setdefault(name, name)
    named.pop("visitors", None)
    return [{"name": name, "label": label} for name, label in sorted(named.items())]


def set_access_group(conn: sqlite3.Connection, name: str, label: str, at: datetime) -> None:
    """Name a group (or relabel it): ``name`` is the code gates and residents use."""
    name, label = (name or "").strip(), (label or "").strip()
    if not GROUP_NAME.match(name):
        raise AddressError("group_format", "group must be lower-case letters, digits or _")
    if not 1 <= len(label) <= 20 or not label.isprintable():
        raise AddressError("group_label", "label must be 1-20 characters")
    conn.execute(
        "INSERT INTO access_groups (name, label, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET label = excluded.label",
        (name, label, iso(at)),
    )


def remember_group(conn: sqlite3.Connection, name: str, at: datetime) -> None:
    """A group used by the command line or the district joins the list (labelled by name)."""
    conn.execute(
        "INSERT OR IGNORE INTO access_groups (name, label, created_at) VALUES (?, ?, ?)",
        (name, name, iso(at)),
    )


# -- the admin's rooms list ------------------------------------------------------------------------
def _rooms_where(
    conn: sqlite3.Connection, query: str, building_id: int | None, landlord: str
) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    flat = parse_flat(query) if query else None
    if flat is not None:
        found = find_flat(conn, query)
        where.append("r.id = ?")
        args.append(found.id if found else -1)
    elif query:
        where.append(
            "(r.number LIKE ? ESCAPE '\\' OR b.name || u.name || r.number LIKE ? ESCAPE '\\')"
        )
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        args += [pattern, pattern]
    if building_id is not None:
        where.append("b.id = ?")
        args.append(building_id)
    if landlord == "none":
        where.append("r.landlord_id IS NULL")
    elif landlord.isdigit():
        where.append("r.landlord_id = ?")
        args.append(int(landlord))
    return (" WHERE " + " AND ".join(where)) if where else "", args


def list_rooms(
    conn: sqlite3.Connection,
    query: str = "",
    building_id: int | None = None,
    landlord: str = "",
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page) of rooms with their landlord, sticker token state and how many
    residents and tenant registrations use them; ``query`` is an address ('3-1-402') or
    part of one; ``landlord`` a user id, 'none' or '' for any."""
    where, args = _rooms_where(conn, query, building_id, landlord)
    joins = (
        " FROM rooms r JOIN units u ON u.id = r.unit_id JOIN buildings b ON b.id = u.building_id"
        " LEFT JOIN users us ON us.id = r.landlord_id"
    )
    total = int(conn.execute("SELECT COUNT(*)" + joins + where, args).fetchone()[0])
    sql = (
        "SELECT r.id, b.name, u.name, r.number, r.landlord_id, us.username,"
        " (SELECT COUNT(*) FROM room_tokens t WHERE t.room_id = r.id AND t.retired_at IS NULL),"
        " (SELECT COUNT(*) FROM residents p JOIN households h ON h.id = p.household_id"
        "  WHERE h.room_id = r.id),"
        " (SELECT COUNT(*) FROM registrations g WHERE g.room_id = r.id)"
        + joins
        + where
        + " ORDER BY b.id, u.id, length(r.number), r.number LIMIT ? OFFSET ?"
    )
    keys = (
        "id",
        "building",
        "unit",
        "number",
        "landlord_id",
        "landlord",
        "has_token",
        "residents",
        "registrations",
    )
    rows = [dict(zip(keys, row, strict=True)) for row in conn.execute(sql, [*args, limit, offset])]
    return total, rows


def set_landlord(conn: sqlite3.Connection, room_ids: list[int], landlord_id: int | None) -> int:
    """Give rooms a landlord (None: none); AddressError for an account that is not a
    landlord's. Returns how many rooms changed."""
    if (
        landlord_id is not None
        and not conn.execute(
            "SELECT 1 FROM users WHERE id = ? AND role = 'landlord' AND active = 1", (landlord_id,)
        ).fetchone()
    ):
        raise AddressError("no_landlord", "there is no such landlord")
    changed = 0
    for room_id in room_ids:
        cursor = conn.execute(
            "UPDATE rooms SET landlord_id = ? WHERE id = ? AND landlord_id IS NOT ?",
            (landlord_id, room_id, landlord_id),
        )
        changed += cursor.rowcount
    return changed
