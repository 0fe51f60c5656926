"""``menwei vehicle ...`` and ``menwei watchlist ...``: enrolled plates and watched plates."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from edge.cli.common import (
    Column,
    cli_group,
    config_option,
    fail,
    parse_time,
    print_table,
    read_config,
    say,
    words,
)
from edge.policy.vehicle import VehicleKind
from edge.vocabulary import N_, VEHICLE_KINDS, WATCH_SOURCES

VEHICLE_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: f"#{r['id']}"),
    (N_("Plate"), lambda r, w: r["plate"]),
    (N_("Kind"), lambda r, w: w.word(VEHICLE_KINDS, r["kind"])),
    (N_("Household"), lambda r, w: r["household"] or ""),
    (N_("Valid from"), lambda r, w: w.time(r["valid_from"])),
    (N_("Valid until"), lambda r, w: w.time(r["valid_to"])),
    (N_("Remarks"), lambda r, w: r["note"] or ""),
]
WATCH_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: f"#{r['id']}"),
    (N_("Plate"), lambda r, w: r["plate"]),
    (N_("Reason"), lambda r, w: r["reason"] or ""),
    (N_("Source"), lambda r, w: w.word(WATCH_SOURCES, r["source"])),
    (N_("Added"), lambda r, w: w.time(r["created_at"])),
    (N_("Lapses"), lambda r, w: w.time(r["expires_at"])),
]


@cli_group()
def vehicle() -> None:
    """Enrol, remove and list vehicles."""


@vehicle.command("add")
@click.argument("plate")
@click.option(
    "--kind",
    type=click.Choice(["resident", "visitor", "temporary"]),
    default="resident",
    help="Resident, visitor or temporary vehicle.",
)
@click.option("--household", help="Household label, e.g. 3-1-402.")
@click.option("--valid-from", help="Start of validity (site time unless a zone is given).")
@click.option(
    "--valid-to",
    help="End of validity; required for visitor/temporary. A date alone means the end of that day.",
)
@click.option("--note", default="", help="A note for the guards (no names or phones).")
@config_option
def vehicle_add(
    plate: str,
    kind: str,
    household: str | None,
    valid_from: str | None,
    valid_to: str | None,
    note: str,
    config_path: Path,
) -> None:
    """Enrol PLATE."""
    from edge.people.vehicles import VehicleInput, add_vehicle
    from edge.store.open import open_store

    config = read_config(config_path)
    db = open_store(config)
    vehicle_id = add_vehicle(
        db,
        VehicleInput(
            plate,
            cast(VehicleKind, kind),
            household,
            parse_time(valid_from, config),
            parse_time(valid_to, config, end_of_day=True),
            note,
        ),
    )
    say("enrolled vehicle #%(id)s", id=vehicle_id)


@vehicle.command("remove")
@click.argument("plate")
@click.option(
    "--kind",
    type=click.Choice(["resident", "visitor", "temporary"]),
    help="Only this kind of enrolment (default: every kind).",
)
@config_option
def vehicle_remove(plate: str, kind: str | None, config_path: Path) -> None:
    """Remove PLATE's enrolments."""
    from edge.people.vehicles import remove_vehicle
    from edge.store.open import open_store

    removed = remove_vehicle(
        open_store(read_config(config_path)), plate, cast("VehicleKind | None", kind)
    )
    if not removed:
        raise fail("no enrolment for %(plate)s", plate=plate)
    say("removed %(n)s enrolment(s)", n=removed)


@vehicle.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def vehicle_list(as_json: bool, config_path: Path) -> None:
    """List enrolled vehicles."""
    from edge.people.vehicles import list_vehicles
    from edge.store.open import open_reader

    config = read_config(config_path)
    print_table(list_vehicles(open_reader(config)), VEHICLE_COLUMNS, words(config), as_json)


@cli_group()
def watchlist() -> None:
    """Plates that raise an alert whenever they are seen."""


@watchlist.command("add")
@click.argument("plate")
@click.option("--reason", default="", help="Why the plate is watched (shown with the alert).")
@click.option(
    "--expires",
    help="When the entry lapses (site time unless a zone is given; a date alone: its end).",
)
@config_option
def watchlist_add(plate: str, reason: str, expires: str | None, config_path: Path) -> None:
    """Put PLATE on the watchlist."""
    from edge.people.vehicles import add_watch
    from edge.store.open import open_store

    config = read_config(config_path)
    watch_id = add_watch(
        open_store(config), plate, reason, "local", parse_time(expires, config, end_of_day=True)
    )
    say("watchlist entry #%(id)s added", id=watch_id)


@watchlist.command("remove")
@click.argument("plate")
@config_option
def watchlist_remove(plate: str, config_path: Path) -> None:
    """Take PLATE off the watchlist."""
    from edge.people.vehicles import remove_watch
    from edge.store.open import open_store

    if not remove_watch(open_store(read_config(config_path)), plate):
        raise fail("%(plate)s is not on the watchlist", plate=plate)
    say("removed")


@watchlist.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def watchlist_list(as_json: bool, config_path: Path) -> None:
    """List watchlist plates."""
    from edge.people.vehicles import list_watch
    from edge.store.open import open_reader

    config = read_config(config_path)
    print_table(list_watch(open_reader(config)), WATCH_COLUMNS, words(config), as_json)
