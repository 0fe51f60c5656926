"""The tenant's pages know the documents and cannot be abused (finding 13.6):
nationality and 民族 by document, a confirmation with a reference and a masked summary, a
status page by reference + phone, caps per room and per sticker, a done page after
moving out."""

from __future__ import annotations

import re
import sqlite3
from datetime import date

import pytest
from helpers import PASSWORD, Clock, csrf_of, make_id, tenant_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.web.app import create_app


@pytest.fixture()
def env(tmp_path, registry_config, seed_registry):
    clock = Clock()
    config = registry_config(
        tmp_path,
        public_submissions_per_minute=100_000,
        pending_per_room=3,
        submissions_per_sticker_per_day=4,
    )
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    return {"app": app, "ids": ids, "db_path": config.storage.database_path, "clock": clock}


def submit(env, room: str = "room_a1", **overrides):
    client = env["app"].test_client()
    url = f"/r/{env['ids'][room].token}"
    data = {**tenant_form(), **overrides, "csrf_token": csrf_of(client.get(url).text)}
    return client, client.post(url, data=data)


def test_form_asks_by_document_with_no_ethnicity_default(env) -> None:
    page = env["app"].test_client().get(f"/r/{env['ids']['room_a1'].token}").text
    ethnicity = page.split('id="ethnicity"')[1].split("</select>")[0]
    assert "selected" not in ethnicity and '<option value="">' in ethnicity
    assert '<option value="德国 Germany (DEU)">' in page and "(HKG)" not in page
    assert 'data-when="foreign"' in page and 'data-when="citizen"' in page
    assert "/static/tenant.js" in page
    english = env["app"].test_client().get(f"/r/{env['ids']['room_a1'].token}?lang=en").text
    assert '<option value="Germany 德国 (DEU)">' in english


def test_confirmation_reference_and_status_page(env) -> None:
    client, response = submit(env, name="欧阳娜娜", phone="13812345678")
    assert response.status_code == 303
    done = client.get(response.headers["Location"])
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    ref = re.search(r'id="ref-code">([0-9A-Z]{4}-[0-9A-Z]{4})<', done.text).group(1)
    number = tenant_form()["doc_number"]
    assert "欧**<" in done.text and "*" * 14 + number[-4:] in done.text
    assert "欧阳娜娜" not in done.text and number not in done.text
    # A forged or edited receipt shows nothing.
    forged = response.headers["Location"][:-3] + "AAA"
    assert client.get(forged).status_code == 410
    # The status page needs reference + phone; the same answer for a wrong one of either.
    status = env["app"].test_client()
    csrf = csrf_of(status.get("/r/status").text)
    wrong_phone = status.post(
        "/r/status", data={"ref": ref, "phone": "13812345679", "csrf_token": csrf}
    )
    wrong_ref = status.post(
        "/r/status", data={"ref": "ZZZZ-ZZZZ", "phone": "13812345678", "csrf_token": csrf}
    )
    assert wrong_phone.status_code == wrong_ref.status_code == 404
    assert wrong_phone.text.count("没有与此编号") == wrong_ref.text.count("没有与此编号") == 1
    mine = status.post(
        "/r/status",
        data={"ref": ref.lower().replace("-", " "), "phone": "138 1234 5678", "csrf_token": csrf},
    )
    assert mine.status_code == 200 and "待房东确认" in mine.text and "欧**<" in mine.text


def test_after_moving_out_the_tenant_sees_done_pages(env) -> None:
    client, response = submit(env, phone="13812345670")
    done = client.get(response.headers["Location"]).text
    ref = re.search(r'id="ref-code">([0-9A-Z-]+)<', done).group(1)
    url = f"/r/{env['ids']['room_a1'].token}/leave"
    form = {
        "doc_type": "resident_id",
        "doc_number": tenant_form()["doc_number"],
        "phone": "13812345670",
        "action": "move_out",
        "date": "2025-06-01",
    }
    sent = client.post(url, data={**form, "csrf_token": csrf_of(client.get(url).text)})
    assert sent.status_code == 303
    page = client.get(sent.headers["Location"])
    assert 'id="request-sent"' in page.text and "<form" not in page.text.split("<main>")[1]
    landlord = env["app"].test_client()
    csrf = csrf_of(landlord.get("/login").text)
    landlord.post(
        "/login", data={"csrf_token": csrf, "username": "landlord_a", "password": PASSWORD}
    )
    reg_id = landlord.get("/landlord/").text.split("/landlord/registrations/")[1][:26]
    detail = landlord.get(f"/landlord/registrations/{reg_id}").text
    request_id = re.search(r'id="request-(\d+)"', detail).group(1)
    assert (
        landlord.post(
            f"/landlord/registrations/{reg_id}/requests/{request_id}",
            data={"decision": "confirm", "csrf_token": csrf_of(detail)},
        ).status_code
        == 303
    )
    status = client.post(
        "/r/status",
        data={
            "ref": ref,
            "phone": "13812345670",
            "csrf_token": csrf_of(client.get("/r/status").text),
        },
    )
    assert 'id="moved-out"' in status.text and "已退租" in status.text


def test_caps_per_room_and_per_sticker(env) -> None:
    """Was: 20 fake registrations into one room in a second, each queued for the district."""
    codes = [
        submit(env, doc_number=make_id("320102", date(1990, 1, 1), n), phone=f"1380013{8100 + n}")[
            1
        ].status_code
        for n in range(5)
    ]
    assert codes == [303, 303, 303, 429, 429]  # three pending at most in one room
    with sqlite3.connect(env["db_path"]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM registrations").fetchone()[0] == 3
        assert (
            conn.execute("SELECT COUNT(*) FROM outbox WHERE topic = 'registration'").fetchone()[0]
            == 0
        )
    # The landlord rejects the junk: the room takes registrations again, up to the
    # sticker's daily cap (four through one sticker in 24 h).
    landlord = env["app"].test_client()
    csrf = csrf_of(landlord.get("/login").text)
    landlord.post(
        "/login", data={"csrf_token": csrf, "username": "landlord_a", "password": PASSWORD}
    )
    listing = landlord.get("/landlord/").text
    csrf = csrf_of(listing)
    for reg_id in set(re.findall(r"/landlord/registrations/(\w{26})", listing)):
        rejected = landlord.post(
            f"/landlord/registrations/{reg_id}/decide",
            data={"decision": "reject", "reason": "不认识", "csrf_token": csrf, "confirmed": "yes"},
        )
        assert rejected.status_code == 303

    def another(n: int) -> int:
        number = make_id("320102", date(1991, 1, 1), n)
        return submit(env, doc_number=number, phone=f"1380013{8200 + n}")[1].status_code

    assert [another(1), another(2)] == [303, 429]
    env["clock"].advance(days=1, minutes=1)
    assert another(3) == 303


hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["²", "١٢٣", "\u202e", "x" * 400, "9999-99-99", "<script>", "'; --", ""]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["status", "leave", "consent", "done", "verify"]),
    st.dictionaries(
        st.sampled_from(
            ["ref", "phone", "doc_type", "doc_number", "action", "date", "reason", "answer", "code"]
        ),
        hostile,
    ),
    hostile,
)
def test_public_pages_never_fail_on_hostile_input(env, page, data, segment) -> None:
    client = env["app"].test_client()
    token = env["ids"]["room_a1"].token
    safe = "".join(c for c in segment if c.isalnum())[:60] or "x"
    url = {
        "status": "/r/status",
        "leave": f"/r/{token}/leave",
        "consent": f"/r/consent/{safe}",
        "done": f"/r/{token}/done/{safe}",
        "verify": f"/r/{token}/verify/{safe}",
    }[page]
    csrf = csrf_of(client.get("/r/status").text)
    for response in (client.get(url), client.post(url, data={**data, "csrf_token": csrf})):
        assert response.status_code < 500, (url, data)
