"""Real headless Chromium (Debian's, driven by Playwright) against waitress on loopback:
a tenant registers on a phone-sized screen, the landlord confirms, police search and export.
Screenshots are kept in test-artifacts/ (gitignored) for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import PASSWORD, Clock, tenant_form, watch_problems

from edge.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "registry"

pytestmark = pytest.mark.usefixtures("launch_chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory, registry_config, seed_registry, served):
    tmp = tmp_path_factory.mktemp("browser")
    clock = Clock()
    config = registry_config(tmp)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    with served(app) as base:
        yield {"base": base, "ids": ids}


@pytest.fixture(scope="module")
def browser(launch_chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = launch_chromium(pw)
        yield launched
        launched.close()


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_tenant_registers_landlord_confirms_police_search_and_export(site, browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, token = site["base"], site["ids"]["room_a1"].token
    form = tenant_form(seq=135, name="欧阳·娜娜", phone="13812345678")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, device_scale_factor=2, locale="zh-CN")  # fmt: skip
    page = phone.new_page()
    problems = watch_problems(page)
    page.goto(f"{base}/r/{token}")
    assert page.locator("#room-label").inner_text() == "幸福小区 3幢 1单元 401"
    # A passport asks for a nationality (searchable list) and no 民族.
    page.select_option("#doc_type", "passport")
    assert page.locator("#nationality").is_visible() and not page.locator("#ethnicity").is_visible()
    page.fill("#nationality", "德国")
    assert page.locator("#countries option[value='德国 Germany (DEU)']").count() == 1
    page.screenshot(path=ARTIFACTS / "tenant-form-passport.png", full_page=True)
    # A resident ID asks for 民族 with no default, and fills and locks sex and birth date.
    page.select_option("#doc_type", "resident_id")
    assert not page.locator("#nationality").is_visible() and page.locator("#ethnicity").is_visible()
    assert page.locator("#ethnicity").input_value() == ""
    page.fill("#name", form["name"])
    page.fill(
        "#doc_number", form["doc_number"][:-1] + ("0" if form["doc_number"][-1] != "0" else "1")
    )
    assert page.locator("#birth_date").get_attribute("readonly") is None  # bad check digit
    page.fill("#doc_number", form["doc_number"])
    assert page.locator("#birth_date").input_value() == form["birth_date"]
    assert page.locator("#birth_date").get_attribute("readonly") is not None
    assert page.locator("#sex").input_value() == form["sex"]
    page.select_option("#ethnicity", "汉族")
    for field in ("move_in_date", "expected_until"):
        page.fill(f"#{field}", form[field])
    page.fill("#phone", "010 6552 9988")  # a landline: refused, in Chinese
    page.fill("#hukou_address", form["hukou_address"])
    page.fill("#occupation", form["occupation"])
    page.select_option("#relation", "tenant")
    page.check("#consent")
    page.click("#submit")
    assert "手机号码" in page.locator("#phone-error").inner_text()
    page.screenshot(path=ARTIFACTS / "tenant-form-error.png", full_page=True)
    assert len(problems) == 2 and "422" in problems[0]  # the refused form, and nothing else
    problems.clear()
    page.fill("#phone", form["phone"])
    page.click("#submit")
    page.wait_for_selector("#done", timeout=10_000)
    assert "等待房东确认" in page.locator("#done").inner_text()
    ref = page.locator("#ref-code").inner_text()
    assert len(ref) == 9 and ref[4] == "-"
    summary = page.locator("#summary").inner_text()
    assert "欧*" in summary and form["doc_number"][-4:] in summary
    assert form["doc_number"] not in page.content() and form["name"] not in summary
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "tenant-done.png", full_page=True)
    # The status page, by reference and phone.
    page.click("#status-link")
    page.fill("#ref", ref)
    page.fill("#phone", form["phone"])
    page.click("#check")
    assert "待房东确认" in page.locator("#status").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "tenant-status.png", full_page=True)
    # The phone-sized form needs no horizontal scrolling.
    page.goto(f"{base}/r/{token}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert problems == []
    phone.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    login(page, base, "landlord_a")
    page.click("text=欧阳·娜娜")
    assert page.locator("#doc-mask").inner_text() == "*" * 14 + form["doc_number"][-4:]
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
