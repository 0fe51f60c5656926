"""``menwei demo --serve``: both demo gates keep running and the console is served on
loopback with fresh demo accounts; a guard logs in over real HTTP, sees both gates and opens
the vehicle gate by hand, and the mock relay pulses. Stopping puts the relays at rest."""

from __future__ import annotations

import http.cookiejar
import itertools
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import cv2
import numpy as np
from gpiozero.pins.mock import MockFactory
from helpers import csrf_of, nonce_for

from edge.demo.config import DOOR_GATE, LOCK_PIN, OPEN_PIN, VEHICLE_GATE, demo_config
from edge.demo.console import demo_accounts, demo_room, serve_console
from edge.events.record import recent_events
from edge.pii import create_key_file
from edge.store.open import open_store


def _rising_edges(pin) -> int:
    states = [s.state for s in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if b and not a)


def test_demo_accounts_get_fresh_passwords_every_start(tmp_path):
    db = open_store(demo_config(tmp_path))
    first = demo_accounts(db)
    second = demo_accounts(db)
    assert set(first) == {"guard", "admin", "police", "grid", "landlord"}
    assert all(first[name] != second[name] for name in first)
    roles = dict(db.execute("SELECT username, role FROM users").fetchall())
    assert roles == {name: name for name in first}
    token = demo_room(db)
    assert token and demo_room(db) == token  # one room, kept across starts


def test_served_demo_console_opens_the_vehicle_gate_by_hand(tmp_path):
    config = demo_config(tmp_path)
    for folder in ("frames", "door-frames"):  # what the demo's story leaves behind
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "0.jpg"), np.full((480, 640, 3), 90, np.uint8))
    create_key_file(config.security.pii_key_file)
    db = open_store(config)
    factory, stop, printed = MockFactory(), threading.Event(), []
    serving = threading.Thread(  # with its own connection: a connection has one thread
        target=lambda: serve_console(  # port 0: it binds a free port and prints its links
            config, open_store(config), factory, printed.append, stop, 0
        )
    )
    serving.start()
    base = "http://127.0.0.1:0"
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith("  guard") for line in printed):
            assert serving.is_alive() and time.monotonic() < deadline, printed
            time.sleep(0.1)
        [console] = [line for line in printed if line.strip().startswith("Console: ")]
        base = re.search(r"http://127\.0\.0\.1:(\d+)", console).group(0)
        assert not base.endswith(":0")
        password = next(line.split()[-1] for line in printed if line.startswith("  guard"))
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        def get(path: str) -> str:
            with browser.open(base + path, timeout=10) as response:
                return response.read().decode()

        def post(path: str, form: dict[str, str]) -> str:
            data = urllib.parse.urlencode(form).encode()
            with browser.open(base + path, data=data, timeout=10) as response:
                return response.read().decode()

        token = csrf_of(get("/login"))
        post("/login", {"csrf_token": token, "username": "guard", "password": password})
        live = get("/console/?lang=en")
        assert f'id="gate-{VEHICLE_GATE}"' in live and f'id="gate-{DOOR_GATE}"' in live
        action = f"/console/gates/{VEHICLE_GATE}/open"
        relay = factory.pin(OPEN_PIN)
        before = _rising_edges(relay)
        form = {"csrf_token": csrf_of(live), "form_nonce": nonce_for(live, action)}
        post(action + "?lang=en", {**form, "reason": "demo: delivery van"})
        assert _rising_edges(relay) == before + 1
        (opened,) = [e for e in recent_events(db, 50) if e["kind"] == "manual_open"]
        assert opened["details"]["operator"] == "guard"
        health = get("/console/health.json")
        assert re.search(r'"running":\s*true', health)
    finally:
        stop.set()
        serving.join(30)
    assert not serving.is_alive() and printed[-1] == "Demo stopped: relays at rest."
    assert factory.pin(OPEN_PIN).state is False and factory.pin(LOCK_PIN).state is False
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
        raise AssertionError("the console still answers after the demo stopped")
    except urllib.error.URLError:
        pass
