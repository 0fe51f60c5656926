"""Routes of the tenant page and the consoles, through Flask's test client, every role."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sqlite3

import pytest
from helpers import PASSWORD, Clock, audit_rows, csrf_of, reg_id_by_name, tenant_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from edge import audit
from edge.db import connect
from edge.web.app import create_app
from qr_registry.rooms import get_room


@pytest.fixture(scope="module")
def env(tmp_path_factory, registry_config, seed_registry):
    tmp = tmp_path_factory.mktemp("registry")
    clock = Clock()
    config = registry_config(tmp, public_submissions_per_minute=100_000)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    return {"app": app, "ids": ids, "clock": clock, "db_path": config.storage.database_path}


def client_for(env, username: str | None = None):
    client = env["app"].test_client()
    if username:
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
        )
        assert response.status_code == 302, response.text
    return client


def page_csrf(client, url: str) -> str:
    return csrf_of(client.get(url).text)


def register(env, room_key: str = "room_a1", **overrides):
    client = env["app"].test_client()
    url = f"/r/{env['ids'][room_key].token}"
    data = {**tenant_form(), **overrides, "csrf_token": page_csrf(client, url)}
    return client.post(url, data=data)


def count(env, table: str = "registrations") -> int:
    with sqlite3.connect(env["db_path"]) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def reg_id_of(env, name: str) -> str:
    return reg_id_by_name(env["app"], env["db_path"], name)


def confirm(env, reg_id: str, landlord: str = "landlord_a") -> None:
    client = client_for(env, landlord)
    csrf = page_csrf(client, "/landlord/")
    response = client.post(
        f"/landlord/registrations/{reg_id}/decide", data={"decision": "confirm", "csrf_token": csrf}
    )
    assert response.status_code == 303, response.text


@pytest.fixture(scope="module")
def regs(env):
    """One registration in a room of landlord A and one in landlord B's room."""
    assert register(env, **tenant_form(seq=201, name="王五")).status_code == 303
    assert (
        register(
            env, "room_b", **tenant_form(seq=302, phone="13900139000", name="赵六")
        ).status_code
        == 303
    )
    return {"a": reg_id_of(env, "王五"), "b": reg_id_of(env, "赵六")}


def test_tenant_registers_data_encrypted_outboxed_and_audited(env) -> None:
    before = count(env)
    form = tenant_form(seq=101, name="钱七", phone="13700137000")
    response = register(env, **form)
    assert response.status_code == 303 and "/done/" in response.headers["Location"]
    assert count(env) == before + 1
    # Nothing of the person in clear anywhere in the file: not the number, phone, address,
    # and not the name, birth date or occupation either.
    secrets_ = (form["doc_number"], "13700137000", "+8613700137000", "某路1号", "钱七",
                "1990-01-01", "19900101", "软件工程师")  # fmt: skip
    raw = env["db_path"].read_bytes() + env["db_path"].with_name("menwei.db-wal").read_bytes()
    for secret in secrets_:
        assert secret.encode() not in raw, secret
    with sqlite3.connect(env["db_path"]) as conn:
        assert conn.execute("SELECT action FROM audit_log ORDER BY seq DESC").fetchone()[0] == (
            "register"
        )
        outbox_before = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    # A pending registration is not sent to the district; the landlord's confirmation is.
    reg_id = reg_id_of(env, "钱七")
    confirm(env, reg_id)
    with sqlite3.connect(env["db_path"]) as conn:
        rows = conn.execute(
            "SELECT payload FROM outbox WHERE topic = 'registration' AND seq > ?", (outbox_before,)
        ).fetchall()
    assert len(rows) == 1
    payload = json.loads(rows[0][0])
    assert payload["change"] == "confirmed" and payload["registration"]["id"] == reg_id
    assert set(payload["registration"]) <= PUBLIC_KEYS
    for secret in secrets_:
        assert secret not in rows[0][0], secret
    vault = env["app"].extensions["menwei"].vault
    key = conn_key(env, reg_id)
    personal = json.loads(
        vault.decrypt_text(
            base64.b64decode(payload["personal_sealed"]), "outbox.registration:" + key
        )
    )
    assert personal["doc_number"] == form["doc_number"] and personal["name"] == "钱七"
    assert personal["occupation"] == "软件工程师" and personal["nationality"] == "CHN"


PUBLIC_KEYS = {
    "id", "status", "move_in_date", "expected_until", "submitted_at", "decided_at",
    "moved_out_on", "consent_at", "consent_version",
}  # fmt: skip


def conn_key(env, reg_id: str) -> str:
    with sqlite3.connect(env["db_path"]) as conn:
        return conn.execute(
            "SELECT key FROM outbox WHERE key LIKE ? ORDER BY seq DESC", (reg_id + ":%",)
        ).fetchone()[0]


def test_second_registration_reply_is_the_same_no_oracle(env) -> None:
    """Finding 13.6: '409 already registered in this room' told anyone holding an ID number
    where that person lives. Now the reply is the same page whether or not they are."""
    form = tenant_form(seq=111, name="冯二", phone="13700137001")
    first = register(env, "room_a2", **form)
    again = register(env, "room_a2", **form)
    stranger = register(env, "room_a2", **tenant_form(seq=113, name="陈三", phone="13700137002"))
    assert first.status_code == again.status_code == stranger.status_code == 303
    pages = [env["app"].test_client().get(r.headers["Location"]) for r in (again, stranger)]
    assert [p.status_code for p in pages] == [200, 200]
    assert "已经" not in pages[0].text and "already" not in pages[0].text.lower()
    # The landlord sees the duplicate and cannot confirm both.
    ids = [reg_id_of(env, "冯二")]
    with sqlite3.connect(env["db_path"]) as conn:
        dup_ids = [r[0] for r in conn.execute(
            "SELECT id FROM registrations WHERE doc_hash = (SELECT doc_hash FROM registrations"
            " WHERE id = ?) ORDER BY id", (ids[0],)
        )]  # fmt: skip
    assert len(dup_ids) == 2
    landlord = client_for(env, "landlord_a")
    assert 'id="duplicate"' in landlord.get(f"/landlord/registrations/{dup_ids[1]}").text
    confirm(env, dup_ids[0])
    csrf = page_csrf(landlord, "/landlord/")
    refused = landlord.post(
        f"/landlord/registrations/{dup_ids[1]}/decide",
        data={"decision": "confirm", "csrf_token": csrf},
    )
    assert refused.status_code == 422


def test_bad_form_is_422_with_messages_and_stores_nothing(env) -> None:
    before = count(env)
    response = register(env, doc_number="110105194912310021", phone="12", consent="")
    assert response.status_code == 422
    assert response.text.count('class="field-error"') == 3
    assert "校验码" in response.text  # Chinese by default
    english = env["app"].test_client()
    url = f"/r/{env['ids']['room_a1'].token}?lang=en"
    data = {**tenant_form(), "consent": "", "csrf_token": page_csrf(english, url)}
    assert "needs your consent" in english.post(url, data=data).text
    assert count(env) == before


def test_missing_or_wrong_csrf_is_refused(env) -> None:
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a1'].token}"
    before = count(env)
    assert client.post(url, data=tenant_form(seq=401)).status_code == 400
    assert (
        client.post(url, data={**tenant_form(seq=401), "csrf_token": "x" * 64}).status_code == 400
    )
    assert count(env) == before


def test_unknown_and_replaced_stickers(env) -> None:
    client = client_for(env, "landlord_b")
    room = env["ids"]["room_b"]
    assert client.get("/r/not-a-real-token-at-all").status_code == 404
    csrf = page_csrf(client, "/landlord/")
    assert (
        client.post(
            f"/landlord/rooms/{room.id}/rotate", data={"csrf_token": csrf, "confirmed": "yes"}
        ).status_code
        == 303
    )
    old = env["app"].test_client().get(f"/r/{room.token}")
    assert old.status_code == 410 and "已更换" in old.text
    with sqlite3.connect(env["db_path"]) as conn:
        env["ids"]["room_b"] = get_room(conn, room.id)
    assert env["app"].test_client().get(f"/r/{env['ids']['room_b'].token}").status_code == 200


LANDLORD_GETS = ["/landlord/registrations/{reg}", "/landlord/rooms/{room}/sticker.png"]
LANDLORD_POSTS = [
    ("/landlord/registrations/{reg}/decide", {"decision": "confirm"}),
    ("/landlord/registrations/{reg}/move-out", {"date": "2025-06-01", "reason": "x"}),
    ("/landlord/registrations/{reg}/extend", {"date": "2026-12-01"}),
    ("/landlord/rooms/{room}/rotate", {}),
]


def test_landlord_sees_only_own_records_everything_else_404(env, regs) -> None:
    client = client_for(env, "landlord_a")
    listing = client.get("/landlord/")
    assert "王五" in listing.text and "赵六" not in listing.text
    assert "幸福小区 3幢 2单元 101" not in listing.text
    mine = {"reg": regs["a"], "room": env["ids"]["room_a1"].id}
    theirs = {"reg": regs["b"], "room": env["ids"]["room_b"].id}
    for url in LANDLORD_GETS:
        assert client.get(url.format(**mine)).status_code == 200
        assert client.get(url.format(**theirs)).status_code == 404
    assert client.get("/landlord/registrations/01NOSUCHREGISTRATION0000").status_code == 404
    csrf = page_csrf(client, "/landlord/")
    with sqlite3.connect(env["db_path"]) as conn:
        before = conn.execute(
            "SELECT status, updated_at FROM registrations WHERE id = ?", (regs["b"],)
        ).fetchone()
        token_before = conn.execute("SELECT COUNT(*) FROM room_tokens").fetchone()[0]
    for url, data in LANDLORD_POSTS:
        response = client.post(url.format(**theirs), data={**data, "csrf_token": csrf})
        assert response.status_code == 404, url
    with sqlite3.connect(env["db_path"]) as conn:
        after = conn.execute(
            "SELECT status, updated_at FROM registrations WHERE id = ?", (regs["b"],)
        ).fetchone()
        assert conn.execute("SELECT COUNT(*) FROM room_tokens").fetchone()[0] == token_before
    assert before == after
    pdf = client.get("/landlord/stickers.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("user", "url", "code"),
    [
        (None, "/landlord/", 302),
        (None, "/police/", 302),
        (None, "/admin/", 302),
        ("landlord_a", "/police/", 403),
        ("landlord_a", "/admin/", 403),
        ("police", "/landlord/", 403),
        ("grid", "/landlord/", 403),
        ("police", "/admin/", 403),
        ("admin", "/police/", 403),
        ("admin", "/landlord/", 403),
        ("police", "/police/", 200),
        ("grid", "/police/", 200),
        ("admin", "/admin/", 200),
    ],
)
def test_role_gates(env, user, url, code) -> None:
    assert client_for(env, user).get(url).status_code == code


def test_confirm_reject_and_overdue(env) -> None:
    assert register(env, "room_a2", **tenant_form(seq=501, name="孙八")).status_code == 303
    assert (
        register(
            env, "room_a2", **tenant_form(seq=503, name="周九", phone="13600136000")
        ).status_code
        == 303
    )
    first, second = reg_id_of(env, "孙八"), reg_id_of(env, "周九")
    env["clock"].advance(hours=73)
    try:
        client = client_for(env, "landlord_a")
        listing = client.get("/landlord/")
        assert 'class="overdue"' in listing.text
        csrf = page_csrf(client, "/landlord/")
        no_reason = client.post(
            f"/landlord/registrations/{first}/decide",
            data={"decision": "reject", "csrf_token": csrf},
        )
        assert no_reason.status_code == 422
        ok = client.post(
            f"/landlord/registrations/{first}/decide",
            data={
                "decision": "reject",
                "reason": "不是本房租客",
                "csrf_token": csrf,
                "confirmed": "yes",
            },
        )
        assert ok.status_code == 303
        ok = client.post(
            f"/landlord/registrations/{second}/decide",
            data={"decision": "confirm", "csrf_token": csrf},
        )
        assert ok.status_code == 303
        twice = client.post(
            f"/landlord/registrations/{second}/decide",
            data={"decision": "confirm", "csrf_token": csrf},
        )
        assert twice.status_code == 422
    finally:
        env["clock"].advance(hours=-73)
    with sqlite3.connect(env["db_path"]) as conn:
        rows = dict(
            conn.execute("SELECT id, status FROM registrations WHERE id IN (?, ?)", (first, second))
        )
    assert rows == {first: "rejected", second: "confirmed"}


def _leave(env, client, form: dict, **data) -> object:
    url = f"/r/{env['ids']['room_a1'].token}/leave"
    base = {"doc_type": "resident_id", "doc_number": form["doc_number"], "phone": form["phone"]}
    return client.post(url, data={**base, **data, "csrf_token": page_csrf(client, url)})


def _open_requests(env) -> int:
    with sqlite3.connect(env["db_path"]) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM registration_requests WHERE state = 'open'"
        ).fetchone()[0]


def test_move_out_and_extension_are_requests_the_landlord_confirms(env) -> None:
    """Finding 13.6: document number + phone alone moved a tenant out or extended a stay.
    Now they make a request; the reply is the same whether anything matched; the
    landlord's confirmation applies it."""
    form = tenant_form(seq=601, name="吴十", phone="13500135000")
    assert register(env, "room_a1", **form).status_code == 303
    reg_id = reg_id_of(env, "吴十")
    confirm(env, reg_id)
    client = env["app"].test_client()
    before = _open_requests(env)
    wrong = _leave(env, client, {**form, "phone": "13500135001"}, action="move_out",
                   date="2025-06-01")  # fmt: skip
    ext = _leave(env, client, form, action="extend", date="2026-12-31")
    assert wrong.status_code == ext.status_code == 303
    assert wrong.headers["Location"] == ext.headers["Location"]  # the same reply
    assert _open_requests(env) == before + 1
    sent = client.get(ext.headers["Location"])
    assert sent.status_code == 200 and 'id="request-sent"' in sent.text
    with sqlite3.connect(env["db_path"]) as conn:
        assert (
            conn.execute(
                "SELECT expected_until FROM registrations WHERE id = ?", (reg_id,)
            ).fetchone()[0]
            == "2026-05-19"
        )  # unchanged until the landlord confirms
    landlord = client_for(env, "landlord_a")
    assert 'id="requests-waiting"' in landlord.get("/landlord/").text
    page = landlord.get(f"/landlord/registrations/{reg_id}")
    assert "2026-12-31" in page.text and "confirm-request" in page.text
    request_id = int(page.text.split('id="request-')[1].split('"')[0])
    csrf = page_csrf(landlord, "/landlord/")
    ok = landlord.post(
        f"/landlord/registrations/{reg_id}/requests/{request_id}",
        data={"decision": "confirm", "csrf_token": csrf},
    )
    assert ok.status_code == 303
    out = _leave(env, client, form, action="move_out", date="2025-06-01", reason="工作调动")
    assert out.status_code == 303
    page = landlord.get(f"/landlord/registrations/{reg_id}")
    request_id = int(page.text.split('id="request-')[1].split('"')[0])
    assert (
        landlord.post(
            f"/landlord/registrations/{reg_id}/requests/{request_id}",
            data={"decision": "confirm", "csrf_token": csrf},
        ).status_code
        == 303
    )
    with sqlite3.connect(env["db_path"]) as conn:
        status, until, on = conn.execute(
            "SELECT status, expected_until, moved_out_on FROM registrations WHERE id = ?",
            (reg_id,),
        ).fetchone()
        changes = [r[0] for r in conn.execute(
            "SELECT json_extract(payload, '$.change') FROM outbox WHERE key LIKE ? ORDER BY seq",
            (reg_id + ":%",),
        )]  # fmt: skip
    assert (status, until, on) == ("moved_out", "2026-12-31", "2025-06-01")
    assert changes == ["confirmed", "extended", "moved_out"]
    # Another landlord cannot decide it (404), and a decided request is closed.
    other = client_for(env, "landlord_b")
    assert (
        other.post(
            f"/landlord/registrations/{reg_id}/requests/{request_id}",
            data={"decision": "confirm", "csrf_token": page_csrf(other, "/landlord/")},
        ).status_code
        == 404
    )


def test_one_time_code_applies_a_request_and_logs_no_phone(
    tmp_path, caplog, registry_config, seed_registry
) -> None:
    clock = Clock()
    config = registry_config(tmp_path, sms_gateway="demo-log")
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    env = {"app": app, "ids": ids, "db_path": config.storage.database_path}
    form = tenant_form(seq=611, name="褚十一", phone="13500135011")
    assert register(env, "room_a1", **form).status_code == 303
    client = app.test_client()
    with caplog.at_level("WARNING", logger="qr_registry.otp"):
        response = _leave(env, client, form, action="extend", date="2026-10-01")
        stranger = _leave(env, client, {**form, "phone": "13500135012"}, action="extend",
                          date="2026-10-01")  # fmt: skip
    assert response.status_code == stranger.status_code == 303
    assert "/verify/" in response.headers["Location"] and "/verify/" in stranger.headers["Location"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    codes = [r for r in caplog.records if r.name == "qr_registry.otp"]
    assert len(codes) == 1  # only the real registration's phone gets a code
    for secret in ("13500135011", "+8613500135011", form["doc_number"], "135****5011"):
        assert secret not in logged
    code = logged.split("one-time code ")[1][:6]
    verify = response.headers["Location"]
    csrf = page_csrf(client, verify)
    wrong = client.post(verify, data={"code": "000000" if code != "000000" else "111111",
                                      "csrf_token": csrf})  # fmt: skip
    assert wrong.status_code == 422
    done = client.post(verify, data={"code": code, "csrf_token": csrf})
    assert done.status_code == 200 and 'id="request-done"' in done.text
    assert client.post(verify, data={"code": code, "csrf_token": csrf}).status_code == 422
    with sqlite3.connect(env["db_path"]) as conn:
        until = conn.execute(
            "SELECT expected_until FROM registrations WHERE id = ?",
            (reg_id_by_name(app, env["db_path"], "褚十一"),),
        ).fetchone()[0]
    assert until == "2026-10-01"


def test_police_search_counts_reveal_and_exports(env, regs) -> None:
    police = client_for(env, "police")
    csrf = page_csrf(police, "/police/")
    by_doc = police.post(
        "/police/", data={"doc_number": tenant_form(seq=302)["doc_number"], "csrf_token": csrf}
    )
    assert "赵六" in by_doc.text and "王五" not in by_doc.text
    results = by_doc.text.split('id="results"')[1]
    number = tenant_form(seq=302)["doc_number"]
    assert "*" * 14 + number[-4:] in results  # the tail only
    assert number not in results and number[:4] not in results and "1990-01-01" not in results
    by_phone = police.post("/police/", data={"phone": "139 0013 9000", "csrf_token": csrf})
    assert "赵六" in by_phone.text and "王五" not in by_phone.text
    assert police.get("/police/", query_string={"from": "2025-13-01"}).status_code == 400
    assert police.get("/police/", query_string={"status": "nope"}).status_code == 400
    # Reveal: police with a reason only.
    url = f"/police/registrations/{regs['b']}/reveal"
    csrf = page_csrf(police, f"/police/registrations/{regs['b']}")
    assert (
        police.post(url, data={"field": "doc", "reason": "", "csrf_token": csrf}).status_code == 422
    )
    shown = police.post(
        url, data={"field": "doc", "reason": "案件核查 2025-17", "csrf_token": csrf}
    )
    assert shown.status_code == 200 and tenant_form(seq=302)["doc_number"] in shown.text
    grid = client_for(env, "grid")
    grid_csrf = page_csrf(grid, f"/police/registrations/{regs['b']}")
    assert (
        grid.post(url, data={"field": "doc", "reason": "看看", "csrf_token": grid_csrf}).status_code
        == 403
    )
    # Grid workers may not test full numbers or phones (an oracle), police within a quota.
    grid_csrf = page_csrf(grid, "/police/")
    refused = grid.post("/police/", data={"doc_number": number, "csrf_token": grid_csrf})
    assert refused.status_code == 400 and "民警" in refused.text
    assert grid.get("/police/export.csv", query_string={"phone": "13900139000"}).status_code == 400
    # Exports: BOM, masked IDs as text, formula injection neutralised, also after a
    # separator that a spreadsheet may split on (finding 13.9).
    for seq, name, occupation in (
        (703, "郑一", "=HYPERLINK(1)"),
        (705, "郑二", "工程师;=HYPERLINK(2)"),
    ):
        form = {**tenant_form(seq=seq, name=name), "occupation": occupation}
        assert register(env, "room_a2", **form).status_code == 303
    body = police.get("/police/export.csv").data
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert any("'=HYPERLINK(1)" in row for row in rows)
    assert any("工程师;'=HYPERLINK(2)" in row for row in rows)
    assert not any(cell.startswith("=") for row in rows for cell in row)
    for separator in (";", "|", "\t"):  # however the spreadsheet splits, no cell is a formula
        for line in text.splitlines():
            assert not any(
                part.strip().strip('"').startswith(("=", "+", "@"))
                for part in line.split(separator)
            ), line
    assert "出生日期" not in rows[0][0] and "1990-01-01" not in text
    book = load_workbook(io.BytesIO(police.get("/police/export.xlsx").data))
    cells = [c for row in book.active.iter_rows(min_row=2) for c in row]
    assert all(c.data_type == "s" for c in cells if c.value is not None)
    actions = [e["action"] for e in audit.recent(connect(env["db_path"]), 20)]
    assert {"search", "view", "reveal", "export"} <= set(actions)


def test_logout_revokes_the_session(env) -> None:
    client = client_for(env, "police")
    cookie = client.get_cookie("menwei_session").value
    csrf = page_csrf(client, "/police/")
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    thief = env["app"].test_client()
    thief.set_cookie("menwei_session", cookie)
    assert thief.get("/police/").status_code == 302  # back to the login page


def test_login_rate_limit_and_security_headers(env) -> None:
    client = env["app"].test_client()
    csrf = page_csrf(client, "/login")
    login = {"csrf_token": csrf, "username": "grid"}
    codes = [
        client.post("/login", data={**login, "password": "wrong-password"}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_public_page_rate_limit(tmp_path, registry_config, seed_registry) -> None:
    config = registry_config(tmp_path, public_submissions_per_minute=3)
    app = create_app(config)
    ids = seed_registry(config, Clock()())
    client = app.test_client()
    url = f"/r/{ids['room_a1'].token}"
    csrf = page_csrf(client, url)
    codes = [client.post(url, data={"csrf_token": csrf}).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


def test_admin_creates_accounts_and_verifies_audit(env) -> None:
    admin = client_for(env, "admin")
    csrf = page_csrf(admin, "/admin/")
    bad = admin.post(
        "/admin/users",
        data={"username": "x", "password": "short", "role": "police", "csrf_token": csrf},
    )
    assert bad.status_code == 400
    ok = admin.post(
        "/admin/users",
        data={"username": "officer2", "password": PASSWORD, "role": "police", "csrf_token": csrf},
    )
    assert ok.status_code == 200 and "officer2" in ok.text
    verified = admin.post("/admin/audit/verify", data={"csrf_token": csrf})
    assert 'id="verify-result"' in verified.text and 'class="notice"' in verified.text


hostile = st.one_of(
    st.text(max_size=50),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "'; DROP TABLE registrations; --",
            "\x00\x01",
            "x" * 5000,
            "\ufffd\ufffd",
            "=cmd|' /C calc'!A0",
            "１３８００１３８０００",
        ]
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(sorted(tenant_form())), hostile, min_size=1))
def test_hostile_public_form_is_4xx_and_stores_nothing(env, overrides) -> None:
    before = (count(env), count(env, "co_residents"), count(env, "outbox"))
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a2'].token}"
    data = {**tenant_form(seq=901), **overrides, "csrf_token": page_csrf(client, url)}
    response = client.post(url, data=data)
    if response.status_code == 303:  # overrides that happen to be valid: undo by design
        return
    assert 400 <= response.status_code < 500
    assert (count(env), count(env, "co_residents"), count(env, "outbox")) == before


def test_wrong_encoding_and_huge_body(env) -> None:
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a2'].token}"
    csrf = page_csrf(client, url)
    gbk = "name=%D5%C5%C8%FD&doc_type=resident_id&csrf_token=" + csrf  # GBK bytes for 张三
    response = client.post(url, data=gbk, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    huge = client.post(url, data={"csrf_token": csrf, "name": "x" * 200_000})
    assert huge.status_code == 413


def test_sticker_sheets_of_rooms_without_a_qr_code_are_refused_not_a_crash(
    tmp_path, registry_config, seed_registry
) -> None:
    """A room can be without a current QR code (made by the address model or bulk import,
    before the admin prints its stickers): the police building sheet and the landlord's own
    sheet skip it, and with none left say so (409), never a 500."""
    clock = Clock()
    config = registry_config(tmp_path)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    with sqlite3.connect(config.storage.database_path) as conn:
        conn.execute("DELETE FROM room_tokens")
    local = {"app": app, "ids": ids, "clock": clock}
    building = ids["room_a1"].building_id
    police = client_for(local, "police").get(f"/police/buildings/{building}/stickers.pdf")
    assert police.status_code == 409 and "二维码" in police.text
    landlord = client_for(local, "landlord_a").get("/landlord/stickers.pdf")
    assert landlord.status_code == 409


def _views(env, reg_id: str) -> int:
    with sqlite3.connect(env["db_path"]) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'view' AND target = ?",
            (f"registration:{reg_id}",),
        ).fetchone()[0]


def test_every_page_showing_a_registration_is_an_audited_view(env, regs) -> None:
    """Not only the detail GET: a refused reveal's page, a refused action's page and a
    confirmation page naming the tenant show the person too, and are in the audit log."""
    police = client_for(env, "police")
    url = f"/police/registrations/{regs['b']}"
    csrf = page_csrf(police, url)
    before = _views(env, regs["b"])
    refused = police.post(f"{url}/reveal", data={"field": "doc", "reason": "", "csrf_token": csrf})
    assert refused.status_code == 422 and "赵六" in refused.text
    assert _views(env, regs["b"]) == before + 1
    landlord = client_for(env, "landlord_a")
    url = f"/landlord/registrations/{regs['a']}"
    csrf = page_csrf(landlord, url)
    before = _views(env, regs["a"])
    asked = landlord.post(
        f"{url}/decide", data={"decision": "reject", "reason": "材料不全", "csrf_token": csrf}
    )
    assert asked.status_code == 200 and "王五" in asked.text  # the confirmation page
    assert _views(env, regs["a"]) == before + 1
    bad = landlord.post(
        f"{url}/requests/2147483000", data={"decision": "confirm", "csrf_token": csrf}
    )
    assert bad.status_code == 422 and "王五" in bad.text
    assert _views(env, regs["a"]) == before + 2


def test_a_refused_search_filter_is_named_as_the_form_names_it(env) -> None:
    police = client_for(env, "police")
    police.set_cookie("lang", "zh")
    page = police.get("/police/", query_string={"from": "2025-13-01"})
    assert page.status_code == 400
    assert "登记日期起：" in page.text
    page = police.get("/police/", query_string={"name": "名" * 70})
    assert page.status_code == 400 and "姓名：最多 64 个字符" in page.text


def test_a_full_number_or_phone_never_travels_in_a_link(env, regs) -> None:
    """Web probe: the police search was a GET form, so every searched ID number and phone
    stayed in the URL (the browser's history of a shared console PC, the export links on
    the page). It posts now; a link carrying one is refused before anything is searched."""
    police = client_for(env, "police")
    page = police.get("/police/").text
    assert re.search(r'<form method="post"[^>]*id="search-form"', page)
    number = tenant_form(seq=302)["doc_number"]
    db = connect(env["db_path"])
    before = audit_rows(db, "search")
    for field, value in (("doc_number", number), ("phone", "13900139000")):
        for url in ("/police/", "/police/export.csv", "/police/export.xlsx"):
            refused = police.get(url, query_string={field: value})
            assert refused.status_code == 400, (url, field)
            assert value not in refused.get_data(as_text=True)
    assert audit_rows(db, "search") == before  # nothing was searched
    db.conn.close()
    found = police.post("/police/", data={"doc_number": number, "csrf_token": csrf_of(page)})
    assert found.status_code == 200 and "赵六" in found.text
    links = " ".join(re.findall(r'(?:href|action)="([^"]*)"', found.text))
    assert number not in links and "doc_number" not in links
    assert 'id="export-csv"' not in found.text  # an export would drop the number: none offered
