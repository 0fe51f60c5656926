"""Pages in the states the every-endpoint walk (tests/test_pages_browser.py) does not reach:
the longest values the forms accept (a 60-character name, 60-character room parts, a
200-character household-registration address, a 100-character occupation, a long
watchlist reason) and error states (a refused filter, an unknown id, a form sent back with
its errors), in real Chromium at 390 px and 1366 px, in Chinese: nothing wider than the
screen, every control readable (tests/page_checks.js), no English left on a zh page's
error message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from helpers import PASSWORD, USERS, tenant_form

from edge import audit
from edge.db import connect, transaction
from edge.people.residents import insert_resident
from edge.people.vehicles import add_watch
from qr_registry.rooms import add_room

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "pages" / "states"
VIEWPORTS = {"small": (360, 740), "phone": (390, 844), "desktop": (1366, 768)}
CHECK_JS = "\n".join(
    line
    for line in Path(__file__).with_name("page_checks.js").read_text("utf-8").splitlines()
    if not line.startswith("//")
)
LONG_NAME = "欧阳" + "建国长名" * 14 + "终"  # 59 characters
LONG_PART = "幸福" * 30  # 60 characters: a room's property, building, unit and number each
LONG_ADDRESS = "江苏省南京市玄武区" + "中山东路长巷" * 31 + "1号"


@pytest.fixture(scope="module")
def site(tmp_path_factory, console_env, gate_config, served):
    tmp = tmp_path_factory.mktemp("states")
    env = console_env(tmp, config=gate_config(tmp))
    config, clock = env["config"], env["clock"]
    vault = env["app"].extensions["menwei"].vault
    db = connect(config.storage.database_path)
    with transaction(db) as conn:
        rid = insert_resident(conn, vault, LONG_NAME, "3-1-402", "residents", clock())
        room = add_room(conn, LONG_PART, LONG_PART, LONG_PART, "1" * 60, env["ids"]["landlord"],
                        clock())  # fmt: skip
    add_watch(
        db, "京A88888", "被盗车辆（案件 2026-118，" + "请立即联系值班民警并留住车辆" * 5 + "）"
    )
    db.conn.close()
    tenant = env["app"].test_client()
    url = f"/r/{room.token}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', tenant.get(url).text)[1]
    form = {**tenant_form(seq=201, name=LONG_NAME), "hukou_address": LONG_ADDRESS,
            "occupation": "高级" * 50, "csrf_token": csrf}  # fmt: skip
    response = tenant.post(url, data=form)
    assert response.status_code == 303, response.text[:3000]
    db = connect(config.storage.database_path)
    reg = db.execute("SELECT id FROM registrations").fetchone()[0]
    db.conn.close()
    env["seeded"] = {"rid": rid, "room": room.id, "token": room.token, "reg": reg}
    with served(env["app"]) as base:
        env["base"] = base
        yield env


@pytest.fixture(autouse=True)
def site_audit_key(site):
    audit.use_key_file(site["config"].security.audit_key_path)


@pytest.fixture(scope="module")
def browser(launch_chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = launch_chromium(pw)
        yield launched
        launched.close()


def _states(seeded: dict) -> dict[str | None, list[str]]:
    reg, rid, room = seeded["reg"], seeded["rid"], seeded["room"]
    return {
        None: [f"/r/{seeded['token']}", "/r/AAAAAAAAAAAAAAAAAAAAAA", "/no-such-page"],
        "admin": [
            f"/people/{rid}",
            "/people/",
            "/people/?q=" + "欧阳",
            f"/rooms/{room}",
            "/rooms/",
            "/people/2147483000",
            "/events/?from=2026-13-45",
            "/events/?plate=" + "京" * 300,
            "/watchlist/",
            "/admin/audit",
            "/admin/audit?page=zzz",
        ],
        "landlord": ["/landlord/", f"/landlord/registrations/{reg}", "/landlord/registrations/x"],
        "police": [
            "/police/",
            f"/police/registrations/{reg}",
            "/police/?from=yesterday",
            "/police/?name=" + "名" * 70,
            "/police/registrations/nope",
        ],
        "grid": ["/police/", f"/police/registrations/{reg}"],
        "guard": [f"/people/{rid}", "/people/", "/events/?to=2026-02-30"],
    }


def _log_in(page: Any, base: str, role: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


ENGLISH = re.compile(r"\b(?:the|not|must|Enter|cannot|Unknown|invalid|There is)\b")


@pytest.mark.parametrize("role", [None, "admin", "landlord", "police", "grid", "guard"],
                         ids=lambda r: r or "anonymous")  # fmt: skip
def test_long_values_and_error_states_fit_the_screen_in_chinese(site, browser, role):
    base = site["base"]
    context = browser.new_context(reduced_motion="reduce")
    context.add_cookies([{"name": "lang", "value": "zh", "url": base}])
    page = context.new_page()
    if role is not None:
        _log_in(page, base, role)
    found: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for view, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        for url in _states(site["seeded"])[role]:
            page.goto(base + url)
            found += [f"{view} {url}: {p}" for p in page.evaluate(CHECK_JS)]
            main = page.locator("main").inner_text() if page.locator("main").count() else ""
            english = ENGLISH.findall(main)
            if english:
                found.append(f"{view} {url}: English on a zh page: {english} in {main[:300]!r}")
            slug = re.sub(r"[^A-Za-z0-9]+", "_", url)[:50].strip("_") or "root"
            page.screenshot(path=str(ARTIFACTS / f"{role or 'anon'}-{view}-{slug}.png"),
                            full_page=True)  # fmt: skip
        if role is None:  # the tenant's form sent back with an error on every field
            page.goto(f"{base}/r/{site['seeded']['token']}")
            page.fill("#doc_number", "1" * 40)
            page.fill("#phone", "12" * 16)
            page.fill("#name", LONG_NAME + "·" * 4)
            page.click("#submit")
            page.wait_for_selector(".field-error")
            assert page.locator(".field-error").count() >= 5
            found += [f"{view} form with errors: {p}" for p in page.evaluate(CHECK_JS)]
            page.screenshot(path=str(ARTIFACTS / f"anon-{view}-form-errors.png"), full_page=True)
    context.close()
    assert found == [], "\n".join(found)
