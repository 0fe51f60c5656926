"""The ``menwei`` command line: parses, calls a library function, prints. Nothing more.

Errors a user can cause (bad config, malformed plate, unknown gate) end with a one-line
message and exit code 2, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

import click

from edge import audit
from edge.config import DEFAULT_CONFIG_PATH, ConfigError, MenweiConfig, load_config
from edge.config.example import render_example
from edge.errors import UserError
from gate_drivers.source_spec import redact

CONFIG_ENV = "MENWEI_CONFIG"


def _config_option(func):  # type: ignore[no-untyped-def]
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=lambda: os.environ.get(CONFIG_ENV, str(DEFAULT_CONFIG_PATH)),
        show_default=f"${CONFIG_ENV} or {DEFAULT_CONFIG_PATH}",
        help="Config file (TOML).",
    )(func)


def _load(config_path: Path) -> MenweiConfig:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    audit.use_key_file(config.security.audit_key_path)  # read only when a row is written
    return config


def _parse_time(value: str | None, config: MenweiConfig) -> datetime | None:
    """Accept ISO dates/times; a time without zone is read in the site's time zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date/time like 2026-12-31 or 2026-12-31T18:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=config.site.zone)


class _Cli(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except UserError as exc:  # anything else is a bug: let its stack trace show
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Cli)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Menwei (门卫): the gate appliance of a residential community."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="menwei.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented example config to PATH (every key, with what it means)."""
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_example(), encoding="utf-8")
    click.echo(f"wrote {path}; edit it, then: menwei check-config -c {path}")


@main.command("check-config")
@_config_option
def check_config(config_path: Path) -> None:
    """Validate the config file and summarise it."""
    config = _load(config_path)
    click.echo(f"{config_path}: OK — site {config.site.name!r}, {len(config.gates)} gate(s)")
    for gate in config.gates:
        camera = redact(gate.camera.source)  # never echo camera passwords
        click.echo(f"  {gate.id}: {gate.kind} gate {gate.name!r}, camera {camera}")


@main.command()
@click.argument("gate_id")
@_config_option
def gate(gate_id: str, config_path: Path) -> None:
    """Run one gate, vehicle or pedestrian (owns its camera and relays) until stopped."""
    from edge.assembly import pedestrian_gate, vehicle_gate
    from edge.demo import describe_outcome, describe_person_outcome
    from edge.watchdog import Watchdog

    config = _load(config_path)
    kind = config.gate(gate_id).kind
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def show(outcome) -> None:  # type: ignore[no-untyped-def]
        describe = describe_outcome if kind == "vehicle" else describe_person_outcome
        click.echo(describe(outcome, config.site.zone))

    watchdog = Watchdog()
    run = vehicle_gate if kind == "vehicle" else pedestrian_gate
    with run(config, gate_id, stop, on_outcome=show, on_idle=watchdog.alive):
        watchdog.ready(f"gate {gate_id} running")
        click.echo(f"{kind} gate {gate_id} running; Ctrl-C to stop")
        stop.wait()
        watchdog.stopping()


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default="var/demo",
    show_default=True,
    help="Where the demo database, frames and snapshots go.",
)
@click.option(
    "--keep", is_flag=True, help="Keep the previous demo data instead of starting afresh."
)
@click.option(
    "--faces",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Face photos for the pedestrian gate: labels.tsv (file, identity) or one folder "
    "per person. Default: ../shared/fixtures/faces when present; without photos the door "
    "runs with PIN, QR pass and door events only.",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Afterwards keep both gates running and serve the console on 127.0.0.1 "
    "(demo accounts printed; Ctrl-C stops).",
)
@click.option("--port", type=int, default=None, help="Console port for --serve (default 8080).")
def demo(data_dir: Path, keep: bool, faces: Path | None, serve: bool, port: int | None) -> None:
    """Run a vehicle gate and a pedestrian gate on mock pins over replayed frames."""
    from edge.demo import run_demo

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger().setLevel(logging.WARNING)  # keep the decisions readable
    code = run_demo(data_dir, fresh=not keep, echo=click.echo, faces=faces)
    if serve and code == 0:
        from gpiozero.pins.mock import MockFactory

        from edge.demo_console import serve_console
        from edge.store.open import open_store

        config = _load(data_dir / "menwei.toml")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        try:
            serve_console(config, open_store(config), MockFactory(), click.echo, stop, port)
        except OSError as exc:  # the port is taken
            raise click.ClickException(f"cannot serve the console: {exc}") from None
    sys.exit(code)


# -- vehicles ------------------------------------------------------------------------------
@main.group()
def vehicle() -> None:
    """Enrol, remove and list vehicles."""


@vehicle.command("add")
@click.argument("plate")
@click.option("--kind", type=click.Choice(["resident", "visitor", "temporary"]), default="resident")
@click.option("--household", help="Household label, e.g. 3-1-402.")
@click.option("--valid-from", help="Start of validity (site time unless a zone is given).")
@click.option("--valid-to", help="End of validity; required for visitor/temporary.")
@click.option("--note", default="")
@_config_option
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
    from edge.store.open import open_store
    from edge.vehicles import VehicleInput, add_vehicle

    config = _load(config_path)
    db = open_store(config)
    vehicle_id = add_vehicle(
        db,
        VehicleInput(
            plate,
            kind,
            household,
            _parse_time(valid_from, config),
            _parse_time(valid_to, config),
            note,  # type: ignore[arg-type]
        ),
    )
    click.echo(f"enrolled vehicle #{vehicle_id}")


@vehicle.command("remove")
@click.argument("plate")
@click.option("--kind", type=click.Choice(["resident", "visitor", "temporary"]))
@_config_option
def vehicle_remove(plate: str, kind: str | None, config_path: Path) -> None:
    """Remove PLATE's enrolments."""
    from edge.store.open import open_store
    from edge.vehicles import remove_vehicle

    removed = remove_vehicle(open_store(_load(config_path)), plate, kind)  # type: ignore[arg-type]
    if not removed:
        raise click.ClickException(f"no enrolment for {plate}")
    click.echo(f"removed {removed} enrolment(s)")


@vehicle.command("list")
@click.option("--json", "as_json", is_flag=True)
@_config_option
def vehicle_list(as_json: bool, config_path: Path) -> None:
    """List enrolled vehicles."""
    from edge.store.open import open_store
    from edge.vehicles import list_vehicles

    _print_rows(list_vehicles(open_store(_load(config_path))), as_json)


# -- watchlist -----------------------------------------------------------------------------
@main.group()
def watchlist() -> None:
    """Plates that raise an alert whenever they are seen."""


@watchlist.command("add")
@click.argument("plate")
@click.option("--reason", default="")
@click.option("--expires", help="When the entry lapses (site time unless a zone is given).")
@_config_option
def watchlist_add(plate: str, reason: str, expires: str | None, config_path: Path) -> None:
    """Put PLATE on the watchlist."""
    from edge.store.open import open_store
    from edge.vehicles import add_watch

    config = _load(config_path)
    watch_id = add_watch(open_store(config), plate, reason, "local", _parse_time(expires, config))
    click.echo(f"watchlist entry #{watch_id} added")


@watchlist.command("remove")
@click.argument("plate")
@_config_option
def watchlist_remove(plate: str, config_path: Path) -> None:
    """Take PLATE off the watchlist."""
    from edge.store.open import open_store
    from edge.vehicles import remove_watch

    if not remove_watch(open_store(_load(config_path)), plate):
        raise click.ClickException(f"{plate} is not on the watchlist")
    click.echo("removed")


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True)
@_config_option
def watchlist_list(as_json: bool, config_path: Path) -> None:
    """List watchlist plates."""
    from edge.store.open import open_store
    from edge.vehicles import list_watch

    _print_rows(list_watch(open_store(_load(config_path))), as_json)


# -- events and database -------------------------------------------------------------------
@main.command()
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--gate", "gate_id")
@click.option("--json", "as_json", is_flag=True)
@_config_option
def events(limit: int, gate_id: str | None, as_json: bool, config_path: Path) -> None:
    """Show recent events with the reasons for each decision."""
    from edge.events import recent_events
    from edge.store.open import open_store

    config = _load(config_path)
    rows = recent_events(open_store(config), limit, gate_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    zone = config.site.zone
    for row in rows:
        when = (
            datetime.fromisoformat(row["occurred_at"])
            .astimezone(zone)
            .strftime("%Y-%m-%d %H:%M:%S")
        )
        why = "; ".join(r["message"] for r in row["reasons"])
        click.echo(
            f"{when} {row['gate_id']} {row['kind']} {row['plate'] or '-'} "
            f"{row['decision'].upper()} — {why} [{row['id']}]"
        )


@main.command("db-version")
@_config_option
def db_version(config_path: Path) -> None:
    """Apply pending migrations and print the schema version."""
    from edge.db import schema_version
    from edge.store.open import open_store

    click.echo(schema_version(open_store(_load(config_path))))


def _print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo("(none)")
    for row in rows:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "")))


# -- installation and service support ------------------------------------------------------
@main.command()
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
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default="/var/lib/menwei", show_default=True
)
@click.option("--no-user", is_flag=True, help="Do not create the menwei system user.")
@click.option("--no-systemctl", is_flag=True, help="Write units but do not enable them.")
def install(
    root: Path, config_path: Path, data_dir: Path, no_user: bool, no_systemctl: bool
) -> None:
    """Create user, folders, config, PII key, TLS certificate and systemd units (as root)."""
    from edge.install import InstallPlan
    from edge.install import install as run_install

    plan = InstallPlan(
        root=root,
        config_path=config_path,
        data_dir=data_dir,
        create_user=not no_user,
        run_systemctl=not no_systemctl,
    )
    for line in run_install(plan):
        click.echo(f"  {line}")


@main.command("relays-safe")
@click.argument("gate_id")
@_config_option
def relays_safe(gate_id: str, config_path: Path) -> None:
    """Drive GATE_ID's relays to their safe state (systemd ExecStopPost after any exit)."""
    from gate_drivers.pins import make_pin_factory

    config = _load(config_path)
    gate = config.gate(gate_id)
    factory = make_pin_factory(config.hardware.pin_factory)
    if gate.lock is not None:
        from gate_drivers.door import rest_lock_relay

        rest_lock_relay(gate.lock.relay_pin, gate.lock.active_high, factory)
        meaning = "door released" if gate.lock.fail_mode == "fail_safe" else "door locked"
        click.echo(f"gate {gate_id}: lock relay at rest ({gate.lock.fail_mode}: {meaning})")
        return
    if gate.barrier is None:
        click.echo(f"gate {gate_id}: no barrier relays configured")
        return
    from gate_drivers.barrier import Barrier

    # Constructing the device drives its pins to the safe level (initial_value=False).
    with Barrier(
        gate.barrier.open_pin,
        gate.barrier.close_pin,
        pulse_s=gate.barrier.pulse_s,
        active_high=gate.barrier.active_high,
        pin_factory=factory,
    ):
        pass
    click.echo(f"gate {gate_id}: barrier relays in safe state")


@main.command()
@_config_option
def retention(config_path: Path) -> None:
    """Prune snapshots to the disk budget and delete delivered events past retention."""
    from edge.db import utc_now
    from edge.retention import run_retention
    from edge.store.open import open_store

    config = _load(config_path)
    report = run_retention(
        open_store(config), config.storage.snapshot_dir, config.retention, utc_now()
    )
    click.echo(
        f"deleted {report.snapshots_deleted} snapshots ({report.bytes_freed // 1024} KiB)"
        f" and {report.events_deleted} events; snapshots now "
        f"{report.snapshot_bytes_left // (1024 * 1024)} MiB"
    )
    click.echo(
        f"purged {report.registrations_purged} closed registrations,"
        f" {report.visitor_faces_purged} ended face passes' templates,"
        f" {report.visitor_passes_purged} old visitor passes,"
        f" {report.watch_faces_purged} expired watchlist faces"
    )


@main.command()
@click.argument("destination", type=click.Path(path_type=Path))
@_config_option
def backup(destination: Path, config_path: Path) -> None:
    """Write a consistent copy of the live database to DESTINATION (file or folder)."""
    from edge.backup import BackupError, backup_database

    config = _load(config_path)
    try:
        size = backup_database(config.storage.database_path, destination)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"backup written ({size // 1024} KiB, integrity ok). Back up the PII key file separately."
    )


# -- talking to running gates --------------------------------------------------------------
@main.command("open")
@click.argument("gate_id")
@click.option("--reason", required=True, help="Why the gate is opened by hand (logged).")
@click.option("--operator", default=lambda: os.environ.get("USER", "cli"), show_default="$USER")
@_config_option
def open_gate(gate_id: str, reason: str, operator: str, config_path: Path) -> None:
    """Open GATE_ID by hand through its running gate process (logged with operator)."""
    from edge.gate_control import GateUnreachableError, send_gate_command

    config = _load(config_path)
    config.gate(gate_id)
    try:
        reply = send_gate_command(
            config.storage.run_dir, gate_id, {"cmd": "open", "operator": operator, "reason": reason}
        )
    except GateUnreachableError as exc:
        raise click.ClickException(str(exc)) from None
    if not reply.get("ok"):
        raise click.ClickException(reply.get("error", "gate refused"))
    click.echo(f"gate {gate_id} opened (event {reply['event_id']}, {reply['ms']} ms)")


@main.command()
@click.argument("gate_ids", nargs=-1)
@_config_option
def status(gate_ids: tuple[str, ...], config_path: Path) -> None:
    """Health of running gates: camera, frames, recogniser latency, last decision, relays."""
    from edge.gate_control import GateUnreachableError, send_gate_command

    config = _load(config_path)
    for gate_id in gate_ids or tuple(g.id for g in config.gates):
        try:
            reply = send_gate_command(config.storage.run_dir, gate_id, {"cmd": "health"})
        except GateUnreachableError as exc:
            click.echo(f"{gate_id}: DOWN — {exc}")
            continue
        click.echo(
            json.dumps({gate_id: reply.get("health")}, ensure_ascii=False, indent=1, default=str)
        )


# -- district sync (issue 5) ---------------------------------------------------------------
@main.group("sync", invoke_without_command=True)
@_config_option
@click.pass_context
def sync_cmd(ctx: click.Context, config_path: Path) -> None:
    """Send events to the district platform and pull its lists, until stopped (SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    from edge.store.open import open_store
    from edge.watchdog import Watchdog
    from sync.secret import SecretError
    from sync.service import build_protocol, run_sync, vault_for

    config = _load(config_path)
    if config.sync is None:
        raise click.ClickException("no [sync] section in the config: sync is disabled")
    try:
        protocol = build_protocol(
            config.sync, config.storage.snapshot_dir, config.site.zone,
            vault=vault_for(config.security.pii_key_file),
        )  # fmt: skip
    except SecretError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from sync.downlink_faces import handlers_for

    extra_lists, why_not = handlers_for(config)
    if why_not and config.sync.downlink:
        logging.getLogger("menwei.sync").warning(
            "district watch faces will not be pulled: %s", why_not
        )
    from sync.gat1400.faces import face_adder_for

    add_face, _ = face_adder_for(config) if config.sync.protocol == "gat1400" else (None, None)
    watchdog = Watchdog()
    watchdog.ready("sync running")
    run_sync(
        open_store(config),
        config.sync,
        protocol,
        stop,
        on_step=lambda _: watchdog.alive(),
        extra_lists=extra_lists,
        add_face=add_face,
    )
    watchdog.stopping()


@sync_cmd.command("status")
@click.option("--json", "as_json", is_flag=True)
@_config_option
def sync_status_cmd(as_json: bool, config_path: Path) -> None:
    """Queued, delivered and dead-letter counts and the age of the oldest undelivered row.

    Exits 1 when rows are dead-lettered, so monitoring can alarm on it.
    """
    from edge.db import utc_now
    from edge.store.open import open_store
    from sync.status import read_status_file, sync_status

    config = _load(config_path)
    status = sync_status(open_store(config), utc_now())
    worker = read_status_file(config.sync.status_file) if config.sync else None
    status["worker"] = worker.get("worker") if worker else "unknown"
    status["worker_at"] = worker.get("at") if worker else None
    status["last_error"] = worker.get("last_error") if worker else None
    if worker and worker.get("gat1400"):  # GA/T 1400 session: registration, clock skew
        status["gat1400"] = worker["gat1400"]
        status["alarm"] = status["alarm"] or worker.get("alarm")
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=1))
    else:
        click.echo(
            f"queued {status['queued']}  delivered {status['delivered']}  dead {status['dead']}"
            f"  oldest undelivered {status['oldest_pending_age_s']:.0f} s"
            f"  worker {status['worker']}"
            + (f" (last error: {status['last_error']})" if status["last_error"] else "")
        )
        for name, value in sorted(status["downlink"].items()):
            click.echo(f"  downlink {name}: {value}")
        if "gat1400" in status:
            click.echo(f"  GA/T 1400: {json.dumps(status['gat1400'], ensure_ascii=False)}")
    if status["dead"]:
        sys.exit(1)


@sync_cmd.command("dead")
@click.option("--requeue", "requeue", help="Put this key (or 'all') back in the queue.")
@_config_option
def sync_dead_cmd(requeue: str | None, config_path: Path) -> None:
    """List dead-lettered rows with the platform's reason, or requeue them once fixed."""
    from edge.store.open import open_store
    from edge.store.outbox import dead_rows, requeue_dead

    db = open_store(_load(config_path))
    if requeue:
        count = requeue_dead(db, None if requeue == "all" else requeue)
        click.echo(f"requeued {count} row(s)")
        return
    _print_rows(dead_rows(db.conn), as_json=False)


from edge.people_commands import register as _register_people_commands  # noqa: E402
from edge.web.commands import register as _register_web_commands  # noqa: E402

_register_web_commands(main, _config_option, _load)
_register_people_commands(main, _config_option, _load)
