"""Every route that prints stickers (admin, police, landlord; PDF and PNG) answers what keeps
a sticker from being made in the reader's language, never a 500: the CJK font missing on
the box, a room without a QR code. check-config and the health page name a missing font."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import PASSWORD, Clock, csrf_of

from edge.box.config_check import check_config
from edge.web.app import create_app
from edge.web.printing import font_cell
from qr_registry import stickers


@pytest.fixture
def site(tmp_path, registry_config, seed_registry):
    clock = Clock()
    config = registry_config(tmp_path)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    return {"app": app, "ids": ids, "config": config}


def login(site, username: str):
    client = site["app"].test_client()
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert answer.status_code == 302, answer.text
    return client


def every_sticker_route(site, admin: bool = True):
    """(who, answer) for each sticker route, each asked once (the admin's first: printing
    issues the missing QR codes)."""
    ids = site["ids"]
    building = ids["room_a1"].building_id
    if admin:
        client = login(site, "admin")
        token = csrf_of(client.get("/rooms/").text)
        yield (
            "admin building",
            client.post(
                "/rooms/stickers.pdf",
                data={"csrf_token": token, "building": building, "layout": "a4"},
            ),
        )
        yield (
            "admin room",
            client.post(
                "/rooms/stickers.pdf",
                data={"csrf_token": token, "room": ids["room_b"].id, "layout": "label"},
            ),
        )
    police = login(site, "police")
    yield "police", police.get(f"/police/buildings/{building}/stickers.pdf")
    landlord = login(site, "landlord_a")
    yield "landlord sheet", landlord.get("/landlord/stickers.pdf")
    yield "landlord png", landlord.get(f"/landlord/rooms/{ids['room_a1'].id}/sticker.png")


def test_a_missing_cjk_font_is_a_clear_zh_page_on_every_sticker_route(site, monkeypatch):
    monkeypatch.setattr(stickers, "CJK_FONT", stickers.CJK_FONT.with_name("gone.ttc"))
    for who, answer in every_sticker_route(site):
        assert answer.status_code == 503, (who, answer.status_code, answer.text[:300])
        assert "字体" in answer.text and "fonts-wqy-microhei" in answer.text, who
        assert "Something went wrong" not in answer.text, who
    checks = {c.subject: c for c in check_config(site["config"])}
    assert not checks["sticker font"].ok and "fonts-wqy-microhei" in checks["sticker font"].detail
    with site["app"].test_request_context("/"):
        text, level = font_cell()
    assert level == "warn" and "fonts-wqy-microhei" in text


def test_health_page_and_check_config_say_the_font_is_there(site):
    checks = {c.subject: c for c in check_config(site["config"])}
    assert checks["sticker font"].ok
    page = login(site, "admin").get("/console/health")
    assert page.status_code == 200 and 'data-cell="print.font"' in page.text


def test_rooms_without_a_qr_code(site):
    """The admin's sheet issues the missing codes and prints; the landlord's one-room PNG
    and the police/landlord sheets say in zh that there is none yet (409)."""
    with sqlite3.connect(site["config"].storage.database_path) as conn:
        conn.execute("DELETE FROM room_tokens")
    answers = dict(every_sticker_route(site))
    assert answers["admin building"].status_code == 200
    assert answers["admin building"].data.startswith(b"%PDF")
    assert answers["admin room"].status_code == 200
    for who in ("police", "landlord sheet"):  # admin's building sheet gave them codes
        assert answers[who].status_code == 200, who
    with sqlite3.connect(site["config"].storage.database_path) as conn:
        conn.execute("DELETE FROM room_tokens")
    for who, answer in every_sticker_route(site, admin=False):
        assert answer.status_code == 409, (who, answer.status_code)
        assert "二维码" in answer.text, who
