"""``menwei demo --serve``: after the demo's story, keep both gates running and serve the
console, so a newcomer can log in as a guard and see the appliance the way a guard does.

The gates keep replaying their frames in a loop (cars and people come round again, the
watchlisted car raises its alert again), so the live view has something to show; a manual
open from the console goes over the real control socket to the real gate loop and pulses
the mock relay. Served on 127.0.0.1 only, over plain HTTP, with demo accounts whose
passwords are made fresh on every start and printed once.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable

import sqlite_utils
from flask import Flask

from edge.config import MenweiConfig
from edge.db import transaction, utc_now
from edge.demo.config import DOOR_GATE, VEHICLE_GATE
from edge.gates.assembly import pedestrian_gate, vehicle_gate
from edge.web.accounts import create_user, hash_password
from edge.web.app import create_app
from edge.web.context import EXTENSION
from edge.web.server import build_server
from qr_registry.rooms import add_room, list_rooms

DEMO_ACCOUNTS = (
    ("guard", "guard"), ("admin", "admin"), ("police", "police"), ("grid", "grid"),
    ("landlord", "landlord"),
)  # fmt: skip
DEMO_ROOM = ("示范小区", "1幢", "1单元", "101")


def demo_room(db: sqlite_utils.Database) -> str:
    """The demo landlord's one rented room (made once); returns its sticker token."""
    with transaction(db) as conn:
        landlord = conn.execute("SELECT id FROM users WHERE username = 'landlord'").fetchone()[0]
        kept = list_rooms(conn, landlord_id=landlord)  # a kept demo database has it already
        room = kept[0] if kept else add_room(conn, *DEMO_ROOM, landlord, utc_now())
    return room.token or ""


def demo_accounts(db: sqlite_utils.Database) -> dict[str, str]:
    """username -> a fresh password for each demo account (created, or its password reset:
    a kept demo database must not keep passwords printed in an old terminal)."""
    passwords = {}
    with transaction(db) as conn:
        for username, role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                create_user(conn, username, password, role, utc_now(), f"demo {role}")
            else:
                conn.execute(
                    "UPDATE users SET password_hash = ?, active = 1 WHERE id = ?",
                    (hash_password(password), row[0]),
                )
            passwords[username] = password
    return passwords


def served_stickers(app: Flask, config: MenweiConfig, url: str) -> None:
    """Point the served app's QR stickers at the address it is really served on (the port
    may differ from the config's), so a printed demo sticker opens this demo."""
    registry = config.registry.model_copy(update={"base_url": url})
    app.extensions[EXTENSION].config = config.model_copy(update={"registry": registry})


def serve_console(
    config: MenweiConfig,
    db: sqlite_utils.Database,
    pin_factory: object,
    echo: Callable[[str], None],
    stop: threading.Event,
    port: int | None = None,
) -> None:
    """Run both demo gates and the web console until ``stop`` is set."""
    passwords = demo_accounts(db)
    token = demo_room(db)
    app = create_app(config)
    server, url = build_server(app, config, "127.0.0.1", port or config.web.port)
    served_stickers(app, config, url)
    with contextlib.ExitStack() as running:
        running.enter_context(vehicle_gate(config, VEHICLE_GATE, stop, pin_factory=pin_factory))
        running.enter_context(pedestrian_gate(config, DOOR_GATE, stop, pin_factory=pin_factory))
        thread = threading.Thread(target=server.run, name="demo-web", daemon=True)
        thread.start()
        echo(f"\nConsole: {url}/  (this machine only; Ctrl-C stops the demo)")
        for username, password in passwords.items():
            echo(f"  {username:<8} password {password}")
        echo(f"Tenant registration (the door sticker of {' '.join(DEMO_ROOM)}): {url}/r/{token}")
        echo(
            "Both gates keep replaying their frames: log in as guard, watch /console/, open a"
            " gate by hand, look at /events/, /people/, /passes/ and /console/health."
        )
        try:
            stop.wait()
        finally:
            server.stop()
            thread.join(timeout=10)
    echo("Demo stopped: relays at rest.")
