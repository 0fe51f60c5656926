"""``menwei sync``: the district platform worker, its status and its dead letters."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from edge.cli.common import (
    cli_group,
    config_option,
    fail,
    print_rows,
    read_config,
    say,
    shown,
    stop_on_signals,
    tr,
    words,
)


@cli_group("sync", invoke_without_command=True)
@config_option
@click.pass_context
def sync_cmd(ctx: click.Context, config_path: Path) -> None:
    """Send events to the district platform and pull its lists, until stopped (SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    from edge.box.watchdog import Watchdog
    from edge.store.open import open_store
    from sync.secret import SecretError
    from sync.service import build_protocol, run_sync, vault_for

    config = read_config(config_path)
    if config.community.role == "gate":
        raise fail("this is a gate box: its hub talks to the district; run `menwei hub link`")
    if config.sync is None:
        raise fail("no [sync] section in the config: sync is disabled")
    try:
        protocol = build_protocol(
            config.sync, config.storage.snapshot_dir, config.site.zone,
            vault=vault_for(config.security.pii_key_file),
        )  # fmt: skip
    except SecretError as exc:
        raise click.ClickException(shown(exc)) from None
    stop = stop_on_signals()
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
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def sync_status_cmd(as_json: bool, config_path: Path) -> None:
    """Queued, delivered and dead-letter counts and the age of the oldest undelivered row.

    Exits 1 when rows are dead-lettered, so monitoring can alarm on it.
    """
    from edge.db import utc_now
    from edge.store.open import open_reader
    from sync.status import read_status_file, sync_status

    config = read_config(config_path)
    if config.sync is None and not as_json:
        say("sync is not configured (no [sync] section in the config): events stay on this box")
    status = sync_status(open_reader(config), utc_now())
    status["configured"] = config.sync is not None
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
            tr(
                "queued %(queued)s  delivered %(delivered)s  dead %(dead)s  oldest undelivered"
                " %(age)s s  worker %(worker)s"
            )
            % {
                "queued": status["queued"],
                "delivered": status["delivered"],
                "dead": status["dead"],
                "age": f"{status['oldest_pending_age_s']:.0f}",
                "worker": tr(str(status["worker"])),
            }
            + (
                tr(" (last error: %(error)s)") % {"error": status["last_error"]}
                if status["last_error"]
                else ""
            )
        )
        said = words(config)
        for name, value in sorted(status["downlink"].items()):  # a time, a cursor or a tag
            say("  downlink %(name)s: %(value)s", name=name, value=said.time(value, seconds=True))
        if "gat1400" in status:
            click.echo(f"  GA/T 1400: {json.dumps(status['gat1400'], ensure_ascii=False)}")
    if status["dead"]:
        sys.exit(1)


@sync_cmd.command("dead")
@click.option("--requeue", "requeue", help="Put this key (or 'all') back in the queue.")
@config_option
def sync_dead_cmd(requeue: str | None, config_path: Path) -> None:
    """List dead-lettered rows with the platform's reason, or requeue them once fixed."""
    from edge.store.open import open_store
    from edge.store.outbox import dead_rows, requeue_dead

    db = open_store(read_config(config_path))
    if requeue:
        count = requeue_dead(db, None if requeue == "all" else requeue)
        say("requeued %(n)s row(s)", n=count)
        return
    print_rows(dead_rows(db.conn), as_json=False)
