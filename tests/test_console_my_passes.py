"""A resident's own visitor passes (/my): issue by QR or plate with themselves as host, see
and revoke only their own, and lose access the moment they are deactivated or deleted.

Real app on a real SQLite file; the QR code on the page is decoded back into the token the
gate would read, and the plate pass is looked up the way the vehicle gate does.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from helpers import PASSWORD, USERS, client_as, csrf_of, db_of, form_fields, qr_token

from edge import audit
from edge.cli.main import main
from edge.db import transaction
from edge.people.passes import pass_fact
from edge.people.residents import add_resident, delete_resident, set_active
from edge.people.vehicles import facts_for_plate
from edge.people.visitors import check_terms, issue_qr, resolve_host

HOME = "5-2-1101"


@pytest.fixture
def env(tmp_path, console_env):
    env = console_env(tmp_path, resident_household=HOME)  # clock: 2025-06-01 10:00 site time
    db = db_of(env)
    env["neighbour"] = add_resident(db, env["app"].extensions["menwei"].vault, "邻居", "3-1-402")
    db.conn.close()
    return env


@pytest.fixture
def resident(env):
    return client_as(env, "resident")


def form(**changes: str) -> dict[str, str]:
    values = {
        "valid_from": "2025-06-01T10:00",
        "valid_to": "2025-06-01T18:00",
        "uses": "2",
        "note": "搬家公司",
    }
    return {**values, **changes}


def issue(client, kind: str, **changes: str):
    page = client.get(f"/my/new/{kind}")
    assert page.status_code == 200, page.text
    return client.post(f"/my/new/{kind}", data={**form_fields(page.text), **form(**changes)})


def test_login_lands_on_own_passes_with_no_host_fields(env, resident):
    assert resident.get("/").headers["Location"].endswith("/my/")
    page = resident.get("/my/")
    assert page.status_code == 200 and "我的访客通行证" in page.text and HOME in page.text
    assert 'id="new-qr"' in page.text and 'id="new-plate"' in page.text
    assert 'id="new-face"' not in page.text, "face passes need the visitor's consent in person"
    new = resident.get("/my/new/qr").text
    assert 'name="household"' not in new and 'name="host_resident"' not in new
    assert resident.get("/my/new/face").status_code == 404
    for url in ("/passes/", "/people/", "/console/", "/events/", "/watchlist/", "/admin/"):
        assert resident.get(url).status_code == 403, url


def test_qr_pass_is_hosted_by_the_resident_and_the_gate_knows_it(env, resident):
    response = issue(resident, "qr", household="3-1-402", host_resident=str(env["neighbour"]))
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["Cache-Control"]
    fact = pass_fact(db_of(env), qr_token(response.text))
    assert fact is not None and fact.max_uses == 2
    assert fact.label == f"visitor of {HOME}: 搬家公司", "the host is the account's, not the form's"
    [row] = [r for r in audit.recent(db_of(env), 50) if r["action"] == "pass_issue"]
    assert row["actor"] == f"user:{env['ids']['resident']}"
    assert json.loads(row["details"])["host_resident_id"] == env["resident_id"]
    listing = resident.get("/my/").text
    assert "搬家公司" in listing and "有效" in listing


def test_plate_pass_and_bad_input_change_nothing(env, resident):
    refused = issue(resident, "plate", plate="not a plate", uses="0")
    assert refused.status_code == 400 and 'id="error-plate"' in refused.text
    assert 'id="error-uses"' in refused.text
    assert not facts_for_plate(db_of(env), "沪C0L876").vehicles
    assert issue(resident, "plate", plate="沪c·0l876").status_code == 303
    [fact] = facts_for_plate(db_of(env), "沪C0L876").vehicles
    assert fact.kind == "visitor" and fact.max_uses == 2
    page = resident.get("/my/new/plate")
    data = {**form_fields(page.text), **form(plate="皖A12345")}
    assert resident.post("/my/new/plate", data=data).status_code == 303
    assert resident.post("/my/new/plate", data=data).status_code == 409, "double submit"
    assert len(facts_for_plate(db_of(env), "皖A12345").vehicles) == 1


def test_a_resident_sees_and_revokes_only_their_own_passes(env, resident):
    db = db_of(env)
    now = env["clock"]()
    with transaction(db) as conn:  # a guard's pass for the neighbour's visitor
        host = resolve_host(conn, "", env["neighbour"])
        terms = check_terms(now, now + timedelta(hours=2), 1, now)
        other_id, other_token = issue_qr(conn, host, terms, "快递", "user:2", now)
    assert issue(resident, "qr").status_code == 200
    own_id = db.execute("SELECT MAX(id) FROM qr_passes").fetchone()[0]
    listing = resident.get("/my/").text
    assert f'id="pass-qr-{own_id}"' in listing and f'id="pass-qr-{other_id}"' not in listing
    csrf = {"csrf_token": csrf_of(listing)}
    assert (
        resident.post(f"/my/qr/{other_id}/revoke", data={**csrf, "confirmed": "yes"}).status_code
        == 404
    )
    assert (
        resident.post("/my/qr/999999/revoke", data={**csrf, "confirmed": "yes"}).status_code == 404
    )
    assert not pass_fact(db, other_token).revoked, "the neighbour's pass is untouched"
    assert (
        resident.post(f"/my/qr/{own_id}/revoke", data={**csrf, "confirmed": "yes"}).status_code
        == 303
    )
    assert (
        resident.post(f"/my/qr/{own_id}/revoke", data={**csrf, "confirmed": "yes"}).status_code
        == 409
    )
    assert f'id="pass-qr-{own_id}" class="pass-revoked"' in resident.get("/my/").text
    revokes = [r for r in audit.recent(db, 50) if r["action"] == "pass_revoke"]
    assert [r["target"] for r in revokes] == [f"pass:qr:{own_id}"]


def test_deactivating_or_deleting_the_resident_ends_the_account(env, resident):
    db = db_of(env)
    with transaction(db) as conn:
        set_active(conn, env["resident_id"], False)
    assert resident.get("/my/").status_code == 403
    assert issue_status(resident) == 403
    with transaction(db) as conn:
        set_active(conn, env["resident_id"], True)
    assert resident.get("/my/").status_code == 200
    guard = client_as(env, "guard")
    confirm = guard.get(f"/people/{env['resident_id']}/delete")
    assert confirm.status_code == 200 and "其用于自助开具访客通行证的账户" in confirm.text, "told"
    with transaction(db) as conn:
        counts = delete_resident(conn, env["resident_id"])
    assert counts["accounts"] == 1
    assert resident.get("/my/").status_code in (302, 401), "signed out"
    again = env["app"].test_client()
    token = csrf_of(again.get("/login").text)
    login = {"csrf_token": token, "username": USERS["resident"], "password": PASSWORD}
    assert again.post("/login", data=login).status_code != 302, "the login no longer works"


def issue_status(client) -> int:
    fields = {"csrf_token": csrf_of(client.get("/login").text)}
    return client.post("/my/new/qr", data={**fields, **form()}).status_code


def test_admin_links_an_account_to_a_resident_and_bad_links_create_nothing(env):
    admin = client_as(env, "admin")
    csrf = csrf_of(admin.get("/admin/").text)

    def create(username: str, role: str, resident: str):
        data = {"csrf_token": csrf, "username": username, "role": role, "resident": resident}
        return admin.post("/admin/users", data={**data, "password": PASSWORD})

    neighbour = str(env["neighbour"])
    for username, role, number in [
        ("n1", "resident", ""),  # a resident account needs its resident
        ("n2", "guard", neighbour),  # ... and only a resident account has one
        ("n3", "resident", "99999"),  # no such resident
        ("n4", "resident", str(env["resident_id"])),  # already has an account
        ("n5", "resident", "12a"),
    ]:
        assert create(username, role, number).status_code == 400, username
    users = db_of(env).execute("SELECT COUNT(*) FROM users").fetchone()[0]
    assert users == len(USERS), "no refused form created an account"
    assert create("linli", "resident", neighbour).status_code == 200
    linked = client_as_user(env, "linli")
    page = linked.get("/my/")
    assert page.status_code == 200 and "3-1-402" in page.text
    [row] = [r for r in audit.recent(db_of(env), 50) if r["action"] == "create_user"]
    assert json.loads(row["details"]) == {"role": "resident", "resident_id": env["neighbour"]}


def client_as_user(env, username: str):
    client = env["app"].test_client()
    token = csrf_of(client.get("/login").text)
    login = {"csrf_token": token, "username": username, "password": PASSWORD}
    assert client.post("/login", data=login).status_code == 302
    return client


def test_cli_creates_a_resident_account_only_with_its_resident(env, tmp_path):
    config = tmp_path / "menwei.toml"  # the console env's own data folder and key
    config.write_text(
        f'[storage]\ndata_dir = "{env["config"].storage.data_dir}"\n'
        f'[security]\npii_key_file = "{env["config"].security.pii_key_file}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["user", "add", "zhou2", "--role", "resident", "-c", str(config)]
    twice = f"{PASSWORD}\n{PASSWORD}\n"
    missing = runner.invoke(main, args, input=twice)
    assert missing.exit_code != 0 and "resident's number" in missing.output
    made = runner.invoke(main, [*args, "--resident", str(env["neighbour"])], input=twice)
    assert made.exit_code == 0, made.output
    assert client_as_user(env, "zhou2").get("/my/").status_code == 200
