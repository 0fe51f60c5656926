"""The guard's live view, manual open and health page.

Manual open and health run against a REAL vehicle gate process loop
(edge.gates.assembly.vehicle_gate: folder camera of generated frames, plate reader, SQLite, the
control socket) on MockFactory pins; the relay pin is read back. The live page's polling
script is checked in real headless Chromium against waitress.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from datetime import timedelta

import pytest
from gpiozero.pins.mock import MockFactory
from helpers import PASSWORD, USERS, audit_rows, client_as, csrf_of, db_of, nonce_for

from edge.events.record import NewEvent, recent_events
from edge.gates.assembly import vehicle_gate
from edge.gates.control import socket_path

OPEN_NORTH = "/console/gates/north/open"
OPEN_EAST = "/console/gates/east/open"


def rising_edges(pin) -> int:
    states = [s.state for s in pin.states]
    return sum(1 for a, b in itertools.pairwise(states) if b and not a)


@pytest.fixture(scope="module")
def site(tmp_path_factory, console_env, gate_config):
    """The console app and a running ``north`` vehicle gate; ``east`` is configured but its
    gate process is not running."""
    tmp = tmp_path_factory.mktemp("live")
    config = gate_config(tmp)
    env = console_env(tmp, config=config)
    factory = MockFactory()
    stop = threading.Event()
    with vehicle_gate(config, "north", stop, pin_factory=factory) as gate:
        env.update(gate=gate, pin=factory.pin(17))
        yield env
    assert not socket_path(config.storage.run_dir, "north").exists()


@pytest.fixture
def env(tmp_path, event_recorder, console_env, gate_config):
    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config)
    env["writer"] = event_recorder(config)
    yield env
    env["writer"].close()


def manual_opens(env) -> list[dict]:
    return [e for e in recent_events(db_of(env), 100) if e["kind"] == "manual_open"]


def post_open(client, page: str, action: str, **form: str):
    data = {"csrf_token": csrf_of(page), "form_nonce": nonce_for(page, action), **form}
    return client.post(action + "?lang=en", data=data)


# -- who may enter ----------------------------------------------------------------------------
def test_live_and_health_only_for_admin_and_guard(env):
    urls = ("/console/", "/console/health", "/console/health.json")
    for role in ("admin", "guard"):
        client = client_as(env, role)
        for url in urls:
            assert client.get(url).status_code == 200, (role, url)
    for role in ("police", "grid", "landlord"):
        client = client_as(env, role)
        for url in urls:
            assert client.get(url).status_code == 403, (role, url)
        token = csrf_of(client.get("/events/" if role != "landlord" else "/landlord/").text)
        refused = client.post(OPEN_NORTH, data={"csrf_token": token, "reason": "x"})
        assert refused.status_code == 403
    anonymous = client_as(env, None)
    for url in urls:
        assert anonymous.get(url).status_code == 302
    assert anonymous.post(OPEN_NORTH, data={"reason": "x"}).status_code in (400, 401)
    assert manual_opens(env) == [] and audit_rows(db_of(env), "manual_open") == []


# -- the live page ----------------------------------------------------------------------------
def test_live_page_shows_each_gate_with_its_latest_events_and_recent_alerts(env):
    writer, now = env["writer"], env["clock"]()
    old_alert = writer.write(now - timedelta(hours=20), kind="camera_fault", decision="none")
    north = [
        writer.write(now - timedelta(minutes=10 - i), plate=f"皖A{12340 + i}", snapshot=True)
        for i in range(8)
    ]
    forced = writer.write(now - timedelta(minutes=1), kind="door_forced", gate="east")
    html = client_as(env, "guard").get("/console/?lang=en").text
    card = re.search(r'<section class="gate-card[^"]*" id="gate-north".*?</section>', html, re.S)
    shown = re.findall(r'data-event-id="([0-9A-Z]{26})"', card.group(0))
    assert shown == [e.id for e in reversed(north)][:6], "newest six, newest first"
    assert f'src="/events/{north[-1].id}/snapshot?size=thumb"' in card.group(0)
    assert "皖A12347" in card.group(0) and "09:57:00" in card.group(0)  # site time, seconds
    east = re.search(r'id="gate-east".*?</section>', html, re.S).group(0)
    assert forced.id in east and "Door forced open" in east
    banners = re.findall(r'data-alert-id="([0-9A-Z]{26})"', html)
    assert banners == [forced.id], "alerts of the last hours only"
    assert old_alert.id not in html.split('id="alerts"')[1].split("</div>")[0]
    top = db_of(env).execute("SELECT MAX(rowid) FROM events").fetchone()[0]
    assert f'data-cursor="{top}"' in html
    assert '<script src="/static/console.js" defer></script>' in html
    assert "<script>" not in html and "onclick" not in html
    # Each gate card has its open form with a required reason and a one-time nonce.
    for action in (OPEN_NORTH, OPEN_EAST):
        assert nonce_for(html, action)
    assert html.count('name="reason" required maxlength="200"') == 2


def test_opened_notice_needs_a_real_event_id(env):
    client = client_as(env, "guard")
    response = client.get("/console/?opened=../../x&lang=en")
    assert response.status_code == 400 and "not an event number" in response.text
    stored = env["writer"].write(env["clock"](), plate="皖A12345")
    page = client.get(f"/console/?opened={stored.id}&lang=en").text
    assert 'id="notice"' not in page, "only a manual_open event earns the notice"
    spooled = client.get("/console/?opened_gate=north&lang=en").text
    assert "北门车行 was opened by hand; its event will be saved" in spooled
    assert client.get("/console/?opened_gate=nowhere").status_code == 404


# -- manual open against a running gate -------------------------------------------------------
def test_manual_open_reaches_the_running_gate_once_and_is_audited(site):
    client = client_as(site, "guard")
    page = client.get("/console/").text
    edges = rising_edges(site["pin"])
    response = post_open(client, page, OPEN_NORTH, reason="  送货车辆  ")
    assert response.status_code == 303, response.text
    assert "/console/?opened=" in response.location
    deadline = time.monotonic() + 2
    while rising_edges(site["pin"]) == edges and time.monotonic() < deadline:
        time.sleep(0.005)
    assert rising_edges(site["pin"]) == edges + 1, "the barrier relay pulsed"
    [event] = manual_opens(site)
    assert event["id"] == response.location.rsplit("=", 1)[1]
    assert event["details"]["operator"] == USERS["guard"]
    assert event["decision"] == "open" and "送货车辆" in event["reasons"][0]["message"]
    [row] = audit_rows(db_of(site), "manual_open")
    assert row["actor"] == f"user:{site['ids']['guard']}" and row["target"] == "gate:north"
    assert row["details"] == {"reason": "送货车辆", "result": "opened", "event_id": event["id"]}
    notice = client.get(f"{response.location}&lang=zh").text
    said = re.search(r'<p class="notice" role="status" id="notice">([^<]*)</p>', notice)[1]
    assert re.fullmatch(rf"北门车行 已开启（保安 {USERS['guard']}，\d\d:\d\d）", said), said
    assert event["id"] not in said, "in words, not an event number"
    # A double click (the same form sent again) is refused and opens nothing.
    again = post_open(client, page, OPEN_NORTH, reason="送货车辆")
    assert again.status_code == 409 and "already sent" in again.text
    time.sleep(0.4)
    assert rising_edges(site["pin"]) == edges + 1
    assert len(manual_opens(site)) == 1 and len(audit_rows(db_of(site), "manual_open")) == 1


def test_two_simultaneous_submits_of_one_form_open_once(site):
    clients = [client_as(site, "guard"), client_as(site, "admin")]
    pages = [c.get("/console/").text for c in clients]
    nonce = nonce_for(pages[0], OPEN_NORTH)
    edges, opens = rising_edges(site["pin"]), len(manual_opens(site))
    codes: list[int] = []
    start = threading.Barrier(2)

    def submit(client, page) -> None:
        data = {"csrf_token": csrf_of(page), "form_nonce": nonce, "reason": "救护车"}
        start.wait()
        codes.append(client.post(OPEN_NORTH, data=data).status_code)

    threads = [
        threading.Thread(target=submit, args=pair) for pair in zip(clients, pages, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(codes) == [303, 409]
    time.sleep(0.5)
    assert rising_edges(site["pin"]) == edges + 1 and len(manual_opens(site)) == opens + 1


@pytest.mark.parametrize(
    ("action", "form", "code", "message"),
    [
        (OPEN_NORTH, {"reason": "   "}, 400, "Give a reason"),
        (OPEN_NORTH, {"reason": "x" * 201}, 400, "too long"),
        ("/console/gates/nowhere/open", {"reason": "x"}, 404, "no gate nowhere"),
        ("/console/gates/..%2F..%2Fetc/open", {"reason": "x"}, 404, ""),
    ],
)
def test_bad_open_requests_change_nothing(site, action, form, code, message):
    client = client_as(site, "admin")
    page = client.get("/console/").text
    edges, opens = rising_edges(site["pin"]), len(manual_opens(site))
    audits = len(audit_rows(db_of(site)))
    data = {"csrf_token": csrf_of(page), "form_nonce": nonce_for(page, OPEN_NORTH), **form}
    response = client.post(action + "?lang=en", data=data)
    assert response.status_code == code and message in response.text
    time.sleep(0.1)
    assert rising_edges(site["pin"]) == edges and len(manual_opens(site)) == opens
    assert len(audit_rows(db_of(site))) == audits


def test_open_without_nonce_or_csrf_is_refused(site):
    client = client_as(site, "guard")
    page = client.get("/console/").text
    edges = rising_edges(site["pin"])
    no_nonce = client.post(
        OPEN_NORTH + "?lang=en", data={"csrf_token": csrf_of(page), "reason": "x"}
    )
    assert no_nonce.status_code == 409
    no_csrf = client.post(
        OPEN_NORTH + "?lang=en", data={"form_nonce": nonce_for(page, OPEN_NORTH), "reason": "x"}
    )
    assert no_csrf.status_code == 400 and "expired" in no_csrf.text
    time.sleep(0.1)
    assert rising_edges(site["pin"]) == edges


def test_gate_not_running_is_a_clear_error_and_opens_nothing(site):
    client = client_as(site, "guard")
    page = client.get("/console/").text
    opens = len(manual_opens(site))
    response = post_open(client, page, OPEN_EAST, reason="快递")
    assert response.status_code == 409
    assert "东门人行 did not open" in response.text and "not running" in response.text
    assert 'value="快递"' in response.text, "the reason typed is kept for a retry"
    assert len(manual_opens(site)) == opens
    attempt = audit_rows(db_of(site), "manual_open")[-1]
    assert attempt["target"] == "gate:east" and attempt["details"]["result"] == "not_running"
    assert "event_id" not in attempt["details"]


# -- health -----------------------------------------------------------------------------------
def test_health_asks_the_running_gate_and_says_which_is_not_running(site):
    client = client_as(site, "admin")
    deadline = time.monotonic() + 5
    while True:
        body = client.get("/console/health.json").get_json()
        north = next(g for g in body["gates"] if g["gate_id"] == "north")
        if north["camera_state"] == "ok" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert north["running"] is True and north["camera_state"] == "ok"
    assert north["camera_fps"] > 0 and north["frames"] >= 1
    assert north["relay"]["action"] in ("idle", "opening") and north["storage_fault"] is None
    east = next(g for g in body["gates"] if g["gate_id"] == "east")
    assert east["running"] is False and "not running" in east["error"]
    assert body["cells"]["north.camera"]["level"] == "ok"
    assert body["cells"]["east.state"] == {"text": "未运行", "level": "bad"}
    html = client.get("/console/health?lang=en").text
    camera = re.search(r'data-cell="north.camera" class="lvl lvl-(\w+)">([^<]*)<', html)
    assert camera.group(1) == "ok" and camera.group(2).startswith("ok, ")
    assert re.search(r'data-cell="east.state" class="lvl lvl-bad">not running<', html)
    assert 'data-health="/console/health.json"' in html


def test_health_shows_disk_use_and_sync_backlog(env):
    writer = env["writer"]
    for i in range(3):
        writer.write(env["clock"]() - timedelta(minutes=30 - i), plate=f"皖A{12340 + i}",
                     snapshot=True)  # fmt: skip
    db = db_of(env)
    db.execute("UPDATE outbox SET state = 'dead', last_error = 'refused' WHERE rowid = 1")
    body = client_as(env, "guard").get("/console/health.json").get_json()
    assert body["sync"]["queued"] == 2 and body["sync"]["dead"] == 1
    assert body["sync"]["configured"] is False and body["sync"]["level"] == "bad"
    assert body["cells"]["sync.dead"] == {"text": "1", "level": "bad"}
    # no platform configured, yet events wait for one: amber, never green
    assert body["cells"]["sync.worker"] == {"text": "未接入区级平台", "level": "warn"}
    assert body["cells"]["sync.queued"]["level"] == "bad"
    snapshots = list(env["config"].storage.snapshot_dir.rglob("*.jpg"))
    assert body["disk"]["snapshot_files"] == 3 == len(snapshots)
    assert body["disk"]["snapshot_bytes"] == sum(p.stat().st_size for p in snapshots)
    assert body["disk"]["database_bytes"] > 0 and body["disk"]["free_bytes"] > 0
    assert all(g["running"] is False for g in body["gates"])


# -- the page in a real browser ---------------------------------------------------------------
def login(browser, base: str):
    """A fresh browser profile (its own localStorage) signed in as the guard."""
    page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", USERS["guard"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_alert_banner_appears_without_reload_and_acknowledgement_sticks(
    env, launch_chromium, served
):
    from playwright.sync_api import sync_playwright

    writer, now = env["writer"], env["clock"]()
    with served(env["app"]) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = login(browser, base)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/console/")
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=5000)
        alert = NewEvent("north", "watchlist_alert", now, "none", plate="京A88888",
                         reasons=({"code": "watchlist", "message": "stolen"},))  # fmt: skip
        passage = writer.write(now, plate="京A88888", snapshot=True, linked=(alert,))
        banner = f'.alert-banner[data-alert-id="{passage.linked_ids[0]}"]'
        page.wait_for_selector(banner, timeout=5000)  # how fast: bench/console_load.py
        assert page.is_visible(f'#gate-north [data-event-id="{passage.id}"]')
        assert page.eval_on_selector("#gate-north", "e => e.classList.contains('alarm')")
        page.screenshot(path=str(env["config"].storage.data_dir / "live.png"))
        page.click(f"{banner} button.ack")
        assert page.query_selector(banner) is None
        assert not page.eval_on_selector("#gate-north", "e => e.classList.contains('alarm')")
        page.reload()
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=5000)
        assert passage.linked_ids[0] in client_as(env, "guard").get("/console/").text
        assert page.query_selector(banner) is None, "acknowledged in this browser"
        other = login(browser, base)  # another browser profile has not acknowledged it
        other.goto(f"{base}/console/")
        other.wait_for_selector(f"{banner} button.ack", state="visible", timeout=5000)
        assert problems == [], problems
        browser.close()
