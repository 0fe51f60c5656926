"""The database's health: ``db check`` (integrity, read-only) and ``db recover`` (salvage a
damaged database into a new file beside it; the damaged file is kept, never changed)."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.common import config_option, read_config, tr


@click.group("db")
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
        click.echo(f"{path}: {problem}", err=True)
    raise click.ClickException(
        tr("%(path)s is damaged: stop the menwei services, then `menwei db recover`")
        % {"path": path}
    )


@db_group.command("recover")
@click.option("--file", "file_", type=click.Path(path_type=Path), help="Another database file.")
@config_option
def recover_cmd(file_: Path | None, config_path: Path) -> None:
    """Salvage what a damaged database still holds into a new file beside it; the damaged
    file is copied aside and kept. Run with the services
    stopped; the new file replaces the old one only when you move it into place."""
    from edge.store.integrity import recover

    path = file_ or read_config(config_path).storage.database_path
    result = recover(path)
    click.echo(f"damaged database kept as {result.damaged_copy}")
    verdict = (
        "integrity ok" if result.check.ok else "NOT ok: " + "; ".join(result.check.problems[:3])
    )
    click.echo(f"salvaged into {result.recovered} ({verdict})")
    for table in ("residents", "vehicles", "registrations", "events", "outbox"):
        if table in result.counts:
            click.echo(f"  {table}: {result.counts[table]} rows")
    for name, problem in result.lost.items():
        click.echo(f"  {name}: {problem}")
    click.echo(
        f"to use it: stop the menwei services, then\n"
        f"  mv {result.recovered} {path} && rm -f {path}-wal {path}-shm\n"
        f"then `menwei db check` and start the services (migrations run on start)"
    )
