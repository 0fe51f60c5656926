"""``menwei data`` (workbook template, export, import, faces from a ZIP) and ``menwei rooms``
(generate a building's rooms, list, delete an unused one)."""

from __future__ import annotations

from pathlib import Path

import click
import sqlite_utils

from edge.cli.common import (
    cli_group,
    config_option,
    fail,
    read_config,
    say,
    shown,
    store_and_vault,
    tr,
)
from edge.config import MenweiConfig
from edge.db import connect, transaction, utc_now
from edge.web.console.data_messages import count_label, problem_text

KINDS = ("rooms", "residents", "vehicles")


# The workbook a command writes (template and export share it).
workbook_output = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The workbook to write (.xlsx).",
)


@cli_group()
def data() -> None:
    """Rooms, residents and vehicles in bulk: Excel templates, import, export, faces."""


def _choices(db: sqlite_utils.Database, config: MenweiConfig) -> dict[str, list[str]]:
    from edge.people.addresses import access_groups, tree
    from edge.people.workbook import VEHICLE_KIND_LABELS

    gate_groups = {g for gate in config.gates if gate.kind == "pedestrian" for g in gate.access}
    landlords = [r[0] for r in db.execute("SELECT username FROM users WHERE role = 'landlord'")]
    return {
        "building": [b["name"] for b in tree(db.conn)],
        "group": [g["label"] for g in access_groups(db.conn, gate_groups)],
        "kind": list(VEHICLE_KIND_LABELS.values()),
        "landlord": landlords,
    }


@data.command("template")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(KINDS),
    multiple=True,
    help="Sheets to include (default: all three).",
)
@workbook_output
@config_option
def template(kinds: tuple[str, ...], output: Path, config_path: Path) -> None:
    """Write a blank workbook: Chinese headers, an example row, drop-down lists."""
    from edge.people.workbook import build_workbook

    config = read_config(config_path)
    db = connect(config.storage.database_path)
    sheets: dict[str, list[list[object]]] = {kind: [] for kind in (kinds or KINDS)}
    output.write_bytes(build_workbook(sheets, _choices(db, config), with_sample=True))
    say("wrote a template with %(n)s sheet(s) to %(path)s", n=len(sheets), path=output)


@data.command("export")
@workbook_output
@config_option
def export(output: Path, config_path: Path) -> None:
    """Write every room, resident (names in full, phones masked) and vehicle (audited)."""
    from edge import audit
    from edge.people.bulk_import import export_rows
    from edge.people.workbook import build_workbook

    config, db, vault = store_and_vault(config_path)
    rows = export_rows(db, vault, config.site.zone)
    output.write_bytes(build_workbook(rows, _choices(db, config), with_sample=False))
    audit.record(db, "cli", "export", "workbook", **{k: len(v) for k, v in rows.items()})
    counts = {k: len(v) for k, v in rows.items()}
    say("%(rooms)s rooms, %(residents)s residents, %(vehicles)s vehicles written to %(path)s",
        rooms=counts.get("rooms", 0), residents=counts.get("residents", 0),
        vehicles=counts.get("vehicles", 0), path=output)  # fmt: skip


@data.command("import")
@click.argument("workbook", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--commit", is_flag=True, help="Apply it (default: a dry run that only reports).")
@config_option
def import_cmd(workbook: Path, commit: bool, config_path: Path) -> None:
    """Check a workbook and list every bad row; with --commit, import it all or nothing."""
    from edge.people.bulk_import import import_workbook
    from edge.people.workbook import MAX_UPLOAD_BYTES

    config, db, vault = store_and_vault(config_path)
    if workbook.stat().st_size > MAX_UPLOAD_BYTES:
        raise fail("larger than %(n)s MB", n=MAX_UPLOAD_BYTES >> 20)
    gate_groups = {g for gate in config.gates if gate.kind == "pedestrian" for g in gate.access}
    plan = import_workbook(
        db, vault, workbook.read_bytes(), config.site.zone, "cli", utc_now(), commit, gate_groups
    )
    for problem in plan.problems:
        say("%(sheet)s row %(row)s: %(why)s", sheet=problem.sheet, row=problem.row,
            why=problem_text(problem.code, problem.params, tr))  # fmt: skip
    for title in plan.samples_skipped:
        say("%(sheet)s row 2: the template's example row, skipped", sheet=title)
    counts = [f"{count_label(k, tr)} {v}" for k, v in plan.counts().items() if v]
    if counts:
        click.echo(tr(", ").join(counts))
    if plan.problems:
        raise fail("%(n)s bad row(s): nothing imported", n=len(plan.problems))
    if plan.committed:
        say("imported")
    elif not plan.changes:
        say("nothing to change")
    else:
        say("dry run: nothing written (add --commit to import)")


@data.command("faces")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--consent-by", required=True, help="Who attests the residents' consent.")
@click.option("--consent", is_flag=True, help="I attest each resident consented to face entry.")
@click.option("--commit", is_flag=True, help="Store accepted photos (default: only report).")
@config_option
def faces(archive: Path, consent_by: str, consent: bool, commit: bool, config_path: Path) -> None:
    """Enrol faces from a ZIP of photos named by resident number (12.jpg, 12_2.jpg)."""
    from edge.faces.configured import face_recogniser
    from edge.people.face_import import MAX_ZIP_BYTES, import_faces

    config, db, vault = store_and_vault(config_path)
    if archive.stat().st_size > MAX_ZIP_BYTES:
        raise fail("larger than %(n)s MB", n=MAX_ZIP_BYTES >> 20)
    report = import_faces(
        db,
        vault,
        face_recogniser(config.recognition.faces),
        archive.read_bytes(),
        consent_by,
        consent,
        "cli",
        utc_now(),
        commit,
    )
    for photo in report.photos:
        if photo.accepted:
            say("%(photo)s: ok", photo=photo.name)
        else:
            say("%(photo)s: refused: %(why)s", photo=photo.name,
                why=shown(photo.reason) if photo.reason else photo.code)  # fmt: skip
    say("%(ok)s accepted, %(refused)s refused, %(stored)s stored", ok=report.accepted,
        refused=len(report.photos) - report.accepted, stored=report.stored)  # fmt: skip


@data.command("group")
@click.argument("name")
@click.argument("label")
@config_option
def group(name: str, label: str, config_path: Path) -> None:
    """Name an access group: NAME is the code [gates.access] uses, LABEL what people read."""
    from edge import audit
    from edge.people.addresses import set_access_group

    db = connect(read_config(config_path).storage.database_path)
    now = utc_now()
    with transaction(db) as conn:
        set_access_group(conn, name, label, now)
        audit.append(conn, "cli", "access_group_set", f"group:{name.strip()}", {}, now)
    say("group %(name)s: %(label)s", name=name.strip(), label=label.strip())


@cli_group()
def rooms() -> None:
    """The community's rooms: generate a building at once, list, delete an unused one."""


@rooms.command("generate")
@click.argument("building")
@click.option("--units", required=True, help="Unit numbers, e.g. 1-3.")
@click.option("--floors", required=True, help="Floor numbers, e.g. 1-18.")
@click.option("--rooms", "per_floor", required=True, help="Room numbers on a floor, e.g. 1-4.")
@config_option
def generate(building: str, units: str, floors: str, per_floor: str, config_path: Path) -> None:
    """Make every room of BUILDING (e.g. 3幢): floor 12, room 3 is 1203."""
    from edge import audit
    from edge.people.addresses import generate_rooms, parse_range

    db = connect(read_config(config_path).storage.database_path)
    now = utc_now()
    with transaction(db) as conn:
        made = generate_rooms(
            conn,
            building,
            parse_range(units, 1, 99, "units"),
            parse_range(floors, 1, 200, "floors"),
            parse_range(per_floor, 1, 99, "rooms"),
            now,
        )
        if made["made"]:
            audit.append(conn, "cli", "rooms_generate", f"building:{building}", made, now)
    say("%(made)s rooms made, %(kept)s already there", made=made["made"], kept=made["kept"])


@rooms.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
def list_rooms(as_json: bool, config_path: Path) -> None:
    """Rooms by building and unit, with their household's label."""
    from edge.cli.common import print_rows
    from edge.people.addresses import tree

    db = connect(read_config(config_path).storage.database_path)
    rows = [
        {"id": room["id"], "building": b["name"], "unit": u["name"], "room": room["number"]}
        for b in tree(db.conn)
        for u in b["units"]
        for room in u["rooms"]
    ]
    print_rows(rows, as_json)


@rooms.command("delete")
@click.argument("room_id", type=int)
@config_option
def delete(room_id: int, config_path: Path) -> None:
    """Delete a room nobody uses (refused, with the reason, when one is in use)."""
    from edge import audit
    from edge.people.addresses import delete_room

    db = connect(read_config(config_path).storage.database_path)
    now = utc_now()
    with transaction(db) as conn:
        delete_room(conn, room_id)
        audit.append(conn, "cli", "room_delete", f"room:{room_id}", {}, now)
    say("room %(id)s deleted", id=room_id)
