"""The ``menwei`` command line: parses, calls a library function, prints. Nothing more.

One module per thing served (``box``, ``db``, ``gates``, ``vehicles``, ``people``, ``events``,
``sync``, ``web``, ``registry``, ``demo``); shared pieces in ``common``. Commands import
their heavy libraries (models, OpenCV, Flask) inside the function, so ``menwei --help`` and
the light commands start fast.
"""

from __future__ import annotations

import logging
import os

import click

from edge.cli import box, data, db, demo, events, gates, hub, people, registry, sync, vehicles, web
from edge.cli.common import cli_group


@cli_group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Menwei (门卫): the gate appliance of a residential community."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_third_parties(verbose)


# Libraries' chatter that says nothing to an operator: OpenCV's DNN warning about
# setPreferableTarget on every model load, waitress's "Task queue depth" on every burst of
# requests (its queue is sized for that). Shown with -v.
NOISY_LOGGERS = ("waitress.queue",)


def quiet_third_parties(verbose: bool) -> None:
    """Silence the known third-party noise unless ``verbose``; OpenCV reads its level when
    cv2 is first imported, which every command does after this (inside the command)."""
    if verbose:
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


for command in (
    box.init,
    box.check_config,
    box.install,
    box.db_version,
    db.db_group,
    box.retention,
    box.backup,
    gates.gate,
    gates.open_gate,
    gates.status,
    gates.relays_safe,
    demo.demo,
    vehicles.vehicle,
    vehicles.watchlist,
    people.resident,
    people.pass_group,
    events.events,
    sync.sync_cmd,
    hub.hub,
    web.web,
    web.front_config,
    web.audit,
    web.user,
    registry.room,
    registry.stickers,
    data.data,
    data.rooms,
):
    main.add_command(command)
