"""``menwei demo``: both gate kinds on mock pins over generated frames (edge.demo)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from edge.cli.common import cli_command, fail, read_config, stop_on_signals


@cli_command()
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
@click.option(
    "--lan",
    is_flag=True,
    help="With --serve: listen on every address, so a phone on this network opens the console "
    "and scans the demo stickers (plain HTTP with demo passwords: for trying, never for a site).",
)
@click.option(
    "--community",
    is_flag=True,
    help="Instead: a hub and two gate boxes on 127.0.0.1, each its own process and data "
    "folder (docs/community.md), told step by step.",
)
def demo(
    data_dir: Path,
    keep: bool,
    faces: Path | None,
    serve: bool,
    port: int | None,
    lan: bool,
    community: bool,
) -> None:
    """Run a vehicle gate and a pedestrian gate on mock pins over replayed frames."""
    from edge.demo.run import run_demo

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger().setLevel(logging.WARNING)  # keep the decisions readable
    if community:
        from edge.demo.community import run_community_demo

        sys.exit(run_community_demo(data_dir, click.echo))
    code = run_demo(data_dir, fresh=not keep, echo=click.echo, faces=faces)
    if serve and code == 0:
        from gpiozero.pins.mock import MockFactory

        from edge.demo.console import serve_console
        from edge.store.open import open_store

        config = read_config(data_dir / "menwei.toml")
        stop = stop_on_signals()
        try:
            serve_console(
                config, open_store(config), MockFactory(), click.echo, stop, port, lan=lan
            )
        except OSError as exc:  # the port is taken
            raise fail("cannot serve the console: %(error)s", error=exc) from None
    sys.exit(code)
