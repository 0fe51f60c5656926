"""Every page of every role, in real headless Chromium, on a phone and on a PC, in both
languages: nothing wider than the screen, no console error or failed request, and every
visible control readable (WCAG 2.1 AA: text contrast at least 4.5:1).

The pages come from the app's URL map, as in the authorisation test: each GET rule a role
may open is visited with real ids from a site filled with realistic data (residents with
PINs and plates, passes of each kind, watchlist entries, events of every kind with
snapshots and watchlist alerts, registrations in both states, a tenant's pages), so a page
added later fails here until it is listed, with its ids or as not an HTML page.

One browser and one context per role (logged in once); the viewport and language change
between visits. Screenshots of each role's main page (zh, phone and PC) go to
test-artifacts/pages/, and to docs/screenshots/ with MENWEI_SCREENSHOTS=docs (README shows
those); MENWEI_SCREENSHOTS=all saves every zh page, whole, to test-artifacts/pages/all/ for a
person to look through.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from helpers import (
    PASSWORD,
    USERS,
    client_as,
    nonce_for,
    picture,
    tenant_form,
    watch_problems,
)
from PIL import Image

from edge import audit
from edge.db import connect, transaction
from edge.people.residents import hash_pin, insert_resident, store_pin_hash
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch
from edge.store.snapshot_access import crop_jpeg
from edge.web.access import allowed_roles
from edge.web.accounts import ROLES
from qr_registry.rooms import add_room

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "pages"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
VIEWPORTS = {"small": (360, 740), "phone": (390, 844), "desktop": (1366, 768)}
DOC_VIEWS = ("phone", "desktop")  # the README's screenshots
LANGS = ("zh", "en")

# GET endpoints that answer something other than a page (checked elsewhere), and pages
# only reachable through a flow this site does not have (said why).
NOT_PAGES = {
    "static", "healthz", "console_events.feed", "console_events.snapshot",
    "console_events.export", "console_live.health_json", "landlord.sticker",
    "landlord.sticker_sheet", "police.export_file", "police.building_stickers", "home",
    "console_live.prompt_crop", "console_people.face_photo", "console_data.export",
    "console_data.template",
}  # fmt: skip
NOT_REACHABLE = {
    "tenant.verify": "needs an SMS gateway (404 without one); tests/test_registry_web.py",
    "tenant.consent": "a co-resident's own link; tests/test_registry_consent.py",
}
# Blueprints outside edge.web.access.CONSOLE_ROLES: who may open them.
OTHER_ROLES = {
    "auth": (None,),
    "tenant": (None,),
    "account": tuple(ROLES),
    "admin": ("admin",),
    "landlord": ("landlord",),
    "police": ("police", "grid"),
}
MAIN_PAGE = {
    "admin": "/admin/",
    "guard": "/console/",
    "landlord": "/landlord/",
    "police": "/police/",
    "grid": "/police/",
    "resident": "/my/",
    None: "tenant",
}

# The longest realistic values the forms accept (a name with the middle dot of a Uyghur or
# foreign name, 60-character room parts, a 40-character household, a 200-character address).
LONG_NAME = "阿卜杜热合曼·买买提·艾则孜·" + "克里木江" * 11 + "终"
LONG_PART = "幸福" * 30
LONG_HOME = "幸福里花园东区" + "十二幢三单元" * 5 + "二一零"
LONG_NOTE = "岳父的车，周末常来，" * 6
LONG_ADDRESS = "新疆维吾尔自治区乌鲁木齐市天山区" + "解放南路长巷" * 30 + "1号"

CHECK_JS = "\n".join(  # the function, without its heading comment
    line
    for line in Path(__file__).with_name("page_checks.js").read_text("utf-8").splitlines()
    if not line.startswith("//")
)


# -- the site -------------------------------------------------------------------------------
def _seed(env: dict, event_recorder: Any) -> dict[str, Any]:
    """Realistic data for every page; returns the ids the URL map's rules need."""
    config, clock = env["config"], env["clock"]
    app = env["app"]
    vault = app.extensions["menwei"].vault
    db = connect(config.storage.database_path)
    ids: dict[str, Any] = {"resident": env["resident_id"]}
    with transaction(db) as conn:
        for i, (name, home) in enumerate(
            [("欧阳建国", "3-1-402"), ("李娜", "3-1-402"), ("Müller Johannes", "5-2-1101")]
        ):
            rid = insert_resident(conn, vault, name, home, "residents", clock())
            if i == 0:
                store_pin_hash(conn, rid, hash_pin("135790"))
                ids["rid"] = rid
        room = add_room(conn, "幸福小区", "3幢", "1单元", "401", env["ids"]["landlord"], clock())
        add_room(conn, "幸福小区", "3幢", "1单元", "402", env["ids"]["landlord"], clock())
        ids["token"] = room.token
        ids["room"] = room.id
        # the longest values the forms take, on pages visited beside the ordinary ones
        long_room = add_room(conn, LONG_PART, LONG_PART, LONG_PART, "1" * 60,
                             env["ids"]["landlord"], clock())  # fmt: skip
        ids["long_token"], ids["long_room"] = long_room.token, long_room.id
        ids["long_rid"] = insert_resident(conn, vault, LONG_NAME, LONG_HOME, "residents", clock())
    for plate, home in (
        ("皖A12345", "3-1-402"),
        ("皖AD23456", "3-1-402"),
        ("沪B77777", "5-2-1101"),
    ):
        add_vehicle(db, VehicleInput(plate, "resident", home))
    for i in range(8):  # a household with a long list of plates
        add_vehicle(db, VehicleInput(f"皖AD{i}888{i}", "resident", LONG_HOME, note=LONG_NOTE))
    add_watch(db, "京A88888", "被盗车辆 (案件 2026-118)")
    add_watch(db, "粤B66666", "逾期未缴停车费")
    add_watch(
        db, "粤BD12345", "被盗车辆（案件 2026-119，" + "请立即联系值班民警并留住车辆" * 5 + "）"
    )
    db.conn.close()

    # passes, issued as a guard and as the resident would (their forms, their checks)
    zone = config.site.zone
    until = (clock() + timedelta(hours=6)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    for role, prefix, forms in (
        ("guard", "/passes", {"qr": {"household": "3-1-402", "note": "送快递"},
                              "plate": {"household": "3-1-402", "plate": "苏E55555"}}),
        ("resident", "/my", {"qr": {"note": "朋友来访"}}),
    ):  # fmt: skip
        client = client_as(env, role)
        for kind, fields in forms.items():
            page = client.get(f"{prefix}/new/{kind}").text
            data = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1],
                    "form_nonce": nonce_for(page, f"{prefix}/new/{kind}"),
                    "valid_to": until, "uses": "2", **fields}  # fmt: skip
            response = client.post(f"{prefix}/new/{kind}", data=data)
            assert response.status_code in (200, 303), response.text[:2000]

    # gate events of many kinds, with snapshots, and watchlist alerts linked to passages
    recorder = event_recorder(config)
    start = clock() - timedelta(minutes=40)
    box = {"plate_box": [270, 250, 370, 285], "colour": "blue"}
    passages = []
    for i, (plate, decision, code) in enumerate([
        ("皖A12345", "open", "resident_vehicle"), ("苏E55555", "open", "visitor_pass_valid"),
        ("浙C31415", "deny", "unknown_vehicle"), ("皖AD23456", "open", "resident_vehicle"),
    ]):  # fmt: skip
        passages.append(recorder.write(
            start + timedelta(minutes=i), plate=plate, decision=decision, snapshot=True,
            reasons=({"code": code, "message": f"plate {plate}"},), details=box, confidence=0.97,
        ))  # fmt: skip
    recorder.write(start + timedelta(minutes=5), kind="plate_unread", snapshot=True)
    for i in range(20):  # far more alerts than fit: the stack must stay bounded
        passage = recorder.write(
            start + timedelta(minutes=10, seconds=20 * i),
            plate="京A88888",
            decision="deny",
            snapshot=True,
            reasons=({"code": "watchlisted", "message": "plate 京A88888 is on the watchlist"},),
            details=box,
            confidence=0.95,
            linked=(_alert(start + timedelta(minutes=10, seconds=20 * i)),),
        )
        ids["alert"] = passage.linked_ids[0]
    ids["passage"] = passages[0].id
    for i, kind in enumerate(["face_passage", "pin_passage", "door_forced", "face_unknown"]):
        recorder.write(
            start + timedelta(minutes=20 + i), kind=kind, gate="east",
            decision="open" if kind.endswith("passage") else "deny",
            subject="resident 1 of household 3-1-402" if kind.endswith("passage") else None,
            snapshot=kind.startswith("face"),
        )  # fmt: skip

    # registrations: one confirmed, one waiting, made through the tenant's own form
    tenant = app.test_client()
    url = f"/r/{ids['token']}"
    long_url = f"/r/{ids['long_token']}"
    for at, seq, name, phone in ((url, 201, "王小明", "13800138000"),
                                 (url, 302, "赵丽颖", "13900139000"),
                                 (long_url, 403, LONG_NAME, "13700137000")):  # fmt: skip
        page = tenant.get(at).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        form = {**tenant_form(seq=seq, name=name, phone=phone), "csrf_token": csrf}
        if name == LONG_NAME:
            form.update(hukou_address=LONG_ADDRESS, occupation="高级" * 50)
        response = tenant.post(at, data=form)
        assert response.status_code == 303, response.text[:2000]
        ids["done"] = ids.get("done") or response.headers["Location"]
    db = connect(config.storage.database_path)
    ids["regs"] = [row[0] for row in db.execute("SELECT id FROM registrations ORDER BY rowid")]
    db.conn.close()
    landlord = client_as(env, "landlord")
    page = landlord.get(f"/landlord/registrations/{ids['regs'][0]}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = landlord.post(
        f"/landlord/registrations/{ids['regs'][0]}/decide",
        data={"csrf_token": csrf, "decision": "confirm"},
    )
    assert response.status_code == 303
    return ids


def _alert(at):
    from edge.events.record import NewEvent

    return NewEvent(
        "north", "watchlist_alert", at, "none", plate="京A88888",
        reasons=({"code": "watchlisted", "message": "plate 京A88888 is on the watchlist"},),
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory, console_env, gate_config, event_recorder, served):
    tmp = tmp_path_factory.mktemp("pages")
    env = console_env(tmp, config=gate_config(tmp), resident_household="3-1-402")
    env["seeded"] = _seed(env, event_recorder)
    with served(env["app"]) as base:
        env["base"] = base
        yield env


@pytest.fixture(autouse=True)
def site_audit_key(site):
    """The site's app signs audit rows with its config's key for every test of the module
    (conftest's autouse fixture points each test at a fresh test key)."""
    audit.use_key_file(site["config"].security.audit_key_path)


def _roles_of(endpoint: str) -> tuple[str | None, ...]:
    blueprint = endpoint.split(".")[0]
    if blueprint in OTHER_ROLES:
        return OTHER_ROLES[blueprint]
    return allowed_roles(endpoint)


def _urls(rule: Any, seeded: dict) -> list[str]:
    """The URLs to visit for one GET rule, its arguments filled from the seeded site."""
    endpoint = rule.endpoint
    values: dict[str, list[str]] = {
        "rid": [str(seeded["rid"]), str(seeded["long_rid"])],
        "event_id": [seeded["alert"], seeded["passage"]],
        "reg_id": seeded["regs"],
        "token": [seeded["token"], seeded["long_token"]],
        "room_id": [str(seeded["room"]), str(seeded["long_room"])],
    }
    if endpoint == "console_passes.new":
        values["kind"] = ["qr", "plate", "face"]
    elif endpoint == "console_my_passes.new":
        values["kind"] = ["qr", "plate"]
    if endpoint == "tenant.done":
        return [seeded["done"]]
    urls = [rule.rule]
    for name in rule.arguments:
        assert name in values, f"{endpoint}: no value for <{name}> (add it to _urls)"
        urls = [
            re.sub(rf"<(?:[^<>:]+:)?{name}>", value, url) for url in urls for value in values[name]
        ]
    return urls


def _pages(app: Any, seeded: dict) -> dict[str | None, list[str]]:
    pages: dict[str | None, list[str]] = {role: [] for role in (None, *ROLES)}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if "GET" not in rule.methods or endpoint in NOT_PAGES or endpoint in NOT_REACHABLE:
            continue
        for role in _roles_of(endpoint):
            pages[role] += _urls(rule, seeded)
    return pages


@pytest.fixture(scope="module")
def browser(launch_chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = launch_chromium(pw)
        yield launched
        launched.close()


def _log_in(page: Any, base: str, role: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def _shot(page: Any, role: str | None, view: str) -> None:
    if view not in DOC_VIEWS:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = f"{role or 'tenant'}-{view}.png"
    page.screenshot(path=str(ARTIFACTS / name))
    if "docs" in _screenshots():  # small: 128 colours are plenty
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(ARTIFACTS / name) as shot:
            small = shot.convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT)
            small.save(DOCS_SHOTS / name, optimize=True)


def _screenshots() -> set[str]:
    """MENWEI_SCREENSHOTS: "docs" (README's), "all" (every page, whole) or "docs,all"."""
    return set(os.environ.get("MENWEI_SCREENSHOTS", "").split(","))


def _shot_all(page: Any, role: str | None, view: str, url: str) -> None:
    """Every zh page, whole, for a person to look at (MENWEI_SCREENSHOTS=all)."""
    folder = ARTIFACTS / "all"
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", url.split("?")[0]).strip("_")[:60] or "root"
    page.screenshot(path=str(folder / f"{role or 'anon'}-{view}-{slug}.png"), full_page=True)


def test_every_endpoint_is_visited_or_said_why_not(site):
    pages = _pages(site["app"], site["seeded"])
    visited = {url.split("?")[0] for urls in pages.values() for url in urls}
    assert len(visited) > 25
    assert all(pages[role] for role in (None, *ROLES))


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r or "anonymous")
def test_every_page_fits_the_screen_and_every_control_is_readable(site, browser, role):
    base = site["base"]
    urls = _pages(site["app"], site["seeded"])[role]
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    problems = watch_problems(page)
    if role is not None:
        _log_in(page, base, role)
    found: list[str] = []
    for lang in LANGS:
        context.add_cookies([{"name": "lang", "value": lang, "url": base}])
        for view, (width, height) in VIEWPORTS.items():
            page.set_viewport_size({"width": width, "height": height})
            for url in urls:
                page.goto(base + url)
                assert page.url.startswith(base + url.split("?")[0]), (url, page.url)
                found += [f"{lang} {view} {url}: {p}" for p in page.evaluate(CHECK_JS)]
                if lang == "zh" and _is_main(role, url, site["seeded"]):
                    _shot(page, role, view)
                if lang == "zh" and "all" in _screenshots():
                    _shot_all(page, role, view, url)
    context.close()
    assert found == [], "\n".join(found)
    assert problems == [], problems


def _is_main(role: str | None, url: str, seeded: dict) -> bool:
    main = MAIN_PAGE[role]
    return url == (f"/r/{seeded['token']}" if main == "tenant" else main)


# -- the guard's live view ------------------------------------------------------------------
CHIME_STUB = """
window.__tones = 0;
class FakeAudio {
  constructor() { this.state = 'running'; this.currentTime = 0; this.destination = {}; }
  resume() {}
  createOscillator() {
    window.__tones += 1;
    return { frequency: {}, connect: x => x, start() {}, stop() {} };
  }
  createGain() {
    const ramp = () => {};
    return { gain: { setValueAtTime: ramp, exponentialRampToValueAtTime: ramp }, connect: x => x };
  }
}
window.AudioContext = FakeAudio;
"""


@pytest.mark.parametrize("size", [(1366, 768), (800, 1280), (390, 844)], ids=str)
def test_gates_and_their_open_buttons_stay_on_the_first_screen(site, browser, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    _log_in(page, site["base"], "guard")
    page.goto(f"{site['base']}/console/")
    assert int(page.inner_text("#alert-count")) >= 20
    boxes = page.eval_on_selector_all(
        ".gate-card .open-form button", "els => els.map(e => e.getBoundingClientRect().bottom)"
    )
    if size[0] >= 800:  # a tablet or PC: every gate's button; a phone: the first gate's
        assert len(boxes) == 2 and max(boxes) <= size[1], boxes
    else:
        assert boxes[0] <= size[1], boxes
    context.close()


def test_a_new_alert_chimes_unless_muted_and_the_count_follows(site, browser, event_recorder):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.add_init_script(CHIME_STUB)
    page = context.new_page()
    problems = watch_problems(page)
    _log_in(page, site["base"], "guard")
    page.goto(f"{site['base']}/console/")
    page.wait_for_selector("#feed-status[data-state=ok]")
    count = int(page.inner_text("#alert-count"))
    assert page.get_attribute("#chime", "aria-pressed") == "true"
    recorder = event_recorder(site["config"])

    def raise_alert() -> str:
        now = site["clock"]()
        passage = recorder.write(
            now, plate="京A88888", decision="deny", snapshot=True,
            details={"plate_box": [270, 250, 370, 285]}, linked=(_alert(now),),
        )  # fmt: skip
        banner = f'.alert-banner[data-alert-id="{passage.linked_ids[0]}"]'
        page.wait_for_selector(banner)
        return banner

    banner = raise_alert()
    assert page.evaluate("window.__tones") == 2, "one chime: two tones"
    assert int(page.inner_text("#alert-count")) == count + 1
    picture = page.get_attribute(f"{banner} img", "src")
    assert picture.endswith("/snapshot?size=crop"), "the passage's plate, cropped"
    assert page.evaluate(f"fetch('{picture}').then(r => r.headers.get('content-type'))") == (
        "image/jpeg"
    )
    page.click(f"{banner} button.ack")
    assert int(page.inner_text("#alert-count")) == count

    page.click("#chime")  # mute, remembered by this browser
    page.reload()
    page.wait_for_selector("#feed-status[data-state=ok]")
    assert page.get_attribute("#chime", "aria-pressed") == "false"
    raise_alert()
    assert page.evaluate("window.__tones") == 0, "muted: no sound"
    context.close()
    assert problems == [], problems


def test_the_checks_find_what_they_look_for(browser):
    """The page checks are not vacuous: a too-wide table, a white-on-light button (the
    old ``button.link``), a button too small to tap (the old plate "Remove") and a search
    field the browser may remember (the old police search) are found."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_content(
        '<body style="background:#f6f7f9;margin:0">'
        '<button style="background:none;color:#fff;border:0">删除</button>'
        '<a href="#" style="color:#777">更换二维码</a>'
        '<a href="#" style="color:#0b4f8a">fine</a>'
        '<button style="padding:0;border:0;font-size:14px;line-height:1">删除</button>'
        '<input name="doc_number" aria-label="证件号码" style="height:40px">'
        '<table style="width:600px"><tr><td>x</td></tr></table>'
        "<style>table.cards td { display: grid; grid-template-columns: 6rem 1fr; }"
        "table.cards td::before { content: attr(data-label); }</style>"
        '<table class="cards"><tr><td data-label="车辆"><span>苏E55555</span> '
        "<span>(访客)</span><br><span>皖A12345</span></td></tr></table>"
        '<table style="width:300px"><tr><td style="width:100%">登记信息 01JWMKF780GZHKGVW</td>'
        "<td>查看</td></tr></table></body>"
    )
    found = page.evaluate(CHECK_JS)
    page.close()
    kinds = ["tap target" if f.startswith("tap target") else f.split(":")[0] for f in found]
    assert kinds == [
        "overflow",
        "contrast 1.07 < 4.5",
        "contrast 4.18 < 4.5",
        "tap target",  # the white-on-light button is small too
        "tap target",
        "autocomplete",  # the browser would keep a searched ID number in its form history
        "cell",  # the old card cell: a plate's note and a second plate under the name
        "narrow",  # the audit table's action column before: one character per line
    ]


def test_readme_shows_each_roles_screenshots():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for role in (*MAIN_PAGE.keys(),):
        for view in DOC_VIEWS:
            name = f"docs/screenshots/{role or 'tenant'}-{view}.png"
            assert name in readme and (ROOT / name).stat().st_size < 150_000, name


def test_the_alert_crop_is_round_the_box_and_refuses_a_box_not_in_the_frame(tmp_path):
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), picture(3))  # 640x360
    crop = crop_jpeg(path, {"plate_box": [270, 250, 370, 285]})
    image = cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == 160 and image.shape[0] < image.shape[1]  # the plate, a margin
    for box in (None, [1, 2, 3], [700, 400, 900, 500], [50, 50, 10, 10], [True, 0, 5, 5],
                "0,0,5,5", [0, 0, float("nan"), 5]):  # fmt: skip
        assert crop_jpeg(path, {"plate_box": box}) is None, box
