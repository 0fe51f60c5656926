"""An admin sets up a community in real headless Chromium (Debian's, driven by Playwright)
against waitress on loopback, in Chinese, on a 390 px phone and on a desktop: makes a
building's rooms with the form, imports a workbook of residents and vehicles (a bad one
first: every bad row listed, nothing imported), prints the building's stickers and the
PDF's QR codes — rendered with pdftoppm — decode back to the rooms' URLs. Screenshots are
kept in test-artifacts/admin-data/ (gitignored)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import PASSWORD, USERS, db_of, watch_problems
from openpyxl import Workbook
from test_console_data import decode_qr_codes

from edge.people.workbook import SHEETS

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "admin-data"
BASE_URL = "http://192.0.2.20:8080"

pytestmark = pytest.mark.usefixtures("launch_chromium")


@pytest.fixture
def site(tmp_path, console_env, registry_config, served):
    env = console_env(tmp_path, config=registry_config(tmp_path, base_url=BASE_URL))
    with served(env["app"]) as base:
        env["base"] = base
        yield env


def write_workbook(path: Path, building: str, bad: bool) -> Path:
    book = Workbook()
    book.remove(book.active)
    residents = book.create_sheet(SHEETS["residents"].title)
    residents.append(SHEETS["residents"].headers())
    for floor in (1, 2, 3):
        residents.append(["", building, "1单元", f"{floor}01", f"住户{floor}", "", "住户"])
    vehicles = book.create_sheet(SHEETS["vehicles"].title)
    vehicles.append(SHEETS["vehicles"].headers())
    vehicles.append(["京A12345", building, "1单元", "101", "住户车辆", "", ""])
    if bad:
        residents.append(["", building, "1单元", "999", "无房", "", "住户"])  # row 5
        vehicles.append(["京A1", building, "1单元", "101", "住户车辆", "", ""])  # row 3
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize(
    ("device", "viewport", "building"),
    [
        ("phone", {"width": 390, "height": 844}, "5幢"),
        ("desktop", {"width": 1280, "height": 900}, "6幢"),
    ],
)
def test_admin_makes_rooms_imports_a_workbook_and_prints_stickers(
    site, launch_chromium, tmp_path, device, viewport, building
):
    from playwright.sync_api import sync_playwright

    base = site["base"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(
            viewport=viewport, is_mobile=device == "phone", locale="zh-CN", accept_downloads=True
        )
        page = context.new_page()
        problems = watch_problems(page)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USERS["admin"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()

        # 1. a building's rooms with the form
        page.goto(f"{base}/data/")
        assert "批量数据" in page.content() and fits(page)
        page.fill("#generate-form input[name=building]", building)
        page.fill("#generate-form input[name=units]", "1-2")
        page.fill("#generate-form input[name=floors]", "1-3")
        page.fill("#generate-form input[name=rooms]", "1-2")
        page.click("#generate-rooms")
        page.wait_for_selector("#made")
        assert "已生成 12 间房" in page.text_content("#made")
        assert fits(page), "the rooms list fits the screen"
        page.screenshot(path=str(ARTIFACTS / f"{device}-1-rooms.png"), full_page=True)

        # 2. a workbook with bad rows: each listed with its row, nothing imported
        page.goto(f"{base}/data/")
        page.set_input_files(
            "#workbook-file", str(write_workbook(tmp_path / "bad.xlsx", building, True))
        )
        page.click("#check")
        page.wait_for_selector("#problems")
        rows = page.locator("#problems tr").all_text_contents()
        assert any("住户" in r and "5" in r and "不存在" in r for r in rows), rows
        assert any("车辆" in r and "3" in r and "车牌" in r for r in rows), rows
        assert fits(page)
        page.screenshot(path=str(ARTIFACTS / f"{device}-2-bad-rows.png"), full_page=True)
        db = db_of(site)
        assert db.execute("SELECT COUNT(*) FROM residents").fetchone()[0] == 0
        assert all("400" in p for p in problems), problems  # the refusal is a 400, by design
        problems.clear()

        # 3. the corrected workbook: preview, then everything at once
        page.set_input_files(
            "#workbook-file", str(write_workbook(tmp_path / "ok.xlsx", building, False))
        )
        page.click("#check")
        page.wait_for_selector("#commit")
        assert "将新增住户" in page.content()
        page.click("#commit")
        page.wait_for_selector("#imported")
        page.screenshot(path=str(ARTIFACTS / f"{device}-3-imported.png"), full_page=True)
        assert db.execute("SELECT COUNT(*) FROM residents").fetchone()[0] == 3
        assert db.execute("SELECT COUNT(*) FROM vehicles").fetchone()[0] == 1

        # 4. the building's stickers: a PDF whose QR codes are the rooms' URLs
        page.goto(f"{base}/rooms/")
        assert fits(page)
        page.select_option("#building-stickers select[name=building]", label=building)
        with page.expect_download() as download:
            page.click("#print-building")
        pdf = Path(download.value.path()).read_bytes()
        tokens = {
            r[0]
            for r in db.execute(
                "SELECT t.token FROM room_tokens t JOIN rooms r ON r.id = t.room_id"
                " JOIN units u ON u.id = r.unit_id JOIN buildings b ON b.id = u.building_id"
                " WHERE b.name = ? AND t.retired_at IS NULL",
                [building],
            )
        }
        assert len(tokens) == 12
        (tmp_path / "pages").mkdir()
        decoded = decode_qr_codes(pdf, tmp_path / "pages")
        assert sorted(decoded) == sorted(f"{BASE_URL}/r/{t}" for t in tokens)
        db.conn.close()
        assert problems == []
        browser.close()


def test_the_room_picker_finds_a_room_among_hundreds_on_a_phone(site, launch_chromium):
    """Hundreds of rooms: the picker's search takes "2-1-1203" to that room, and "1203"
    (in every building and unit) offers the matches as buttons; building → unit → room
    lists narrow the rest. Its words are Chinese from the catalogs, and it fits 390 px."""
    from datetime import UTC, datetime

    from playwright.sync_api import sync_playwright

    from edge.db import transaction
    from edge.people.addresses import generate_rooms

    db = db_of(site)
    with transaction(db) as conn:
        for building in ("1幢", "2幢", "3幢"):
            generate_rooms(conn, building, [1, 2], list(range(1, 19)), [1, 2, 3, 4],
                           datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    room_id = db.execute(
        "SELECT r.id FROM rooms r JOIN units u ON u.id = r.unit_id JOIN buildings b"
        " ON b.id = u.building_id WHERE b.name = '2幢' AND u.name = '1单元' AND r.number = '1203'"
    ).fetchone()[0]
    assert db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 432
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        problems = watch_problems(page)
        page.goto(f"{site['base']}/login")
        page.fill("input[name=username]", USERS["admin"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{site['base']}/people/new")
        search = page.locator("input.room-search")
        assert search.get_attribute("placeholder").startswith("输入房号")
        labels = page.eval_on_selector_all("select[aria-label]", "s => s.map(e => e.ariaLabel)")
        assert labels[:2] == ["楼栋", "单元"], labels
        search.fill("2-1-1203")
        assert page.input_value("#household-picker") == f"room:{room_id}"
        search.fill("1203")
        picks = page.locator(".room-search-pick")
        assert picks.count() == 6, "three buildings, two units each"
        assert "个房间符合" in page.inner_text(".room-search-result")
        picks.nth(2).click()  # 2幢 1单元 1203, in natural order
        assert page.input_value("#household-picker") == f"room:{room_id}"
        search.fill("9999")
        assert page.inner_text(".room-search-result") == "没有符合的房间。"
        assert fits(page)
        page.screenshot(path=str(ARTIFACTS / "phone-room-picker.png"))
        context.close()
        browser.close()
    assert problems == [], problems
