"""A guard's shift in real headless Chromium (Debian's, driven by Playwright) against
waitress on loopback, with a real vehicle gate running beside it on MockFactory pins:

the guard logs in, enrols a resident from a real face photo, issues a visitor QR pass (the
code shown once is decoded back to a token the box knows), opens the live view, a real
street photo of a watchlisted car is replayed by the gate's camera and its event and alert
appear without a reload, then the guard opens the gate by hand and the barrier relay pulses
once. Screenshots of each page are kept in test-artifacts/console/ (gitignored).
"""

from __future__ import annotations

import base64
import csv
import itertools
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import FACES, PASSWORD, USERS, db_of, watch_problems

from edge.db import transaction, utc_now
from edge.events.record import recent_events
from edge.gates.assembly import vehicle_gate
from edge.people.addresses import generate_rooms
from edge.people.passes import token_hash
from edge.people.vehicles import add_watch

PLATES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "plates"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "console"

pytestmark = [
    pytest.mark.usefixtures("launch_chromium"),
    pytest.mark.skipif(
        not (PLATES / "labels.tsv").is_file(),
        reason=f"real plate fixtures not present at {PLATES} (../shared is absent)",
    ),
]


def _street_photo() -> tuple[Path, str]:
    """A real full-frame street photo and the plate its label says it shows."""
    with (PLATES / "labels.tsv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["kind"] == "full_frame"]
    return PLATES / rows[0]["file"], rows[0]["plate"]


def _rising_edges(pin) -> int:
    states = [s.state for s in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if b and not a)


@pytest.fixture
def site(tmp_path, console_env, gate_config, served):
    config = gate_config(tmp_path)  # gate "north": barrier relay on GPIO 17, folder camera
    env = console_env(tmp_path, clock=utc_now, config=config)  # real time: the gate's clock
    with served(env["app"]) as base:
        env["base"] = base
        yield env


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _qr_token(data_uri: str) -> str:
    """Decode the QR image the page showed (a data: URI PNG) back to its text."""
    png = base64.b64decode(data_uri.split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def test_guard_enrols_issues_a_pass_sees_a_live_alert_and_opens_the_gate(
    site, face_labels, launch_chromium, pin_factory
):
    from playwright.sync_api import sync_playwright

    face = next(f for f, who in face_labels.items() if who == "obama" and f.endswith(".jpg"))
    photo, plate = _street_photo()
    db = db_of(site)
    add_watch(db, plate, "reported stolen (test)")
    with transaction(db) as conn:  # forms pick rooms: the room exists first
        generate_rooms(conn, "3幢", [1], [4], [2], utc_now())
    base, zone = site["base"], site["config"].site.zone
    relay = pin_factory.pin(17)

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
        problems = watch_problems(page)

        # 1. log in (Chinese, the default)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS["guard"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/console/")
        _shot(page, "1-live-after-login")

        # 2. enrol a resident with a real face photo
        page.goto(f"{base}/people/new")
        page.fill("#add-form input[name=name]", "测试住户")
        page.select_option("#add-form select[name=household]", label="3幢1单元 402")
        page.click("#add")
        page.wait_for_selector("#faces-form")
        page.set_input_files("#faces-form input[name=photos]", str(FACES / face))
        page.check("#faces-form input[name=consent]")
        page.click("#enrol")
        page.wait_for_load_state()
        _shot(page, "2-resident-enrolled")
        rows = db.execute(
            "SELECT r.id, r.face_consent_by, COUNT(t.id) FROM residents r"
            " JOIN face_templates t ON t.resident_id = r.id GROUP BY r.id"
        ).fetchall()
        assert [(by, n) for _rid, by, n in rows] == [(USERS["guard"], 1)]
        assert page.input_value("#edit-form input[name=name]") == "测试住户"  # own page only
        page.goto(f"{base}/people/")
        assert "测试住户" not in page.content() and "测**" in page.content()  # masked in lists

        # 3. issue a visitor QR pass; the code shown once is a token the box knows
        page.goto(f"{base}/passes/new/qr")
        until = (utc_now() + timedelta(hours=6)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        page.select_option("#pass-form select[name=household]", label="3幢1单元 402")
        page.fill("#pass-form input[name=valid_to]", until)
        page.fill("#pass-form input[name=uses]", "2")
        page.fill("#pass-form input[name=note]", "送快递")
        page.click("#issue")
        page.wait_for_selector("#qr")
        _shot(page, "3-pass-issued")
        token = _qr_token(page.get_attribute("#qr", "src"))
        stored = db.execute(
            "SELECT max_uses, uses, issued_by FROM qr_passes WHERE token_hash = ?",
            (token_hash(token),),
        ).fetchall()
        assert stored == [(2, 0, f"user:{site['ids']['guard']}")]

        # 4. the live view; a real street photo of a watchlisted car reaches the camera
        page.goto(f"{base}/console/")
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=10_000)
        frames = Path(site["config"].gates[0].camera.source)
        shutil.copy(photo, frames / "1-car.jpg")
        stop = threading.Event()
        with vehicle_gate(site["config"], "north", stop, pin_factory=pin_factory):
            page.wait_for_selector(f"#gate-north >> text={plate}", timeout=30_000)
            page.wait_for_selector(".alert-banner", timeout=10_000)
            _shot(page, "4-live-plate-event-and-alert")
            assert _rising_edges(relay) == 0  # the watchlisted stranger's car stays out
            (passage,) = [e for e in recent_events(db, 20) if e["kind"] == "vehicle_passage"]
            assert (passage["plate"], passage["decision"]) == (plate, "deny")

            # 5. open the gate by hand, with a reason
            page.fill("#gate-north input[name=reason]", "救护车进入")
            page.click("#gate-north button[type=submit]")
            page.wait_for_selector("#notice", timeout=10_000)
            _shot(page, "5-manual-open")
            assert _rising_edges(relay) == 1
        (opened,) = [e for e in recent_events(db, 20) if e["kind"] == "manual_open"]
        assert opened["details"]["operator"] == USERS["guard"]
        assert relay.state is False  # safe state once the gate stopped
        assert problems == [], problems
        browser.close()
