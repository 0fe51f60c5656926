"""Real headless Chromium (Debian's, driven by Playwright) against waitress on loopback:
a tenant registers on a phone-sized screen, the landlord confirms, police search and export.
Screenshots are kept in test-artifacts/ (gitignored) for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import launch, needs_chromium, served
from registry_support import PASSWORD, Clock, make_config, seed, tenant_form

from edge.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "registry"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("browser")
    clock = Clock()
    config = make_config(tmp)
    app = create_app(config, clock=clock)
    ids = seed(config, clock())
    with served(app) as base:
        yield {"base": base, "ids": ids}


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = launch(pw)
        yield launched
        launched.close()


def login(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_tenant_registers_landlord_confirms_police_search_and_export(site, browser) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, token = site["base"], site["ids"]["room_a1"].token
    form = tenant_form(seq=135, name="欧阳·娜娜", phone="13812345678")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, device_scale_factor=2, locale="zh-CN")  # fmt: skip
    page = phone.new_page()
    page.goto(f"{base}/r/{token}")
    assert page.locator("#room-label").inner_text() == "幸福小区 3幢 1单元 401"
    page.screenshot(path=ARTIFACTS / "tenant-form.png", full_page=True)
    # A first try with a wrong check digit shows the message in Chinese.
    page.fill("#name", form["name"])
    page.select_option("#doc_type", "resident_id")
    page.fill(
        "#doc_number", form["doc_number"][:-1] + ("0" if form["doc_number"][-1] != "0" else "1")
    )
    for field in ("birth_date", "move_in_date", "expected_until"):
        page.fill(f"#{field}", form[field])
    page.select_option("#sex", form["sex"])
    page.fill("#phone", form["phone"])
    page.fill("#hukou_address", form["hukou_address"])
    page.fill("#occupation", form["occupation"])
    page.select_option("#relation", "tenant")
    page.check("#consent")
    page.click("#submit")
    assert "校验码不正确" in page.locator("#doc_number-error").inner_text()
    page.screenshot(path=ARTIFACTS / "tenant-form-error.png", full_page=True)
    page.fill("#doc_number", form["doc_number"])
    page.click("#submit")
    page.screenshot(path=ARTIFACTS / "tenant-after-submit.png", full_page=True)
    page.wait_for_selector("#done", timeout=5000)
    assert "等待房东确认" in page.locator("#done").inner_text()
    page.screenshot(path=ARTIFACTS / "tenant-done.png", full_page=True)
    # The phone-sized form needs no horizontal scrolling.
    page.goto(f"{base}/r/{token}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    login(page, base, "landlord_a")
    page.click("text=欧阳·娜娜")
    assert page.locator("#doc-mask").inner_text().startswith("3201**********")
    page.click("#confirm")
    assert page.locator("#status").inner_text().startswith("已确认")
    page.screenshot(path=ARTIFACTS / "landlord-confirmed.png", full_page=True)
    page.click("text=退出登录")

    login(page, base, "police")
    page.fill("input[name=name]", "欧阳")
    page.click("#search")
    assert "欧阳·娜娜" in page.locator("#results").inner_text()
    assert form["doc_number"] not in page.content()
    page.screenshot(path=ARTIFACTS / "police-search.png", full_page=True)
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = ARTIFACTS / "export.csv"
    download.value.save_as(saved)
    text = saved.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and "欧阳·娜娜".encode() in text
    desk.close()
