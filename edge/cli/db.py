"""The database's health: ``db check`` (integrity, read-only) and ``db recover`` (salvage a
damaged database into a new file beside it; the damaged file is kept, never changed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edge.cli.common import cli_group, config_option, read_config, say, shown, tr, words
from edge.vocabulary import N_, Vocabulary

if TYPE_CHECKING:  # the store's modules load only when the command runs (start-up speed)
    from edge.store.people_refill import Refill


@cli_group("db")
def db_group() -> None:
    """Check a database, or salvage a damaged one."""


@db_group.command("check")
@click.option("--quick", is_flag=True, help="PRAGMA quick_check instead of the full check.")
@click.option("--file", "file_", type=click.Path(path_type=Path), help="Another database file.")
@config_option
def check_cmd(quick: bool, file_: Path | None, config_path: Path) -> None:
    """Check the database file (read-only): exit 0 when sound, 1 naming each problem."""
    from edge.store.integrity import check_file

    path = file_ or read_config(config_path).storage.database_path
    result = check_file(path, quick=quick)
    if result.ok:
        click.echo(tr("%(path)s: sound (%(check)s, %(seconds)s s)")
                   % {"path": path, "check": "quick_check" if quick else "integrity_check",
                      "seconds": f"{result.seconds:.2f}"})  # fmt: skip
        return
    for problem in result.problems:
        click.echo(f"{path}: {shown(problem)}", err=True)
    raise click.ClickException(
        tr("%(path)s is damaged: stop the menwei services, then `menwei db recover`")
        % {"path": path}
    )


@db_group.command("recover")
@click.option("--file", "file_", type=click.Path(path_type=Path), help="Another database file.")
@config_option
def recover_cmd(file_: Path | None, config_path: Path) -> None:
    """Salvage what a damaged database still holds into a new file beside it; the damaged
    file is copied aside and kept. People rows on lost pages of the configured database
    are put back from its gates' sealed copies (edge.store.people_refill). Run with the
    services stopped; the new file replaces the old one only when you move it into place."""
    from edge.pii import PiiKeyError, PiiVault
    from edge.store.integrity import recover
    from edge.store.open import pii_vault
    from edge.store.people_refill import copy_files, refill_people

    config = read_config(config_path)
    path = file_ or config.storage.database_path
    result = recover(path)
    try:
        vault: PiiVault | None = pii_vault(config)
    except PiiKeyError:
        vault = None  # the copies cannot be opened: the report says so
    own = path.resolve() == config.storage.database_path.resolve()
    copies = copy_files(config.storage.spool_path) if own else []  # another file: not its gates'
    refill = refill_people(result.recovered, result.gaps, copies, vault)
    if refill.check is not None:
        result = replace(result, check=refill.check)
    say("damaged database kept as %(path)s", path=result.damaged_copy)
    if result.check.ok:
        say("salvaged into %(path)s (integrity ok)", path=result.recovered)
    else:
        problems = "; ".join(shown(p) for p in result.check.problems[:3])
        say("salvaged into %(path)s (NOT ok: %(problems)s)", path=result.recovered,
            problems=problems)  # fmt: skip
    for table in ("residents", "vehicles", "registrations", "events", "outbox"):
        if table in result.counts:
            say("  %(table)s: %(n)s rows", table=tr(TABLE_NAMES[table]), n=result.counts[table])
    for name, problem in result.lost.items():
        click.echo(f"  {name}: {shown(problem)}")
    report_refill(refill, list(result.gaps), words(config))
    say("to use it: stop the menwei services, then\n"
        "  mv %(new)s %(path)s && rm -f %(path)s-wal %(path)s-shm\n"
        "then `menwei db check` and start the services (migrations run on start)",
        new=result.recovered, path=path)  # fmt: skip


TABLE_NAMES = {
    "residents": N_("residents"),
    "vehicles": N_("vehicles"),
    "registrations": N_("registrations"),
    "events": N_("events"),
    "outbox": N_("district outbox"),
}


LIST_NAMES = {
    "households": N_("households list"),
    "residents": N_("residents list"),
    "face_templates": N_("face templates list"),
    "vehicles": N_("vehicles list"),
    "qr_passes": N_("QR passes list"),
    "watchlist": N_("watched plates list"),
    "watch_faces": N_("watched faces list"),
}
#: what a refilled row of each list lacks (the copy holds only what a gate decides from)
NOT_IN_COPY = {
    "households": N_("its note"),
    "residents": N_("name and phone: enter them again in the console (People)"),
    "face_templates": N_("the photo's quality score"),
    "vehicles": N_("its note, its owner and who issued it"),
    "qr_passes": N_("who issued it"),
}


def report_refill(refill: Refill, damaged: list[str], said: Vocabulary) -> None:
    """The refill from the gates' copy, in the locale's language: what came back, what it
    lacks, what could not come back."""
    named = {t: tr(LIST_NAMES[t]) for t in LIST_NAMES}
    lists = ", ".join(named[t] for t in refill.damaged_lists)
    if refill.damaged_lists and refill.copy is None:
        text = tr("People rows lost from %(lists)s were NOT put back: no copy of the gates'"
                  " people data could be opened.")  # fmt: skip
        click.echo(text % {"lists": lists})
    for path, why in refill.unusable.items():
        click.echo(tr("  copy %(file)s not used: %(why)s") % {"file": path, "why": why})
    if refill.copy is not None:
        at = said.time(refill.copy_at)
        text = tr("People rows put back from the gate's copy %(file)s (read from the"
                  " database at %(at)s):")  # fmt: skip
        click.echo(text % {"file": refill.copy, "at": at})
        for table in refill.damaged_lists:
            ids = refill.refilled.get(table, [])
            click.echo(
                tr("  %(list)s: %(n)s rows put back") % {"list": named[table], "n": len(ids)}
            )
            if ids and table in NOT_IN_COPY:
                text = tr("    they lack %(what)s (ids %(ids)s)")
                click.echo(text % {"what": tr(NOT_IN_COPY[table]), "ids": _ids(ids)})
            for row_id, why in sorted(refill.refused.get(table, {}).items()):
                click.echo(tr("    id %(id)s not put back: %(why)s") % {"id": row_id, "why": why})
        text = tr("Rows added after %(at)s were not in the copy and are lost: check these"
                  " lists against your records.")  # fmt: skip
        click.echo(text % {"at": at})
    others = [t for t in damaged if t not in LIST_NAMES]
    if others:
        text = tr("No copy exists of the other tables' lost rows (%(tables)s): they are gone.")
        click.echo(text % {"tables": ", ".join(others)})


def _ids(ids: list[int], shown: int = 20) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return text + (f" … (+{len(ids) - shown})" if len(ids) > shown else "")
