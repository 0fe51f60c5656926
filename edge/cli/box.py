"""Setting a box up and keeping it: ``init``, ``check-config``, ``install``, ``db-version``,
``retention``, ``backup``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from edge.cli.common import cli_command, config_option, fail, read_config, say, shown, tr
from edge.config.example import render_example
from edge.vocabulary import GATE_KINDS
from gate_drivers.source_spec import redact


@cli_command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="menwei.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented example config to PATH (every key, with what it means)."""
    if path.exists() and not force:
        raise fail("%(path)s exists; use --force to overwrite", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_example(), encoding="utf-8")
    say("wrote %(path)s; edit it, then: menwei check-config -c %(path)s", path=path)


@cli_command("check-config")
@config_option
def check_config(config_path: Path) -> None:
    """Validate the config file, then open what it names: camera files and folders (one
    picture each), USB cameras, keypads, the pin factory, key and model files. Exits 1 on
    any problem."""
    from edge.box.config_check import check_config as run_checks

    config = read_config(config_path)
    say("%(path)s: OK — site %(site)s, %(n)s gate(s)", path=config_path, site=config.site.name,
        n=len(config.gates))  # fmt: skip
    for gate in config.gates:
        camera = redact(gate.camera.source)  # never echo camera passwords
        say("  %(id)s: %(kind)s gate %(name)s, camera %(camera)s", id=gate.id,
            kind=tr(GATE_KINDS[gate.kind]), name=gate.name, camera=camera)  # fmt: skip
    checks = run_checks(config)
    for check in checks:
        verdict = tr("ok") if check.ok else tr("BAD")
        click.echo(f"  {verdict}  {shown(check.subject)}: {redact(shown(check.detail))}")
    bad = [c for c in checks if not c.ok]
    if bad:
        raise fail("%(n)s problem(s) found; nothing was changed", n=len(bad))


@cli_command()
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default="/",
    show_default=True,
    help="Install under this folder (staging, image builds).",
)
@click.option(
    "--config-path",
    type=click.Path(path_type=Path),
    default="/etc/menwei/menwei.toml",
    show_default=True,
    help="Where the installed config goes (under --root).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default="/var/lib/menwei",
    show_default=True,
    help="The data folder: database, keys, snapshots (under --root).",
)
@click.option("--no-user", is_flag=True, help="Do not create the menwei system user.")
@click.option("--no-systemctl", is_flag=True, help="Write units but do not enable them.")
def install(
    root: Path, config_path: Path, data_dir: Path, no_user: bool, no_systemctl: bool
) -> None:
    """Create user, folders, config, PII key, TLS certificate and systemd units (as root)."""
    from edge.box.install import InstallPlan
    from edge.box.install import install as run_install

    plan = InstallPlan(
        root=root,
        config_path=config_path,
        data_dir=data_dir,
        create_user=not no_user,
        run_systemctl=not no_systemctl,
    )
    for line in run_install(plan):
        click.echo(f"  {shown(line)}")


@cli_command("db-version")
@config_option
def db_version(config_path: Path) -> None:
    """Apply pending migrations and print the schema version."""
    from edge.db import schema_version
    from edge.store.open import open_store

    click.echo(schema_version(open_store(read_config(config_path))))


@cli_command()
@config_option
def retention(config_path: Path) -> None:
    """Check the database's integrity (within [storage] integrity_check_s), prune snapshots
    to the disk budget and delete delivered events past retention."""
    from edge.box.retention import run_retention
    from edge.box.store_check import periodic_check
    from edge.db import utc_now
    from edge.db_file import REPAIR_HINT, DamagedStoreError, StoreFaultError
    from edge.store.open import open_store

    config = read_config(config_path)
    try:
        db = open_store(config)
    except (sqlite3.DatabaseError, OSError, DamagedStoreError):  # checked all the same
        periodic_check(config, None, utc_now())
        raise
    status = periodic_check(config, db, utc_now())
    if status is not None:
        verdict = "ok" if status.ok else ("not finished" if not status.complete else "DAMAGED")
        say("integrity_check: %(verdict)s (%(seconds)s s)", verdict=tr(verdict),
            seconds=f"{status.seconds:.1f}")  # fmt: skip
        for problem in status.problems[:5]:
            click.echo(f"  {problem}")
        if status.complete and not status.ok:  # deleting rows could spread the damage
            raise StoreFaultError(
                "The integrity check found the database %(path)s damaged, so nothing was"
                " deleted: stop the services, then " + REPAIR_HINT,
                {"path": config.storage.database_path},
            )
    report = run_retention(db, config.storage.snapshot_dir, config.retention, utc_now())
    say(
        "deleted %(snapshots)s snapshots (%(kib)s KiB) and %(events)s events; snapshots now"
        " %(mib)s MiB",
        snapshots=report.snapshots_deleted, kib=report.bytes_freed // 1024,
        events=report.events_deleted, mib=report.snapshot_bytes_left // (1024 * 1024),
    )  # fmt: skip
    say(
        "purged %(registrations)s closed registrations, %(faces)s ended face passes'"
        " templates, %(passes)s old visitor passes, %(watch)s expired watchlist faces",
        registrations=report.registrations_purged, faces=report.visitor_faces_purged,
        passes=report.visitor_passes_purged, watch=report.watch_faces_purged,
    )  # fmt: skip


@cli_command()
@click.argument("destination", type=click.Path(path_type=Path))
@config_option
def backup(destination: Path, config_path: Path) -> None:
    """Write a consistent copy of the live database to DESTINATION (file or folder)."""
    from edge.box.backup import backup_database

    config = read_config(config_path)
    size = backup_database(config.storage.database_path, destination)  # BackupError: one line
    click.echo(
        tr("backup written (%(kib)s KiB, integrity ok). Back up the PII key file separately.")
        % {"kib": size // 1024}
    )
