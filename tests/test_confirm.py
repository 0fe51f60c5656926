"""Every destructive or irreversible action asks first (edge.web.confirm): the first POST —
the one a click on the page's button sends — answers a confirmation page that names what
will be lost and changes nothing in the database (not even an audit row); the confirmed
POST it carries on to acts. One test per action, over real SQLite and the real app.

And the class: every POST endpoint whose name says it destroys is wrapped by
``confirm_first``, so an action added later cannot forget the step.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import pytest
from helpers import client_as, csrf_of, db_of, tenant_form

from edge.db import iso, transaction
from edge.people.residents import hash_pin, insert_resident, store_pin_hash
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch
from edge.web.confirm import asks_first
from qr_registry.rooms import add_room

TABLES = (
    "residents", "face_templates", "vehicles", "watchlist", "watch_faces", "qr_passes",
    "users", "room_tokens", "registrations", "registration_requests", "form_submissions",
    "audit_log", "outbox", "resident_accounts",
)  # fmt: skip
DESTRUCTIVE = re.compile(r"delete|remove|revoke|clear|deactivate|rotate|reset|move_out|decide$")


def _state(env) -> dict[str, list]:
    """Every table an action could change. The audit log leaves out its 'view' rows: a
    confirmation page that shows a person (a registration to reject) is itself an audited
    view, which is a record of reading, not the action."""
    with sqlite3.connect(env["config"].storage.database_path) as conn:
        state = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
        state["audit_log"] = conn.execute(
            "SELECT * FROM audit_log WHERE action != 'view' ORDER BY seq"
        ).fetchall()
    return state


@pytest.fixture
def site(tmp_path, console_env):
    env = console_env(tmp_path, resident_household="3-1-402")
    clock, vault = env["clock"], env["app"].extensions["menwei"].vault
    db = db_of(env)
    with transaction(db) as conn:
        rid = insert_resident(conn, vault, "欧阳建国", "5-2-1101", "residents", clock())
        store_pin_hash(conn, rid, hash_pin("135790"))
        conn.execute(
            "UPDATE residents SET face_consent_at = ?, face_consent_by = 'guard1' WHERE id = ?",
            (iso(clock()), rid),
        )
        for _ in range(2):
            conn.execute(
                "INSERT INTO face_templates (resident_id, template, model_sha256, created_at)"
                " VALUES (?, x'00', 'm', ?)",
                (rid, iso(clock())),
            )
        conn.execute(
            "INSERT INTO watch_faces (label, reason, template, model_sha256, added_by,"
            " created_at) VALUES ('案件 2026-118', '在逃', x'00', 'm', 'police1', ?)",
            (iso(clock()),),
        )
        room = add_room(conn, "幸福小区", "3幢", "1单元", "401", env["ids"]["landlord"], clock())
    vid = add_vehicle(db, VehicleInput("皖A12345", "resident", "5-2-1101"))
    watch = add_watch(db, "京A88888", "被盗车辆")
    env.update(rid=rid, vid=vid, watch=watch, room=room)
    until = (clock() + timedelta(hours=6)).astimezone(env["config"].site.zone)
    guard = client_as(env, "guard")
    for kind, extra in (("qr", {}), ("plate", {"plate": "苏E55555"})):
        page = guard.get(f"/passes/new/{kind}").text
        nonce = re.search(r'name="form_nonce" value="([^"]+)"', page)[1]
        data = {"csrf_token": csrf_of(page), "form_nonce": nonce, "household": "5-2-1101",
                "valid_to": until.strftime("%Y-%m-%dT%H:%M"), "uses": "2", **extra}  # fmt: skip
        assert guard.post(f"/passes/new/{kind}", data=data).status_code in (200, 303)
    tenant = env["app"].test_client()
    page = tenant.get(f"/r/{room.token}").text
    form = {**tenant_form(seq=201, name="王小明"), "csrf_token": csrf_of(page)}
    assert tenant.post(f"/r/{room.token}", data=form).status_code == 303
    env["reg"] = db.execute("SELECT id FROM registrations").fetchone()[0]
    db.conn.close()
    return env


# (role, URL, form fields, words the confirmation names, what must differ once confirmed)
ACTIONS = {
    "withdraw faces": ("guard", "/people/{rid}/faces/delete", {}, "2 个人脸模板", "face_templates"),
    "clear PIN": ("guard", "/people/{rid}/pin/clear", {}, "开门密码", "residents"),
    "remove household plate": (
        "guard", "/people/{rid}/plates/{vid}/delete", {}, "皖A12345", "vehicles",
    ),
    "deactivate resident": ("guard", "/people/{rid}/active", {"active": "0"}, "停用", "residents"),
    "delete resident": ("admin", "/people/{rid}/delete", {}, "欧**", "residents"),
    "revoke QR pass": ("guard", "/passes/qr/1/revoke", {}, "二维码通行证 #1", "qr_passes"),
    "revoke plate pass": (
        "admin", "/passes/plate/{plate_pass}/revoke", {}, "苏E55555", "vehicles",
    ),
    "revoke own pass": ("resident", "/my/qr/{own_pass}/revoke", {}, "二维码通行证", "qr_passes"),
    "remove watchlist plate": (
        "admin", "/watchlist/plates/{watch}/remove", {}, "京A88888", "watchlist",
    ),
    "remove watchlist face": (
        "police", "/watchlist/faces/1/remove", {}, "案件 2026-118", "watch_faces",
    ),
    "replace sticker": (
        "landlord", "/landlord/rooms/{room_id}/rotate", {}, "3幢 1单元 401", "room_tokens",
    ),
    "reject registration": (
        "landlord", "/landlord/registrations/{reg}/decide",
        {"decision": "reject", "reason": "不认识"}, "王小明", "registrations",
    ),
    "register move-out": (
        "landlord", "/landlord/registrations/{reg}/move-out",
        {"date": "2025-06-01", "reason": "合同到期"}, "王小明", "registrations",
    ),
    "deactivate account": ("admin", "/admin/users/{guard_user}/deactivate", {}, "guard1", "users"),
    "reset password": ("admin", "/admin/users/{guard_user}/reset", {}, "guard1", "users"),
}  # fmt: skip


def _url(env, template: str) -> str:
    db = db_of(env)
    own_pass = db.execute("SELECT id FROM qr_passes WHERE host_resident_id IS NOT NULL").fetchone()
    if own_pass is None and "{own_pass}" in template:
        resident = client_as(env, "resident")
        page = resident.get("/my/new/qr").text
        nonce = re.search(r'name="form_nonce" value="([^"]+)"', page)[1]
        until = (env["clock"]() + timedelta(hours=6)).astimezone(env["config"].site.zone)
        data = {"csrf_token": csrf_of(page), "form_nonce": nonce, "uses": "1",
                "valid_to": until.strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
        assert resident.post("/my/new/qr", data=data).status_code in (200, 303)
        own_pass = db.execute("SELECT MAX(id) FROM qr_passes").fetchone()
    plate_pass = db.execute("SELECT id FROM vehicles WHERE kind = 'visitor'").fetchone()[0]
    db.conn.close()
    return template.format(
        rid=env["rid"], vid=env["vid"], watch=env["watch"], room_id=env["room"].id,
        reg=env["reg"], guard_user=env["ids"]["guard"], plate_pass=plate_pass,
        own_pass=own_pass[0] if own_pass else 0,
    )  # fmt: skip


@pytest.mark.parametrize("action", ACTIONS)
def test_the_first_post_only_asks_and_the_confirmed_one_acts(site, action):
    role, template, fields, named, table = ACTIONS[action]
    url = _url(site, template)
    client = client_as(site, role)
    csrf = csrf_of(client.get("/account/sessions").text)
    before = _state(site)

    asked = client.post(url, data={"csrf_token": csrf, **fields})
    assert asked.status_code == 200, asked.text[:500]
    assert 'id="confirm-form"' in asked.text and named in asked.text, asked.text
    assert re.search(r'<ul id="confirm-losses"><li>\S', asked.text), "names what is lost"
    assert _state(site) == before, "the first POST changed nothing"
    carried = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', asked.text))
    assert carried.pop("confirmed") == "yes"
    assert carried.pop("csrf_token")
    assert carried == fields, "the confirmation re-posts the form's own fields"

    done = client.post(url, data={"csrf_token": csrf, **fields, "confirmed": "yes"})
    assert done.status_code in (200, 303), done.text[:500]
    assert _state(site)[table] != before[table], "the confirmed POST acted"


def test_reactivating_does_not_ask(site):
    client = client_as(site, "guard")
    csrf = csrf_of(client.get("/account/sessions").text)
    url = f"/people/{site['rid']}/active"
    client.post(url, data={"csrf_token": csrf, "active": "0", "confirmed": "yes"})
    assert client.post(url, data={"csrf_token": csrf, "active": "1"}).status_code == 303


def test_what_would_be_refused_is_refused_at_once_not_asked(site):
    landlord = client_as(site, "landlord")
    csrf = csrf_of(landlord.get("/landlord/").text)
    no_reason = landlord.post(
        f"/landlord/registrations/{site['reg']}/decide",
        data={"csrf_token": csrf, "decision": "reject"},
    )
    assert no_reason.status_code == 422 and 'id="confirm-form"' not in no_reason.text
    admin = client_as(site, "admin")
    csrf = csrf_of(admin.get("/admin/").text)
    for url, code in (
        ("/watchlist/plates/999/remove", 404), ("/passes/qr/999/revoke", 404),
        ("/people/999/faces/delete", 404), ("/admin/users/999/deactivate", 404),
    ):  # fmt: skip
        assert admin.post(url, data={"csrf_token": csrf}).status_code == code, url


def test_the_confirmation_names_what_stays_and_can_be_cancelled(site):
    client = client_as(site, "guard")
    csrf = csrf_of(client.get("/account/sessions").text)
    page = client.post(f"/people/{site['rid']}/faces/delete?lang=en", data={"csrf_token": csrf})
    assert "cannot be undone" in page.text and 'id="confirm-keeps"' in page.text
    assert f'href="/people/{site["rid"]}" id="cancel"' in page.text


def test_every_destructive_post_endpoint_asks_first(site):
    app = site["app"]
    destructive = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and DESTRUCTIVE.search(rule.endpoint.split(".")[-1])
    ]
    assert len(destructive) >= 12
    missing = [e for e in destructive if not asks_first(app.view_functions[e])]
    assert missing == []
