"""``menwei demo --serve``: after the demo's story, keep both gates running and serve the
console, so a newcomer can try every role: admin (dashboard, audit log), guard (live view,
manual open), police and grid worker (registrations, events), the landlord (a room with a
tenant's registration waiting), and a resident (their own visitor passes).

The gates keep replaying their frames in a loop, and each loop ends with an empty lane (and
an empty doorway) for longer than the dedupe windows: without that pause a car came round
again inside its own dedupe window (30 s, refreshed while it is in view) and was taken for
the same passage, so after the second loop no car made a new event and the watchlisted car
raised no new alert. Now every readable car and every person really comes round again as a
new passage. A manual open from the console goes over the real control socket to the real
gate loop and pulses the mock relay. Served on 127.0.0.1 only, over plain HTTP, with demo
accounts whose passwords are made fresh on every start and printed once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import sqlite_utils
from flask import Flask

from edge.config import MenweiConfig
from edge.db import transaction, utc_now
from edge.demo.config import DOOR_GATE, VEHICLE_GATE
from edge.demo.door_frames import doorway
from edge.demo.narration import told
from edge.gates.assembly import pedestrian_gate, vehicle_gate
from edge.pii import PiiVault
from edge.plates.synth import render_empty_scene
from edge.vocabulary import N_
from edge.web.accounts import create_user, hash_password
from edge.web.app import create_app
from edge.web.context import EXTENSION
from edge.web.server import build_server
from qr_registry.documents import check_char
from qr_registry.form import parse_tenant_form
from qr_registry.registrations import submit
from qr_registry.rooms import Room, add_room, list_rooms

DEMO_ACCOUNTS = (
    ("guard", "guard"), ("admin", "admin"), ("police", "police"), ("grid", "grid"),
    ("landlord", "landlord"), ("resident", "resident"),
)  # fmt: skip
DEMO_ROOM = ("示范小区", "1幢", "1单元", "101")
PAUSE_MARGIN_S = 2.0  # beyond the dedupe window: the loop's empty lane lasts this much longer


def _demo_room(db: sqlite_utils.Database) -> Room:
    with transaction(db) as conn:
        landlord = conn.execute("SELECT id FROM users WHERE username = 'landlord'").fetchone()[0]
        kept = list_rooms(conn, landlord_id=landlord)  # a kept demo database has it already
        return kept[0] if kept else add_room(conn, *DEMO_ROOM, landlord, utc_now())


def demo_room(db: sqlite_utils.Database) -> str:
    """The demo landlord's one rented room (made once); returns its sticker token."""
    return _demo_room(db).token or ""


def demo_registration(db: sqlite_utils.Database, vault: PiiVault, config: MenweiConfig) -> bool:
    """A tenant's registration of the demo room, pending for the landlord (made once, through
    the tenant form's own validation and storage); True when it was made now."""
    room = _demo_room(db)
    if db.execute("SELECT 1 FROM registrations WHERE room_id = ?", [room.id]).fetchone():
        return False
    now = utc_now()
    today = now.astimezone(config.site.zone).date()
    first17 = "11010119900307" + "123"  # a made-up number with a valid check character
    fields = {
        "name": "演示租客", "doc_type": "resident_id", "doc_number": first17 + check_char(first17),
        "sex": "F", "birth_date": date(1990, 3, 7).isoformat(), "ethnicity": "汉族",
        "phone": "13800138000", "hukou_address": "北京市东城区示范路1号",
        "occupation": "职员", "relation": "tenant", "move_in_date": today.isoformat(),
        "expected_until": today.replace(year=today.year + 1, day=min(today.day, 28)).isoformat(),
        "consent": "yes",
    }  # fmt: skip
    form, problems = parse_tenant_form(fields, today, config.registry.max_stay_days)
    if form is None:  # the form's rules changed: say which, the rest of the demo still runs
        raise ValueError(f"demo registration refused: {[str(p) for p in problems]}")
    registry = config.registry
    submit(
        db, vault, room, form, now, registry.confirm_deadline_hours, registry.consent_version,
        room.token or "",
    )  # fmt: skip
    return True


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)


def looping_frames(source: Path, target: Path, blank: np.ndarray, frames: int) -> Path:
    """``source``'s frames (linked, not copied) followed by ``frames`` frames of ``blank``,
    in ``target`` (made afresh): replayed in a loop, everyone in ``source`` comes back after
    that pause."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for frame in sorted(source.glob("*.jpg")):
        _link_or_copy(frame, target / frame.name)
    empty = target / "zz-pause-00000.jpg"  # sorts after the story's numbered frames
    cv2.imwrite(str(empty), blank, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for index in range(1, frames):
        _link_or_copy(empty, target / f"zz-pause-{index:05d}.jpg")
    return target


def serving_config(config: MenweiConfig) -> MenweiConfig:
    """``config`` with each demo gate's camera on a looping copy of its frames that ends in
    a pause longer than the gate's dedupe window, so each round is a new passage."""
    data_dir = config.storage.data_dir
    plates, faces = config.recognition.plates, config.recognition.faces
    pauses = {
        VEHICLE_GATE: (
            plates.dedupe_window_s + plates.vote_window_s,
            render_empty_scene(size=(1280, 720)),
        ),
        DOOR_GATE: (faces.dedupe_s + faces.agree_window_s, doorway()),
    }
    gates = []
    for gate in config.gates:
        if gate.id not in pauses or gate.camera.replay_fps is None:
            gates.append(gate)
            continue
        window, blank = pauses[gate.id]
        fps = gate.camera.replay_fps
        folder = looping_frames(
            Path(gate.camera.source), data_dir / f"{Path(gate.camera.source).name}-loop", blank,
            int((window + PAUSE_MARGIN_S) * fps) + 1,
        )  # fmt: skip
        camera = gate.camera.model_copy(update={"source": str(folder)})
        gates.append(gate.model_copy(update={"camera": camera}))
    return config.model_copy(update={"gates": gates})


def demo_accounts(db: sqlite_utils.Database) -> dict[str, str]:
    """username -> a fresh password for each demo account (created, or its password reset:
    a kept demo database must not keep passwords printed in an old terminal)."""
    passwords = {}
    with transaction(db) as conn:
        resident = conn.execute(  # the resident account is the demo's first resident's own
            "SELECT id FROM residents WHERE kind = 'resident' AND active = 1 ORDER BY id LIMIT 1"
        ).fetchone()
        for username, role in DEMO_ACCOUNTS:
            if role == "resident" and resident is None:
                continue  # no resident in this database (the door's story enrols one)
            password = secrets.token_urlsafe(9)
            row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                create_user(
                    conn, username, password, role, utc_now(), f"demo {role}",
                    resident_id=resident[0] if role == "resident" else None,
                )  # fmt: skip
            else:
                conn.execute(
                    "UPDATE users SET password_hash = ?, active = 1 WHERE id = ?",
                    (hash_password(password), row[0]),
                )
            passwords[username] = password
    return passwords


def lan_address() -> str:
    """This machine's address on its LAN (the one its default route uses); no packet is
    sent: connecting a UDP socket only picks the route. Loopback when there is no network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


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
    lan: bool = False,
) -> None:
    """Run both demo gates and the web console until ``stop`` is set; ``lan``: on every
    address, with the stickers and the printed links on this machine's LAN address.
    ``port`` 0: a port the system picks, printed in the links (None: ``[web] port``)."""
    passwords = demo_accounts(db)
    token = demo_room(db)
    app = create_app(config)
    demo_registration(db, app.extensions[EXTENSION].vault, config)
    server, url = build_server(
        app, config, "0.0.0.0" if lan else "127.0.0.1", config.web.port if port is None else port
    )
    if lan:
        url = url.replace("0.0.0.0", lan_address(), 1)
    served_stickers(app, config, url)
    config = serving_config(config)
    with contextlib.ExitStack() as running:
        running.enter_context(vehicle_gate(config, VEHICLE_GATE, stop, pin_factory=pin_factory))
        running.enter_context(pedestrian_gate(config, DOOR_GATE, stop, pin_factory=pin_factory))
        thread = threading.Thread(target=server.run, name="demo-web", daemon=True)
        thread.start()
        reach = N_("phones on this network too: plain HTTP") if lan else N_("this machine only")
        where = told(reach)
        echo("\n" + told("Console: %(url)s/  (%(where)s; Ctrl-C stops the demo)", url=url,
                         where=where))  # fmt: skip
        for username, password in passwords.items():
            echo(f"  {username:<8} " + told("password %(password)s", password=password))
        echo(told("Tenant registration (the door sticker of %(room)s): %(url)s",
                  room=" ".join(DEMO_ROOM), url=f"{url}/r/{token}"))  # fmt: skip
        echo(
            told(
                "Both gates keep replaying their frames, each round a new passage: log in as guard,"
                " watch /console/, open a gate by hand; as admin see /dashboard/ and /admin/audit;"
                " as landlord confirm the waiting registration; as police or grid search /police/;"
                " as resident issue a visitor pass at /my/."
            )
        )
        try:
            stop.wait()
        finally:
            server.stop()
            thread.join(timeout=10)
    echo(told("Demo stopped: relays at rest."))
