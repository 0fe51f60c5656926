"""A resident on a phone, in real headless Chromium (Debian's, driven by Playwright) against
waitress on loopback: log in, land on their own passes, issue a QR pass for a visitor (the
code shown once decodes to a token the box knows, hosted by this resident), then revoke it.
The page must fit a phone's width. Screenshots go to test-artifacts/my-passes/.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import PASSWORD, USERS, db_of, watch_problems

from edge.people.passes import pass_fact

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "my-passes"

pytestmark = pytest.mark.usefixtures("launch_chromium")


@pytest.fixture
def site(tmp_path, console_env, served):
    env = console_env(tmp_path, resident_household="5-2-1101")
    with served(env["app"]) as base:
        env["base"] = base
        yield env


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fits_the_width(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_resident_issues_and_revokes_a_qr_pass_on_a_phone(site, launch_chromium):
    from playwright.sync_api import sync_playwright

    base = site["base"]
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        page = phone.new_page()
        problems = watch_problems(page)

        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS["resident"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/my/")
        assert "5-2-1101" in page.inner_text("#host")
        assert _fits_the_width(page), "the passes page is wider than the phone"
        _shot(page, "1-my-passes")

        page.click("#new-qr")
        page.wait_for_selector("#pass-form")
        assert page.locator("input[name=household]").count() == 0, "the host is not asked"
        page.fill("input[name=note]", "亲戚来访")
        assert _fits_the_width(page), "the form is wider than the phone"
        page.click("#issue")
        page.wait_for_selector("#qr")
        _shot(page, "2-qr-issued")
        data_uri = page.get_attribute("#qr", "src")
        png = base64.b64decode(data_uri.split(",", 1)[1])
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        token, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
        fact = pass_fact(db_of(site), token)
        assert fact is not None and not fact.revoked and fact.label.endswith("亲戚来访")
        assert "5-2-1101" in fact.label

        page.goto(f"{base}/my/")
        page.click("form.revoke button")
        page.wait_for_selector("#confirm-form")  # the first click only asks
        assert not pass_fact(db_of(site), token).revoked
        _shot(page, "3-confirm-revoke")
        page.click("#confirm")
        page.wait_for_selector("#done")
        _shot(page, "3-revoked")
        assert pass_fact(db_of(site), token).revoked
        assert problems == [], problems
        browser.close()
