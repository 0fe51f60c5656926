"""The residents console (/people) through Flask's test client, on a real SQLite file, with the
real face models and the real face photos of ../shared/fixtures/faces.

What must hold: guards and admins add, edit, (de)activate and delete residents, each change
audit-logged (ids, never names) in its own transaction; lists show names masked only; face
enrolment needs consent, stores encrypted templates only when every photo passes and lists
each refused photo with its reason; an inactive resident's face drops out of the gates'
index; PINs are never shown back; household plates are normalised; a double submit creates
nothing twice; every other role, and anonymous visitors, are kept out of every route.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from helpers import FACES, client_as, db_of, form_fields
from PIL import Image

from edge import audit
from edge.db import iso, transaction
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.people.addresses import set_access_group
from edge.people.passes import issue_pass
from edge.people.residents import (
    TEMPLATE_PURPOSE,
    check_pin,
    insert_resident,
    load_face_index,
    resident_fact,
)
from edge.people.vehicles import list_vehicles
from edge.pii import PiiVault
from edge.policy.person import Facts, GateFacts, Sighting, decide_person

GATE = GateFacts("east", "pedestrian", (("residents", "always"),))


@pytest.fixture
def env(tmp_path, console_env):
    return console_env(tmp_path)


@pytest.fixture
def guard(env):
    return client_as(env, "guard")


def vault_of(env) -> PiiVault:
    return env["app"].extensions["menwei"].vault


def nonce_in(html: str, form_id: str) -> str:
    """The one-time nonce of the form with this id (a page may hold several such forms)."""
    section = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    return re.search(r'name="form_nonce" value="([^"]+)"', section).group(1)


def add(client, name="王小明", household="3-1-402", group="residents", fields=None):
    fields = fields or form_fields(client.get("/people/new").text)
    data = {**fields, "name": name, "household": household, "group": group}
    return client.post("/people/new", data=data)


def rid_of(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.search(r"/people/(\d+)\?done=added", response.headers["Location"]).group(1))


def audit_rows(env, action: str | None = None) -> list[dict]:
    rows = audit.recent(db_of(env), 500)
    return [r for r in reversed(rows) if action is None or r["action"] == action]


def count(env, sql: str, *args) -> int:
    return db_of(env).execute(sql, args).fetchone()[0]


def post_page_form(client, rid: int, path: str, data: dict | None = None, form_id: str = ""):
    page = client.get(f"/people/{rid}").text
    fields = {"csrf_token": form_fields(page)["csrf_token"]}
    if form_id:
        fields["form_nonce"] = nonce_in(page, form_id)
    return client.post(f"/people/{rid}{path}", data={**fields, **(data or {})})


# -- add, edit, deactivate, delete ---------------------------------------------------------------
def test_add_edit_deactivate_delete_are_audited_without_names(env, guard):
    response = add(guard)
    rid = rid_of(response)
    page = guard.get(response.headers["Location"])
    assert page.status_code == 200 and "住户已添加" in page.text and "王小明" in page.text
    raw = env["config"].storage.database_path.read_bytes()
    assert "王小明".encode() not in raw, "names are stored encrypted"
    added = audit_rows(env, "resident_add")
    assert len(added) == 1 and added[0]["target"] == f"resident:{rid}"
    assert added[0]["actor"] == f"user:{env['ids']['guard']}"
    assert json.loads(added[0]["details"])["group"] == "residents"

    fields = {"csrf_token": form_fields(page.text)["csrf_token"]}
    edit = {**fields, "name": "王大明", "household": "5-2-1101", "group": "staff"}
    refused = guard.post(f"/people/{rid}/edit", data=edit)  # groups are chosen from a list
    assert refused.status_code == 400 and "通行组" in refused.text
    db = db_of(env)
    with transaction(db) as conn:
        set_access_group(conn, "staff", "员工", env["clock"]())
    db.conn.close()
    response = guard.post(f"/people/{rid}/edit", data=edit)
    assert response.status_code == 303 and "done=saved" in response.headers["Location"]
    row = (
        db_of(env)
        .execute(
            "SELECT h.label, r.access_group FROM residents r JOIN households h"
            " ON h.id = r.household_id WHERE r.id = ?",
            (rid,),
        )
        .fetchone()
    )
    assert tuple(row) == ("5-2-1101", "staff")
    assert "王大明" in guard.get(f"/people/{rid}").text
    edited = audit_rows(env, "resident_edit")
    assert json.loads(edited[0]["details"])["changed"] == ["name", "household", "group"]
    again = guard.post(f"/people/{rid}/edit", data=edit)
    assert "done=unchanged" in again.headers["Location"]
    assert len(audit_rows(env, "resident_edit")) == 1, "no change, no audit row"

    off = guard.post(f"/people/{rid}/active", data={**fields, "active": "0", "confirmed": "yes"})
    assert off.status_code == 303 and "done=deactivated" in off.headers["Location"]
    assert resident_fact(db_of(env), rid).active is False
    on = guard.post(f"/people/{rid}/active", data={**fields, "active": "1"})
    assert "done=reactivated" in on.headers["Location"]
    assert resident_fact(db_of(env), rid).active is True
    assert [r["action"] for r in audit_rows(env) if "activate" in r["action"]] == [
        "resident_deactivate",
        "resident_reactivate",
    ]

    confirm = guard.get(f"/people/{rid}/delete")
    assert confirm.status_code == 200 and "王**" in confirm.text and "5-2-1101" in confirm.text
    assert "王大明" not in confirm.text, "the confirm step shows the masked name only"
    gone = guard.post(f"/people/{rid}/delete", data={**fields, "confirmed": "yes"})
    assert gone.status_code == 303 and "done=deleted" in gone.headers["Location"]
    assert resident_fact(db_of(env), rid) is None
    assert guard.get(f"/people/{rid}").status_code == 404
    deleted = audit_rows(env, "resident_delete")
    assert deleted[0]["target"] == f"resident:{rid}"
    every_row = json.dumps(audit_rows(env), ensure_ascii=False)
    assert "王" not in every_row, "audit rows hold ids, never names"
    assert audit.verify(db_of(env)).ok


def test_bad_input_is_a_clear_error_and_changes_nothing(env, guard):
    rid = rid_of(add(guard))
    fields = form_fields(guard.get("/people/new").text)
    for name, household, group, message in [
        ("", "3-1-402", "residents", "请填写姓名"),
        ("x" * 61, "3-1-402", "residents", "请填写姓名"),
        ("李四", "y" * 41, "residents", "房号为 1 至 40 个字符"),
        ("李四", "3-1-402", "Residents!", "请从列表中选择通行组"),
    ]:
        response = add(guard, name, household, group, fields)
        assert response.status_code == 400 and message in response.text, response.text
    assert count(env, "SELECT COUNT(*) FROM residents") == 1
    english = guard.post("/people/new?lang=en", data={**fields, "name": "", "group": "residents"})
    assert english.status_code == 400 and "Enter the name" in english.text
    guard.get("/people/?lang=zh")  # back to the default language (the choice is a cookie)
    csrf = {"csrf_token": fields["csrf_token"]}
    bad_edit = {**csrf, "name": "", "household": "9-9-9", "group": "residents"}
    response = guard.post(f"/people/{rid}/edit", data=bad_edit)
    assert response.status_code == 400 and "请填写姓名" in response.text
    assert count(env, "SELECT COUNT(*) FROM households WHERE label = '9-9-9'") == 0
    assert guard.post(f"/people/{rid}/active", data={**csrf, "active": "2"}).status_code == 400
    response = guard.post(f"/people/{rid}/delete", data=csrf)  # unconfirmed: it only asks
    assert response.status_code == 200 and 'id="confirm-form"' in response.text
    assert resident_fact(db_of(env), rid).active is True
    for url in ("/people/999", "/people/99999999999999999999", "/people/-1", "/people/abc"):
        assert guard.get(url).status_code == 404, url
    assert guard.post("/people/999/edit", data=bad_edit).status_code == 404
    assert guard.post("/people/99999999999999999999/pin", data=csrf).status_code == 404
    for query in ("status=maybe", "q=" + "1" * 41, "page=0", "page=x"):
        response = guard.get(f"/people/?{query}")
        assert response.status_code == 400 and "error" in response.text, query
    assert guard.post("/people/new", data={**csrf, "name": "李四"}).status_code == 409
    changes = [r["action"] for r in audit_rows(env) if r["action"] not in ("view", "login")]
    assert changes == ["resident_add"], "no refused input left an audit row"


def test_double_submit_of_the_add_form_creates_one_resident(env, guard):
    fields = form_fields(guard.get("/people/new").text)
    assert add(guard, fields=fields).status_code == 303
    second = add(guard, fields=fields)
    assert second.status_code == 409 and "已提交过" in second.text
    assert count(env, "SELECT COUNT(*) FROM residents") == 1
    assert len(audit_rows(env, "resident_add")) == 1
    assert add(guard).status_code == 303, "a fresh form works"


def test_lists_mask_names_and_filter(env, guard):
    first = rid_of(add(guard, "王小明", "3-1-402"))
    second = rid_of(add(guard, "Alexander Hamilton", "3-2-101"))
    rid_of(add(guard, "赵六", ""))
    with transaction(db_of(env)) as conn:  # a visitor row (the passes console's): never here
        conn.execute(
            "INSERT INTO residents (name, kind, host_resident_id, created_at)"
            " VALUES ('', 'visitor', ?, ?)",
            (first, iso(env["clock"]())),
        )
    csrf = {"csrf_token": form_fields(guard.get("/people/new").text)["csrf_token"]}
    guard.post(f"/people/{second}/active", data={**csrf, "active": "0", "confirmed": "yes"})
    listing = guard.get("/people/")
    assert listing.status_code == 200
    for full in ("王小明", "小明", "Alexander", "Hamilton", "赵六"):
        assert full not in listing.text, full
    assert "王**" in listing.text and "A**" in listing.text and "赵**" in listing.text
    assert "共 3 位住户" in listing.text
    assert f'id="resident-{first + 3}"' not in listing.text, "visitors are not listed"
    found = guard.get("/people/?q=3-1")
    assert "王**" in found.text and "A**" not in found.text and "共 1 位住户" in found.text
    assert guard.get("/people/?q=%25").text.count('id="resident-') == 0, "% is literal"
    inactive = guard.get("/people/?status=inactive")
    assert "A**" in inactive.text and "王**" not in inactive.text
    active = guard.get("/people/?status=active")
    assert "A**" not in active.text and "王**" in active.text
    homes = guard.get("/people/households")
    assert homes.status_code == 200 and "3-1-402" in homes.text and "3-2-101" in homes.text
    assert "王小明" not in homes.text and "Hamilton" not in homes.text and "王**" in homes.text
    prefilled = guard.get("/people/new?household=3-2-101").text
    chosen = r'<option value="room:\d+" data-label="3-2-101" selected>3幢2单元 101</option>'
    assert re.search(chosen, prefilled)
    assert "王小明" in guard.get(f"/people/{first}").text, "full name on their own page"
    views = audit_rows(env, "view")
    assert views[-1]["target"] == f"resident:{first}", "showing a full name is audited"


def test_households_come_a_page_at_a_time_with_only_that_pages_residents(env, guard):
    """120 households: 50 a page, in label order; search narrows the count and the pages."""
    with transaction(db_of(env)) as conn:
        for n in range(120):
            label = f"{n // 40 + 1}-1-{n % 40 + 101}"
            insert_resident(conn, vault_of(env), f"林{n:03d}号", label, "residents", env["clock"]())
        insert_resident(conn, vault_of(env), "王小明", "1-1-101", "residents", env["clock"]())
    first = guard.get("/people/households")
    assert first.status_code == 200 and "共 120 户" in first.text
    assert first.text.count('id="household-') == 50
    assert "第 1 页，共 3 页" in first.text and "page=2" in first.text
    assert first.text.index(">1-1-101<") < first.text.index(">1-1-102<")
    assert first.text.count("林**") == 50 and "王**" in first.text  # 1-1-101 has both
    last = guard.get("/people/households?page=3")
    assert last.text.count('id="household-') == 20 and ">3-1-140<" in last.text
    assert ">1-1-101<" not in last.text and "王**" not in last.text
    assert "林0" not in first.text + last.text and "王小明" not in first.text, "names masked"
    found = guard.get("/people/households?q=2-1-")
    assert "共 40 户" in found.text and found.text.count('id="household-') == 40
    assert "page=2" not in found.text, "one page: no pager"
    for query in ("page=0", "page=x", "page=100001"):
        response = guard.get(f"/people/households?{query}")
        assert response.status_code == 400, query
    assert guard.get("/people/households?page=9").text.count('id="household-') == 0


def test_other_roles_and_anonymous_are_kept_out_of_every_route(env):
    rid = rid_of(add(client_as(env, "admin")))
    rules = [r for r in env["app"].url_map.iter_rules() if r.endpoint.startswith("console_people.")]
    assert len(rules) >= 13
    urls = []
    for rule in rules:
        url = rule.build({"rid": rid, "vid": 1, "household_id": 1}, append_unknown=False)[1]
        urls.extend((method, url) for method in rule.methods & {"GET", "POST"})
    for role in ("landlord", "police", "grid"):
        client = client_as(env, role)
        csrf = csrf_token_of(client)
        for method, url in urls:
            data = {"csrf_token": csrf, "name": "x", "active": "0", "confirmed": "yes"}
            response = client.open(url, method=method, data=data if method == "POST" else None)
            assert response.status_code == 403, (role, method, url)
    anonymous = env["app"].test_client()
    login_page = anonymous.get("/login").text
    anon_csrf = form_fields(login_page)["csrf_token"]
    for method, url in urls:
        if method == "GET":
            response = anonymous.get(url)
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            response = anonymous.post(url, data={"csrf_token": anon_csrf, "confirmed": "yes"})
            assert response.status_code == 401, url
    assert resident_fact(db_of(env), rid).active is True
    assert count(env, "SELECT COUNT(*) FROM residents") == 1
    assert client_as(env, "admin").get("/people/").status_code == 200


def csrf_token_of(client) -> str:
    return form_fields(client.get("/login").text)["csrf_token"]


# -- PIN and plates ------------------------------------------------------------------------------
def test_pin_is_set_and_cleared_never_shown_or_logged(env, guard):
    rid = rid_of(add(guard))
    mismatch = post_page_form(guard, rid, "/pin", {"pin": "480915", "pin_again": "480916"})
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text
    weak = post_page_form(guard, rid, "/pin", {"pin": "123456", "pin_again": "123456"})
    assert weak.status_code == 400 and "过于简单" in weak.text and "123456" not in weak.text
    short = post_page_form(guard, rid, "/pin", {"pin": "12a", "pin_again": "12a"})
    assert short.status_code == 400 and "6 至 8 位数字" in short.text
    assert not check_pin(db_of(env), rid, "480915")
    good = post_page_form(guard, rid, "/pin", {"pin": "480915", "pin_again": "480915"})
    assert good.status_code == 303
    assert check_pin(db_of(env), rid, "480915")
    page = guard.get(good.headers["Location"]).text
    assert "480915" not in page and "密码已设置" in page and f"{rid}*" in page
    assert "480915" not in json.dumps(audit_rows(env))
    assert [r["action"] for r in audit_rows(env) if "pin" in r["action"]] == ["pin_set"]
    cleared = post_page_form(guard, rid, "/pin/clear", {"confirmed": "yes"})
    assert cleared.status_code == 303 and not check_pin(db_of(env), rid, "480915")
    assert count(env, "SELECT COUNT(*) FROM residents WHERE pin_hash IS NOT NULL") == 0
    assert [r["action"] for r in audit_rows(env) if "pin" in r["action"]] == [
        "pin_set",
        "pin_clear",
    ]


def test_household_plates_are_normalised_added_and_removed(env, guard):
    rid = rid_of(add(guard, household="3-1-402"))
    other = rid_of(add(guard, "李四", "7-1-101"))
    added = post_page_form(guard, rid, "/plates", {"plate": "皖a·12345"}, "plate-form")
    assert added.status_code == 303 and "done=plate_added" in added.headers["Location"]
    [vehicle] = list_vehicles(db_of(env), household="3-1-402")
    assert vehicle["plate"] == "皖A12345" and vehicle["kind"] == "resident"
    assert "皖A12345" in guard.get("/people/").text
    assert "皖A12345" in guard.get("/people/households").text
    assert audit_rows(env, "plate_add")[0]["target"] == f"vehicle:{vehicle['id']}"

    bad = post_page_form(guard, rid, "/plates", {"plate": "ABC123"}, "plate-form")
    assert bad.status_code == 400 and "车牌格式不正确" in bad.text
    taken = post_page_form(guard, other, "/plates", {"plate": "皖A12345"}, "plate-form")
    assert taken.status_code == 400 and "已登记" in taken.text and "3-1-402" in taken.text
    page = guard.get(f"/people/{rid}").text
    fields = {
        "csrf_token": form_fields(page)["csrf_token"],
        "form_nonce": nonce_in(page, "plate-form"),
    }
    assert (
        guard.post(f"/people/{rid}/plates", data={**fields, "plate": "粤B12345"}).status_code == 303
    )
    assert (
        guard.post(f"/people/{rid}/plates", data={**fields, "plate": "粤B54321"}).status_code == 409
    )
    assert len(list_vehicles(db_of(env), household="3-1-402")) == 2

    homeless = rid_of(add(guard, "赵六", ""))
    page = guard.get(f"/people/{homeless}").text
    assert 'id="plate-form"' not in page and "请先为住户填写房号" in page
    data = {**form_fields(page), "form_nonce": "n" * 24, "plate": "京A88888"}
    response = guard.post(f"/people/{homeless}/plates", data=data)
    assert response.status_code == 400 and "请先为住户填写房号" in response.text

    wrong_household = post_page_form(
        guard, other, f"/plates/{vehicle['id']}/delete", {"confirmed": "yes"}
    )
    assert wrong_household.status_code == 404
    removed = post_page_form(guard, rid, f"/plates/{vehicle['id']}/delete", {"confirmed": "yes"})
    assert removed.status_code == 303
    assert [v["plate"] for v in list_vehicles(db_of(env), household="3-1-402")] == ["粤B12345"]
    assert audit_rows(env, "plate_remove")[0]["target"] == f"vehicle:{vehicle['id']}"
    db = db_of(env)
    with transaction(db) as conn:
        conn.execute("UPDATE vehicles SET source = 'district'")
    [district] = list_vehicles(db, household="3-1-402")
    refused = post_page_form(guard, rid, f"/plates/{district['id']}/delete", {"confirmed": "yes"})
    assert refused.status_code == 409 and "区级平台" in refused.text
    assert len(list_vehicles(db_of(env), household="3-1-402")) == 1


# -- faces ---------------------------------------------------------------------------------------
def photo(name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO((FACES / name).read_bytes()), name


def upload(client, rid: int, files: list[tuple[io.BytesIO, str]], consent: bool = True, lang=""):
    page = client.get(f"/people/{rid}").text
    data = {
        "csrf_token": form_fields(page)["csrf_token"],
        "form_nonce": nonce_in(page, "faces-form"),
        "photos": files,
    }
    if consent:
        data["consent"] = "yes"
    url = f"/people/{rid}/faces" + (f"?lang={lang}" if lang else "")
    return client.post(url, data=data, content_type="multipart/form-data"), data


@pytest.fixture(scope="module")
def recogniser(face_labels) -> FaceRecogniser:
    return FaceRecogniser()


def test_enrolment_shows_the_operator_each_photo_liveness_score(env, guard, recogniser):
    """An uploaded photo is never refused for liveness (residents hand in photos of photos);
    its score is shown to the operator and kept in the audit row."""
    rid = rid_of(add(guard))
    response, _ = upload(guard, rid, [photo("fr_obama.jpg"), photo("fr_obama2.jpg")])
    location = response.headers["Location"]
    live = parse_qs(urlsplit(location).query)["live"][0]
    scores = [float(s) for s in live.split(",")]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    [enrolled] = audit_rows(env, "face_enrol")
    assert json.loads(enrolled["details"])["liveness_scores"] == scores
    page = guard.get(location + "&lang=en").text
    first, second = live.split(",")
    assert "photo 1: " in page and f"(liveness {first})" in page and f"(liveness {second})" in page
    page = guard.get(location + "&lang=zh").text
    assert "照片活体检查" in page and "照片 1：" in page
    # the words follow the score against the door's threshold (0.63 by default)
    low = guard.get(f"/people/{rid}?done=faces&live=0.05,0.99,0.70&lang=zh").text
    assert "照片 1：疑为翻拍的打印照片或屏幕：请核对是否为眼前本人（活体得分 0.05）" in low
    assert "照片 2：像本人拍摄的照片（活体得分 0.99）" in low
    assert "照片 3：难以判断：请再看一下（活体得分 0.70）" in low
    forged = guard.get(f"/people/{rid}?done=faces&live=%3Cb%3E1%3C/b%3E&lang=en").text
    assert "Liveness check" not in forged and "<b>1</b>" not in forged


def test_enrolment_stores_encrypted_templates_with_consent_and_inactive_faces_do_not_open(
    env, guard, recogniser
):
    rid = rid_of(add(guard))
    response, data = upload(guard, rid, [photo("fr_obama.jpg"), photo("fr_obama2.jpg")])
    assert response.status_code == 303 and "done=faces" in response.headers["Location"]
    db, vault = db_of(env), vault_of(env)
    rows = db.execute(
        "SELECT template, model_sha256 FROM face_templates WHERE resident_id = ?", (rid,)
    ).fetchall()
    assert len(rows) == 2 and rows[0][1] == recogniser.model_sha256
    vector = np.frombuffer(vault.decrypt(rows[0][0], TEMPLATE_PURPOSE), "<f4")
    assert vector.shape == (128,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    assert vector.tobytes() not in env["config"].storage.database_path.read_bytes()
    consent = db.execute(
        "SELECT face_consent_at, face_consent_by FROM residents WHERE id = ?", (rid,)
    ).fetchone()
    assert tuple(consent) == (iso(env["clock"]()), "guard1")
    [enrolled] = audit_rows(env, "face_enrol")
    assert json.loads(enrolled["details"])["templates"] == [
        r[0] for r in db.execute("SELECT id FROM face_templates ORDER BY id")
    ]
    listing = guard.get("/people/").text
    assert "2025-06-01 10:00" in listing, "consent date shown in the site zone"
    again = guard.post(
        f"/people/{rid}/faces",
        data={**data, "photos": [photo("fr_obama3.jpg")]},
        content_type="multipart/form-data",
    )
    assert again.status_code == 409 and count(env, "SELECT COUNT(*) FROM face_templates") == 2

    probe = recogniser.probe(read_image_file(FACES / "fr_obama1.jpg"))
    assert (
        load_face_index(db, vault, recogniser.model_sha256)
        .search(probe.vector, 0.55, 0.05)
        .identity
        == rid
    )
    csrf = {"csrf_token": data["csrf_token"]}
    guard.post(f"/people/{rid}/active", data={**csrf, "active": "0", "confirmed": "yes"})
    assert len(load_face_index(db_of(env), vault, recogniser.model_sha256)) == 0
    pin = decide_person(
        Sighting("face", rid, score=0.9),
        GATE,
        env["clock"](),
        Facts(resident=resident_fact(db_of(env), rid)),
    )
    assert pin.action == "deny" and pin.reasons[0].code == "resident_inactive"
    guard.post(f"/people/{rid}/active", data={**csrf, "active": "1"})
    assert len(load_face_index(db_of(env), vault, recogniser.model_sha256)) == 2

    withdrawn = guard.post(f"/people/{rid}/faces/delete", data={**csrf, "confirmed": "yes"})
    assert withdrawn.status_code == 303
    assert count(env, "SELECT COUNT(*) FROM face_templates") == 0
    assert count(env, "SELECT COUNT(*) FROM residents WHERE face_consent_at IS NULL") == 1
    assert json.loads(audit_rows(env, "face_delete")[0]["details"]) == {"templates": 2}


def png_bytes(width: int, height: int, grey: int = 120) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (grey, grey, grey)).save(buffer, "PNG")
    return buffer.getvalue()


def test_refused_photos_are_each_listed_and_nothing_is_stored(env, guard, recogniser):
    rid = rid_of(add(guard))
    response, _ = upload(guard, rid, [photo("fr_obama.jpg")], consent=False)
    assert response.status_code == 400 and "勾选确认住户已同意" in response.text
    jpeg = (FACES / "fr_obama.jpg").read_bytes()
    gif = io.BytesIO()
    Image.new("RGB", (200, 200)).save(gif, "GIF")
    files = [
        photo("fr_obama.jpg"),
        photo("fr_two_people.jpg"),
        (io.BytesIO(b"meeting notes, not a photo"), "notes.jpg"),
        (io.BytesIO(jpeg[: len(jpeg) // 2]), "cut.jpg"),
        (io.BytesIO(png_bytes(640, 480)), "wall.png"),
    ]
    response, _ = upload(guard, rid, files)
    assert response.status_code == 400
    refused = response.text.split('id="refused"')[1].split("</ul>")[0]
    items = re.findall(r"<li>(.*?)</li>", refused, re.S)
    assert len(items) == 4, refused
    assert "fr_two_people.jpg" in items[0] and "照片中有 2 张人脸" in items[0]
    assert "notes.jpg" in items[1] and "不是 JPEG 或 PNG 照片" in items[1]
    assert "cut.jpg" in items[2] and "图片数据损坏" in items[2]
    assert "wall.png" in items[3] and "未检测到人脸" in items[3]
    assert "fr_obama.jpg" not in refused, "the good photo is not listed as refused"
    too_many, _ = upload(guard, rid, [photo("fr_obama.jpg") for _ in range(6)])
    assert too_many.status_code == 400 and "最多选择 5 张" in too_many.text
    none_chosen, _ = upload(guard, rid, [(io.BytesIO(b""), "")])
    assert none_chosen.status_code == 400 and "请选择 1 至 5 张照片" in none_chosen.text
    assert count(env, "SELECT COUNT(*) FROM face_templates") == 0
    assert count(env, "SELECT COUNT(*) FROM residents WHERE face_consent_at IS NOT NULL") == 0
    assert audit_rows(env, "face_enrol") == []
    # the reasons in the page language (the choice is kept in a cookie, so this goes last)
    english, _ = upload(
        guard,
        rid,
        [photo("fr_two_people.jpg"), (io.BytesIO(gif.getvalue()), "anim.gif")],
        lang="en",
    )
    assert english.status_code == 400
    assert "2 faces in the photo" in english.text and "not a JPEG or PNG photo" in english.text


def test_oversized_upload_is_413_with_a_clear_message(env, guard):
    rid = rid_of(add(guard))
    huge = (io.BytesIO(b"\xff\xd8\xff" + bytes(17 * 1024 * 1024)), "huge.jpg")
    response, _ = upload(guard, rid, [huge])
    assert response.status_code == 413 and "16 MB" in response.text
    assert count(env, "SELECT COUNT(*) FROM face_templates") == 0
    small_form = guard.post("/people/new", data={"name": "x" * (70 * 1024)})
    assert small_form.status_code == 413, "only the upload view takes more than 64 KB"


def test_deleting_a_resident_removes_templates_pin_and_hosted_passes(env, guard, recogniser):
    rid = rid_of(add(guard))
    keep = rid_of(add(guard, "李四", "7-1-101"))
    assert upload(guard, rid, [photo("fr_obama.jpg")])[0].status_code == 303
    assert upload(guard, keep, [photo("fr_biden.jpg")])[0].status_code == 303
    post_page_form(guard, rid, "/pin", {"pin": "480915", "pin_again": "480915"})
    clock = env["clock"]
    db = db_of(env)
    issue_pass(db, "visitor of resident", clock(), clock() + timedelta(days=1), 1, rid)
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO residents (name, kind, host_resident_id, created_at)"
            " VALUES ('', 'visitor', ?, ?)",
            (rid, iso(clock())),
        )
    confirm = guard.get(f"/people/{rid}/delete").text
    assert "1 个人脸模板" in confirm and "1 张二维码通行证和 1 位访客" in confirm
    csrf = {"csrf_token": form_fields(confirm)["csrf_token"]}
    assert guard.post(f"/people/{rid}/delete", data={**csrf, "confirmed": "yes"}).status_code == 303
    assert count(env, "SELECT COUNT(*) FROM face_templates WHERE resident_id = ?", rid) == 0
    assert count(env, "SELECT COUNT(*) FROM qr_passes") == 0
    assert count(env, "SELECT COUNT(*) FROM residents") == 1, "only the other resident is left"
    assert count(env, "SELECT COUNT(*) FROM face_templates WHERE resident_id = ?", keep) == 1
    [row] = audit_rows(env, "resident_delete")
    assert json.loads(row["details"]) == {
        "templates": 1,
        "passes": 1,
        "pin": 1,
        "accounts": 0,
        "visitors": 1,
    }
    assert guard.post(f"/people/{rid}/delete", data={**csrf, "confirmed": "yes"}).status_code == 404
