"""The admin's dashboard and audit-log page in Debian's Chromium (Playwright) against
waitress on loopback, in Chinese, on a phone (390 px) and a desktop (1366 px): the charts
draw (SVG with bars), fit the width, the numbers tables open, the audit page filters and
shows the chain intact. Screenshots: test-artifacts/dashboard/.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers import PASSWORD, USERS, watch_problems

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"

pytestmark = pytest.mark.usefixtures("launch_chromium")


@pytest.fixture
def site(tmp_path, gate_config, console_env, event_recorder, served):
    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config)
    writer = event_recorder(config)
    now = env["clock"]()
    reasons = ["unknown_vehicle", "resident_expired", "outside_schedule"]
    for i in range(120):  # ~10 days of a few passages, some denied, some alarms
        at = now - timedelta(hours=i * 2, minutes=7)
        gate = "east" if i % 3 == 0 else "north"
        kind = "face_passage" if gate == "east" else "vehicle_passage"
        if i % 4 == 0:
            code = reasons[i % 3]
            writer.write(at, kind=kind, gate=gate, reasons=({"code": code, "message": code},))
        else:
            writer.write(at, kind=kind, gate=gate, decision="open")
    writer.write(now - timedelta(hours=5), kind="door_forced", gate="east", decision="none")
    with served(env["app"]) as base:
        env["base"] = base
        yield env


def _fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_admin_sees_dashboard_and_audit_page(site, launch_chromium, width, height) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, is_mobile=width < 500
            )
            page = context.new_page()
            problems = watch_problems(page)
            page.goto(site["base"] + "/login?lang=zh")
            page.fill("input[name=username]", USERS["admin"])
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/dashboard/")
            assert page.locator("h1").inner_text() == "仪表盘"
            charts = page.locator("svg.dash-chart")
            assert charts.count() == 4
            assert page.locator("#dash-hourly svg rect").count() > 0
            assert page.locator("#dash-daily svg rect").count() > 0
            box = charts.first.bounding_box()
            assert box is not None and 300 <= box["width"] <= 760 and box["height"] > 80
            assert _fits(page)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{width}.png"), full_page=True)
            page.click("#dash-hourly summary")
            assert page.locator("#dash-hourly-table").is_visible()
            assert _fits(page)
            assert "车牌未登记" in page.locator("#dash-reasons").inner_text()
            page.goto(site["base"] + "/admin/audit")
            assert page.locator("#verify-result").inner_text().startswith("完整。")
            assert page.locator("tr[data-seq]").count() >= 1
            page.select_option("select[name=action]", "login")
            page.click("#audit-search")
            page.wait_for_url("**action=login**")
            assert page.locator("tr[data-seq]").first.inner_text().count("登录") >= 1
            page.click("#audit-verification summary")
            assert page.locator(".audit-how").inner_text().count("Ed25519") == 1
            assert _fits(page)
            page.screenshot(path=str(ARTIFACTS / f"audit-{width}.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
