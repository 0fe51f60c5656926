"""``menwei room add`` and ``menwei stickers``: rented rooms and their QR door stickers."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.common import config_option, read_config
from edge.db import connect, transaction, utc_now


@click.group()
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

    db = connect(read_config(config_path).storage.database_path)
    row = db.execute(
        "SELECT id FROM users WHERE username = ? AND role = 'landlord'", [landlord]
    ).fetchone()
    if row is None:
        raise click.ClickException(f"no landlord account {landlord!r}")
    with transaction(db) as conn:
        made = add_room(conn, property_name, building, unit, number, row[0], utc_now())
        audit_log.append(conn, "cli", "add_room", f"room:{made.id}")
    click.echo(f"room {made.id}: {made.label}")


@click.command()
@click.option("--landlord", default=None, help="Only this landlord's rooms.")
@click.option("--building-id", type=int, default=None, help="Only this building's rooms.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
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
            raise click.ClickException(f"no account {landlord!r}")
        landlord_id = row[0]
    rooms = list_rooms(db.conn, landlord_id=landlord_id, building_id=building_id)
    if not rooms:
        raise click.ClickException("no rooms match")
    pdf = sticker_sheet_pdf(rooms, config.registry.base_url, controller=config.registry.controller)
    output.write_bytes(pdf)
    click.echo(f"wrote {len(rooms)} stickers to {output}")
