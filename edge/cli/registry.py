"""``menwei room add|list|remove`` and ``menwei stickers``: rented rooms and their QR door
stickers."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.common import (
    Column,
    cli_command,
    cli_group,
    config_option,
    fail,
    print_table,
    read_config,
    say,
    words,
)
from edge.db import connect, transaction, utc_now
from edge.vocabulary import N_


@cli_group()
def room() -> None:
    """Rented rooms and their QR tokens."""


@room.command("add")
@click.argument("property_name")
@click.argument("building")
@click.argument("unit")
@click.argument("number")
@click.option("--landlord", required=True, help="Username of the landlord account.")
@config_option
def room_add(
    property_name: str, building: str, unit: str, number: str, landlord: str, config_path: Path
) -> None:
    """Add a room (and its property/building/unit when new) with a fresh QR token."""
    from edge import audit as audit_log
    from qr_registry.rooms import add_room
    from qr_registry.stickers import room_url  # reportlab, PIL: only when used

    config = read_config(config_path)
    db = connect(config.storage.database_path)
    landlord_id = _landlord_id(db, landlord)
    with transaction(db) as conn:
        made = add_room(conn, property_name, building, unit, number, landlord_id, utc_now())
        audit_log.append(conn, "cli", "add_room", f"room:{made.id}")
    say("room %(id)s: %(label)s", id=made.id, label=made.label)
    say("sticker URL: %(url)s", url=room_url(config.registry.base_url, made.token or ""))
    say("print its sticker: menwei stickers --landlord %(landlord)s -o stickers.pdf",
        landlord=landlord)  # fmt: skip


ROOM_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: str(r["id"])),
    (N_("Room"), lambda r, w: r["label"]),
    (N_("Landlord"), lambda r, w: r["landlord"]),
    (N_("Registrations"), lambda r, w: str(r["registrations"])),
    (N_("Sticker URL"), lambda r, w: r["url"]),
]


@room.command("list")
@click.option("--landlord", default=None, help="Only this landlord's rooms.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def room_list(landlord: str | None, as_json: bool, config_path: Path) -> None:
    """List rooms with their landlord, registrations and sticker URL."""
    from edge.store.open import open_reader  # OpenCV (snapshots): only when used
    from qr_registry.rooms import list_rooms
    from qr_registry.stickers import room_url  # reportlab, PIL: only when used

    config = read_config(config_path)
    db = open_reader(config)
    landlord_id = _landlord_id(db, landlord) if landlord else None
    names = dict(db.execute("SELECT id, username FROM users").fetchall())
    counts = dict(
        db.execute("SELECT room_id, COUNT(*) FROM registrations GROUP BY room_id").fetchall()
    )
    rows = [
        {"id": r.id, "label": r.label, "landlord": names.get(r.landlord_id, ""),
         "registrations": counts.get(r.id, 0),
         "url": room_url(config.registry.base_url, r.token) if r.token else ""}
        for r in list_rooms(db.conn, landlord_id=landlord_id)
    ]  # fmt: skip
    print_table(rows, ROOM_COLUMNS, words(config), as_json)


@room.command("remove")
@click.argument("room_id", type=int)
@config_option
def room_remove(room_id: int, config_path: Path) -> None:
    """Remove a room that never had a registration (its sticker stops working)."""
    from edge import audit as audit_log
    from qr_registry.rooms import remove_room

    db = connect(read_config(config_path).storage.database_path)
    with transaction(db) as conn:
        removed = remove_room(conn, room_id)
        if removed:
            audit_log.append(conn, "cli", "remove_room", f"room:{room_id}")
    if not removed:
        raise fail("there is no room %(id)s", id=room_id)
    say("room %(id)s removed; its sticker no longer opens the form", id=room_id)


def _landlord_id(db, username: str) -> int:
    row = db.execute(
        "SELECT id FROM users WHERE username = ? AND role = 'landlord'", [username]
    ).fetchone()
    if row is None:
        raise fail("no landlord account %(user)r", user=username)
    return int(row[0])


@cli_command()
@click.option("--landlord", default=None, help="Only this landlord's rooms.")
@click.option("--building-id", type=int, default=None, help="Only this building's rooms.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The PDF to write.",
)
@config_option
def stickers(
    landlord: str | None, building_id: int | None, output: Path, config_path: Path
) -> None:
    """Write an A4 PDF of QR door stickers."""
    from qr_registry.rooms import list_rooms
    from qr_registry.stickers import sticker_sheet_pdf

    config = read_config(config_path)
    db = connect(config.storage.database_path)
    landlord_id = None
    if landlord:
        row = db.execute("SELECT id FROM users WHERE username = ?", [landlord]).fetchone()
        if row is None:
            raise fail("no account %(user)r", user=landlord)
        landlord_id = row[0]
    rooms = list_rooms(db.conn, landlord_id=landlord_id, building_id=building_id)
    if not rooms:
        raise fail("no rooms match")
    pdf = sticker_sheet_pdf(rooms, config.registry.base_url, controller=config.registry.controller)
    output.write_bytes(pdf)
    say("wrote %(n)s stickers to %(path)s", n=len(rooms), path=output)
