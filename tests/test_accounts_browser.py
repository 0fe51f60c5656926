"""A guard on a phone-sized Chromium (Debian's, via Playwright) against waitress on loopback:
the account pages fit the width, the password change works through the real form, and the
sessions page shows this session and ends the others. Screenshots: test-artifacts/account/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import PASSWORD, USERS, watch_problems

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "account"
NEW_PASSWORD = "lantern-orchard-41"

pytestmark = pytest.mark.usefixtures("launch_chromium")


@pytest.fixture
def site(tmp_path, console_env, served):
    env = console_env(tmp_path)
    with served(env["app"]) as base:
        env["base"] = base
        yield env


def _fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_guard_changes_password_and_ends_other_sessions_on_a_phone(site, launch_chromium) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            desk = browser.new_context()
            other = desk.new_page()
            other.goto(site["base"] + "/login")
            other.fill("input[name=username]", USERS["guard"])
            other.fill("input[name=password]", PASSWORD)
            other.click("button[type=submit]")
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            page = phone.new_page()
            problems = watch_problems(page)
            page.goto(site["base"] + "/login?lang=en")
            page.fill("input[name=username]", USERS["guard"])
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click("details.menu summary")  # on a phone the account link is in the menu
            page.click("a.who >> visible=true")
            assert page.url.endswith("/account/sessions")
            assert page.locator("text=this one").count() == 1
            assert page.locator("form[action$='/account/sessions/end'] button").count() == 1
            assert _fits(page)
            page.screenshot(path=str(ARTIFACTS / "sessions.png"), full_page=True)
            page.click("text=Change password")
            page.fill("input[name=current]", PASSWORD)
            page.fill("input[name=new]", NEW_PASSWORD)
            page.fill("input[name=again]", NEW_PASSWORD)
            assert _fits(page)
            page.screenshot(path=str(ARTIFACTS / "password.png"), full_page=True)
            page.click("form.stack button[type=submit]")
            assert "your other sessions were ended" in page.content()
            assert page.locator("form[action$='/account/sessions/end'] button").count() == 0
            other.goto(site["base"] + "/console/")
            assert other.url.endswith("/login")  # the desk's session ended
            assert problems == []
        finally:
            browser.close()
