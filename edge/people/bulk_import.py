"""Bulk import of rooms, residents and vehicles from a workbook: a dry run that lists every
bad row with its row number and reason, then all-or-nothing in one transaction with one
audit row. The same file imported twice changes nothing the second time.

Why it is written this way:
- The plan is made *inside* the transaction that applies it (``import_workbook``): what
  the preview said is re-checked against the database as it is at commit, so two admins
  importing at once cannot both add the same row.
- A row is matched to what exists before anything is added: a room by its address, a
  resident by number (an exported workbook) or by room and name, a vehicle by plate.
  Matching rows that differ are updates; equal ones are "unchanged" — that is what makes a
  re-import (and an export imported back) a no-op.
- Names and phones are personal data: stored encrypted, compared after decryption in
  memory, never in an error message (problems name the row and the column, not the value).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from edge import audit
from edge.address_labels import ROOM_NUMBER, FlatAddress, parse_flat, part_number
from edge.db import iso, parse_iso, transaction
from edge.people.addresses import access_groups, household_for_room, room_for_flat
from edge.people.residents import NAME_PURPOSE
from edge.people.workbook import SHEETS, VEHICLE_KIND_LABELS, SheetRows, read_workbook
from edge.pii import PiiVault
from edge.plates.grammar import PlateFormatError, normalise_plate

PHONE_PURPOSE = "resident.phone"
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_KINDS = {label: kind for kind, label in VEHICLE_KIND_LABELS.items()}
_KINDS.update({kind: kind for kind in VEHICLE_KIND_LABELS})


@dataclass(frozen=True)
class Problem:
    sheet: str  # the sheet's title ('住户')
    row: int  # the row number the spreadsheet shows
    code: str  # 'unknown_room', 'bad_plate', ...
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    """What a workbook would change; ``problems`` empty means it can be committed."""

    sha256: str
    problems: list[Problem] = field(default_factory=list)
    rooms_new: list[tuple[FlatAddress, int | None]] = field(default_factory=list)
    rooms_landlord: list[tuple[int, int | None]] = field(default_factory=list)
    residents_new: list[dict[str, Any]] = field(default_factory=list)
    residents_update: list[dict[str, Any]] = field(default_factory=list)
    vehicles_new: list[dict[str, Any]] = field(default_factory=list)
    vehicles_update: list[dict[str, Any]] = field(default_factory=list)
    unchanged: Counter = field(default_factory=Counter)
    samples_skipped: list[str] = field(default_factory=list)  # sheets whose row 2 was the example
    committed: bool = False
    transaction_ms: float = 0.0  # how long the write lock was held (others' writes waited)

    def counts(self) -> dict[str, int]:
        return {
            "rooms_added": len(self.rooms_new),
            "rooms_changed": len(self.rooms_landlord),
            "residents_added": len(self.residents_new),
            "residents_changed": len(self.residents_update),
            "vehicles_added": len(self.vehicles_new),
            "vehicles_changed": len(self.vehicles_update),
            **{f"{kind}_unchanged": n for kind, n in sorted(self.unchanged.items())},
        }

    @property
    def changes(self) -> int:
        return sum(
            len(x)
            for x in (
                self.rooms_new,
                self.rooms_landlord,
                self.residents_new,
                self.residents_update,
                self.vehicles_new,
                self.vehicles_update,
            )
        )


@dataclass
class _Context:
    conn: sqlite3.Connection
    vault: PiiVault
    zone: ZoneInfo
    rooms: dict[FlatAddress, int]  # existing rooms by address
    planned_rooms: set[FlatAddress]
    groups: dict[str, str]  # code or label → code
    landlords: dict[str, int]


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def _room_index(conn: sqlite3.Connection) -> dict[FlatAddress, int]:
    rooms: dict[FlatAddress, int] = {}
    sql = (
        "SELECT r.id, b.name, u.name, r.number FROM rooms r JOIN units u ON u.id = r.unit_id"
        " JOIN buildings b ON b.id = u.building_id"
    )
    for room_id, building, unit, number in conn.execute(sql):
        flat = parse_flat(f"{building}{unit}{number}")
        if flat is not None:
            rooms.setdefault(flat, room_id)
    return rooms


def _flat(values: dict[str, str]) -> FlatAddress | None:
    building = part_number(values.get("building", ""), "building")
    unit = part_number(values.get("unit", ""), "unit")
    room = values.get("room", "").strip().upper().removesuffix("室")
    if not building or not unit or not ROOM_NUMBER.match(room):
        return None
    if not 1 <= building <= 999 or not 1 <= unit <= 99:
        return None
    return FlatAddress(building, unit, room)


def plan_import(
    conn: sqlite3.Connection,
    vault: PiiVault,
    data: bytes,
    zone: ZoneInfo,
    gate_groups: set[str] | None = None,
    sheets: list[SheetRows] | None = None,
) -> ImportPlan:
    """Compare the workbook (``sheets``, read from ``data`` when not given) with the
    database; changes nothing. WorkbookError (or ArchiveError) when the file as a whole
    is refused."""
    if sheets is None:
        sheets = read_workbook(data)
    plan = ImportPlan(hashlib.sha256(data).hexdigest())
    groups: dict[str, str] = {}
    for group in access_groups(conn, gate_groups):
        groups[group["name"]] = group["name"]
        groups[group["label"]] = group["name"]
    landlords = dict(conn.execute("SELECT username, id FROM users WHERE role = 'landlord'"))
    ctx = _Context(conn, vault, zone, _room_index(conn), set(), groups, landlords)
    by_kind = {sheet.sheet.kind: sheet for sheet in sheets}
    for sheet in sheets:
        if sheet.sample_skipped:
            plan.samples_skipped.append(sheet.sheet.title)
        for row, code, params in sheet.problems:
            plan.problems.append(Problem(sheet.sheet.title, row, code, params))
    if "rooms" in by_kind:
        _plan_rooms(ctx, plan, by_kind["rooms"])
    if "residents" in by_kind:
        _plan_residents(ctx, plan, by_kind["residents"])
    if "vehicles" in by_kind:
        _plan_vehicles(ctx, plan, by_kind["vehicles"])
    plan.problems.sort(key=lambda p: (list(SHEETS).index(_kind(p.sheet)), p.row))
    return plan


def _kind(title: str) -> str:
    return next(kind for kind, sheet in SHEETS.items() if sheet.title == title)


def _plan_rooms(ctx: _Context, plan: ImportPlan, sheet: SheetRows) -> None:
    seen: dict[FlatAddress, int] = {}
    title = sheet.sheet.title
    for row, values in sheet.rows:
        flat = _flat(values)
        if flat is None:
            plan.problems.append(Problem(title, row, "bad_address"))
            continue
        if flat in seen:
            plan.problems.append(Problem(title, row, "duplicate_row", {"first": seen[flat]}))
            continue
        seen[flat] = row
        landlord_name = values.get("landlord", "")
        landlord = ctx.landlords.get(landlord_name) if landlord_name else None
        if landlord_name and landlord is None:
            plan.problems.append(Problem(title, row, "unknown_landlord"))
            continue
        room_id = ctx.rooms.get(flat)
        if room_id is None:
            plan.rooms_new.append((flat, landlord))
            ctx.planned_rooms.add(flat)
            continue
        current = ctx.conn.execute("SELECT landlord_id FROM rooms WHERE id = ?", (room_id,))
        if landlord_name and current.fetchone()[0] != landlord:
            plan.rooms_landlord.append((room_id, landlord))
        else:
            plan.unchanged["rooms"] += 1


def _place(ctx: _Context, plan: ImportPlan, title: str, row: int, values: dict) -> Any:
    """The row's flat if it is a known room (or one this workbook adds); else a problem."""
    flat = _flat(values)
    if flat is None:
        plan.problems.append(Problem(title, row, "bad_address"))
        return None
    if flat not in ctx.rooms and flat not in ctx.planned_rooms:
        plan.problems.append(Problem(title, row, "unknown_room", {"room": flat.label}))
        return None
    return flat


def _existing_residents(ctx: _Context) -> tuple[dict, dict]:
    """Residents by id and by (room, name): names decrypted in memory only."""
    by_id: dict[int, dict[str, Any]] = {}
    by_place: dict[tuple[int | None, str], dict[str, Any]] = {}
    sql = (
        "SELECT r.id, h.room_id, r.name, r.name_enc, r.phone_enc, r.phone_mask, r.access_group"
        " FROM residents r LEFT JOIN households h ON h.id = r.household_id"
        " WHERE r.kind = 'resident'"
    )
    for rid, room_id, plain, sealed, phone_enc, phone_mask, group in ctx.conn.execute(sql):
        name = ctx.vault.decrypt_text(sealed, NAME_PURPOSE) if sealed else plain
        record = {
            "id": rid,
            "room_id": room_id,
            "name": name,
            "phone_enc": phone_enc,
            "phone_mask": phone_mask,
            "group": group,
        }
        by_id[rid] = record
        by_place.setdefault((room_id, name), record)
    return by_id, by_place


def _plan_residents(ctx: _Context, plan: ImportPlan, sheet: SheetRows) -> None:
    title = sheet.sheet.title
    by_id, by_place = _existing_residents(ctx)
    seen: dict[tuple, int] = {}
    for row, values in sheet.rows:
        flat = _place(ctx, plan, title, row, values)
        if flat is None:
            continue
        name = values.get("name", "").strip()
        if not 1 <= len(name) <= 60 or not name.isprintable():
            plan.problems.append(Problem(title, row, "bad_name"))
            continue
        phone = re.sub(r"[\s-]", "", values.get("phone", ""))
        if phone and not _PHONE.match(phone) and not re.fullmatch(r"1\d\d\*{4}\d{4}", phone):
            plan.problems.append(Problem(title, row, "bad_phone"))
            continue
        found_phone = _PHONE.match(phone)
        phone = found_phone.group(1) if found_phone else phone
        group = ctx.groups.get(values.get("group", "").strip())
        if group is None:
            plan.problems.append(Problem(title, row, "unknown_group"))
            continue
        key = (flat, name)
        if key in seen:
            plan.problems.append(Problem(title, row, "duplicate_row", {"first": seen[key]}))
            continue
        seen[key] = row
        number = values.get("number", "").strip()
        room_id = ctx.rooms.get(flat)
        if number:
            if not number.isdigit() or int(number) not in by_id:
                plan.problems.append(Problem(title, row, "unknown_resident"))
                continue
            existing = by_id[int(number)]
        else:
            existing = by_place.get((room_id, name)) if room_id else None
        wanted = {"flat": flat, "name": name, "phone": phone, "group": group, "row": row}
        if existing is None:
            plan.residents_new.append(wanted)
        elif _resident_differs(ctx, existing, wanted, room_id):
            plan.residents_update.append({**wanted, "id": existing["id"]})
        else:
            plan.unchanged["residents"] += 1


def _resident_differs(ctx: _Context, existing: dict, wanted: dict, room_id: int | None) -> bool:
    if existing["room_id"] != room_id or existing["name"] != wanted["name"]:
        return True
    if existing["group"] != wanted["group"]:
        return True
    phone = wanted["phone"]
    if not phone:
        return existing["phone_enc"] is not None
    if "*" in phone:
        return phone != existing["phone_mask"]
    stored = existing["phone_enc"]
    return stored is None or ctx.vault.decrypt_text(stored, PHONE_PURPOSE) != phone


def _day(text: str, zone: ZoneInfo, end: bool) -> datetime | None:
    """'2026-05-01' (or 2026/5/1) → the start of that local day (of the next day for an
    end of validity, so the last day counts whole)."""
    parts = re.split(r"[-/.]", text.strip())
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    day = date(int(parts[0]), int(parts[1]), int(parts[2]))
    return datetime.combine(day + timedelta(days=1 if end else 0), time(), zone)


def local_day(moment: str | None, zone: ZoneInfo, end: bool) -> str:
    """The export's text for a stored validity bound (inverse of ``_day``)."""
    parsed = parse_iso(moment)
    if parsed is None:
        return ""
    local = parsed.astimezone(zone)
    if end:
        local -= timedelta(microseconds=1)
    return local.date().isoformat()


def _plan_vehicles(ctx: _Context, plan: ImportPlan, sheet: SheetRows) -> None:
    title = sheet.sheet.title
    existing = {
        row[0]: row
        for row in ctx.conn.execute(
            "SELECT v.plate, v.id, v.kind, h.room_id, v.valid_from, v.valid_to FROM vehicles v"
            " LEFT JOIN households h ON h.id = v.household_id WHERE v.source = 'local'"
            " ORDER BY v.id"
        )
    }
    seen: dict[str, int] = {}
    for row, values in sheet.rows:
        try:
            plate = normalise_plate(values.get("plate", ""))
        except PlateFormatError:
            plan.problems.append(Problem(title, row, "bad_plate"))
            continue
        flat = _place(ctx, plan, title, row, values)
        if flat is None:
            continue
        kind = _KINDS.get(values.get("kind", "").strip())
        if kind is None:
            plan.problems.append(Problem(title, row, "bad_kind"))
            continue
        try:
            start = (
                _day(values["valid_from"], ctx.zone, False) if values.get("valid_from") else None
            )
            end = _day(values["valid_to"], ctx.zone, True) if values.get("valid_to") else None
        except ValueError:
            plan.problems.append(Problem(title, row, "bad_date"))
            continue
        if (start and end and start >= end) or (kind != "resident" and end is None):
            plan.problems.append(Problem(title, row, "bad_date"))
            continue
        if plate in seen:
            plan.problems.append(Problem(title, row, "duplicate_row", {"first": seen[plate]}))
            continue
        seen[plate] = row
        wanted = {
            "plate": plate,
            "flat": flat,
            "kind": kind,
            "valid_from": start,
            "valid_to": end,
            "row": row,
        }
        room_id = ctx.rooms.get(flat)
        found = existing.get(plate)
        if found is None:
            plan.vehicles_new.append(wanted)
            continue
        _plate, vehicle_id, old_kind, old_room, old_from, old_to = found
        if old_room is not None and old_room != room_id:
            plan.problems.append(Problem(title, row, "plate_elsewhere"))
            continue
        stored = (
            old_kind,
            old_room,
            local_day(old_from, ctx.zone, False),
            local_day(old_to, ctx.zone, True),
        )
        given = (kind, room_id, _day_text(start, 0), _day_text(end, 1))
        if stored == given:
            plan.unchanged["vehicles"] += 1
        else:
            plan.vehicles_update.append({**wanted, "id": vehicle_id})


def _day_text(moment: datetime | None, back: int) -> str:
    return (moment - timedelta(days=back)).date().isoformat() if moment else ""


def apply_plan(conn: sqlite3.Connection, vault: PiiVault, plan: ImportPlan, at: datetime) -> None:
    """Write a problem-free plan inside the caller's transaction."""
    assert not plan.problems
    parts: dict = {}
    rooms: dict[FlatAddress, int] = {}

    def room_of(flat: FlatAddress) -> int:
        if flat not in rooms:
            rooms[flat] = room_for_flat(conn, flat, at, parts)
        return rooms[flat]

    for flat, landlord in plan.rooms_new:
        room_id = room_of(flat)
        if landlord is not None:
            conn.execute("UPDATE rooms SET landlord_id = ? WHERE id = ?", (landlord, room_id))
    for room_id, landlord in plan.rooms_landlord:
        conn.execute("UPDATE rooms SET landlord_id = ? WHERE id = ?", (landlord, room_id))
    homes: dict[FlatAddress, int] = {}

    def home(flat: FlatAddress) -> int:
        if flat not in homes:
            homes[flat] = household_for_room(conn, room_of(flat), at)
        return homes[flat]

    for person in plan.residents_new:
        phone_enc, phone_mask = _phone_fields(vault, person["phone"])
        conn.execute(
            "INSERT INTO residents (household_id, name, name_enc, access_group, phone_enc,"
            " phone_mask, created_at) VALUES (?, '', ?, ?, ?, ?, ?)",
            (
                home(person["flat"]),
                vault.encrypt_text(person["name"], NAME_PURPOSE),
                person["group"],
                phone_enc,
                phone_mask,
                iso(at),
            ),
        )
    for person in plan.residents_update:
        conn.execute(
            "UPDATE residents SET household_id = ?, name = '', name_enc = ?, access_group = ?"
            " WHERE id = ?",
            (
                home(person["flat"]),
                vault.encrypt_text(person["name"], NAME_PURPOSE),
                person["group"],
                person["id"],
            ),
        )
        if "*" not in person["phone"]:
            phone_enc, phone_mask = _phone_fields(vault, person["phone"])
            conn.execute(
                "UPDATE residents SET phone_enc = ?, phone_mask = ? WHERE id = ?",
                (phone_enc, phone_mask, person["id"]),
            )
    for car in plan.vehicles_new:
        conn.execute(
            "INSERT INTO vehicles (plate, kind, household_id, valid_from, valid_to, note,"
            " created_at, issued_by) VALUES (?, ?, ?, ?, ?, '', ?, 'import')",
            (
                car["plate"],
                car["kind"],
                home(car["flat"]),
                _iso(car["valid_from"]),
                _iso(car["valid_to"]),
                iso(at),
            ),
        )
    for car in plan.vehicles_update:
        conn.execute(
            "UPDATE vehicles SET kind = ?, household_id = ?, valid_from = ?, valid_to = ?"
            " WHERE id = ?",
            (
                car["kind"],
                home(car["flat"]),
                _iso(car["valid_from"]),
                _iso(car["valid_to"]),
                car["id"],
            ),
        )


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _phone_fields(vault: PiiVault, phone: str) -> tuple[bytes | None, str | None]:
    if not phone:
        return None, None
    return vault.encrypt_text(phone, PHONE_PURPOSE), mask_phone(phone)


def import_workbook(
    db: sqlite_utils.Database,
    vault: PiiVault,
    data: bytes,
    zone: ZoneInfo,
    actor: str,
    at: datetime,
    commit: bool,
    gate_groups: set[str] | None = None,
) -> ImportPlan:
    """Plan (and with ``commit``, apply) in one transaction: everything or nothing, with one
    audit row for a commit that changed something; a plan with problems changes nothing.
    The workbook is parsed before the transaction begins: the gates' event writes wait
    only for the comparison and the writes, never for openpyxl."""
    sheets = read_workbook(data)  # the slow part, before the write lock is taken
    started = perf_counter()
    with transaction(db) as conn:
        plan = plan_import(conn, vault, data, zone, gate_groups, sheets)
        if commit and not plan.problems and plan.changes:
            apply_plan(conn, vault, plan, at)
            details = {"sha256": plan.sha256, **plan.counts()}
            audit.append(conn, actor, "bulk_import", f"workbook:{plan.sha256[:16]}", details, at)
            plan.committed = True
    plan.transaction_ms = (perf_counter() - started) * 1000
    return plan


# -- export ----------------------------------------------------------------------------------
def export_rows(
    db: sqlite_utils.Database, vault: PiiVault, zone: ZoneInfo
) -> dict[str, list[list[Any]]]:
    """Every room, resident and local vehicle in the sheets' column order."""
    conn = db.conn
    rooms, residents, vehicles = [], [], []
    place_sql = " JOIN units u ON u.id = r.unit_id JOIN buildings b ON b.id = u.building_id"
    for building, unit, number, landlord in conn.execute(
        "SELECT b.name, u.name, r.number, us.username FROM rooms r"
        + place_sql
        + " LEFT JOIN users us ON us.id = r.landlord_id ORDER BY b.id, u.id, r.id"
    ):
        rooms.append([building, unit, number, landlord or ""])
    group_labels = {g["name"]: g["label"] for g in access_groups(conn)}
    for rid, building, unit, number, plain, sealed, mask, group in conn.execute(
        "SELECT p.id, b.name, u.name, r.number, p.name, p.name_enc, p.phone_mask,"
        " p.access_group FROM residents p JOIN households h ON h.id = p.household_id"
        " JOIN rooms r ON r.id = h.room_id" + place_sql + " WHERE p.kind = 'resident'"
        " ORDER BY p.id"
    ):
        name = vault.decrypt_text(sealed, NAME_PURPOSE) if sealed else plain
        residents.append(
            [rid, building, unit, number, name, mask or "", group_labels.get(group, group)]
        )
    for plate, building, unit, number, kind, start, end in conn.execute(
        "SELECT v.plate, b.name, u.name, r.number, v.kind, v.valid_from, v.valid_to"
        " FROM vehicles v JOIN households h ON h.id = v.household_id"
        " JOIN rooms r ON r.id = h.room_id" + place_sql + " WHERE v.source = 'local'"
        " ORDER BY v.id"
    ):
        vehicles.append(
            [
                plate,
                building,
                unit,
                number,
                VEHICLE_KIND_LABELS[kind],
                local_day(start, zone, False),
                local_day(end, zone, True),
            ]
        )
    return {"rooms": rooms, "residents": residents, "vehicles": vehicles}
