"""Accounts: password change and reset, reactivation, the strength rule, sessions, idle
time that polls do not extend, HSTS and uncached face thumbnails."""

from __future__ import annotations

import re

import pytest
from helpers import PASSWORD, USERS, client_as, csrf_of, db_of

from edge.db import transaction
from edge.web import accounts, passwords, sessions

NEW_PASSWORD = "lantern-orchard-41"


@pytest.fixture
def env(tmp_path, console_env):
    return console_env(tmp_path)


def _login(env, username: str, password: str):
    client = env["app"].test_client()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}
    )
    return client, response


def _post(client, path: str, **data):
    page = client.get("/account/sessions")
    data["csrf_token"] = csrf_of(page.text)
    return client.post(path, data=data)


def test_the_strength_rule_refuses_what_was_accepted(env) -> None:
    """Before: `aaaaaaaaaa` made an account. Breach-list, pattern and own-name passwords go."""
    for weak in ("aaaaaaaaaa", "password123", "qwertyuiop", "guard1guard1", "1qaz2wsx3edc"):
        with pytest.raises(passwords.WeakPassword):
            passwords.check(weak, ("guard1",))
    admin = client_as(env, "admin")
    page = admin.get("/admin/")
    made = admin.post(
        "/admin/users",
        data={"csrf_token": csrf_of(page.text), "username": "weak1", "role": "guard",
              "password": "aaaaaaaaaa"},
    )  # fmt: skip
    assert made.status_code == 400 and "太容易被猜到" in made.text  # refused, in Chinese
    assert '<p class="error" role="alert">' in made.text and 'class="notice"' not in made.text
    passwords.check(NEW_PASSWORD, ("guard1",))


def test_changing_the_password_ends_the_other_sessions(env) -> None:
    phone, _ = _login(env, USERS["guard"], PASSWORD)
    tablet, _ = _login(env, USERS["guard"], PASSWORD)
    assert phone.get("/console/").status_code == 200
    page = tablet.get("/account/password")
    wrong = tablet.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": "not-it-at-all",
              "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )  # fmt: skip
    assert wrong.status_code == 403
    weak = tablet.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": PASSWORD,
              "new": "aaaaaaaaaa", "again": "aaaaaaaaaa"},
    )  # fmt: skip
    assert weak.status_code == 400
    done = tablet.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": PASSWORD,
              "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )  # fmt: skip
    assert done.status_code == 303
    assert tablet.get("/console/").status_code == 200  # this session stays
    assert phone.get("/console/").status_code == 302  # the other one ended
    assert _login(env, USERS["guard"], PASSWORD)[1].status_code == 401
    assert _login(env, USERS["guard"], NEW_PASSWORD)[1].status_code == 302


def test_admin_reset_forces_a_change_at_the_next_login(env) -> None:
    victim, _ = _login(env, USERS["landlord"], PASSWORD)
    admin = client_as(env, "admin")
    page = admin.get("/admin/")
    uid = env["ids"]["landlord"]
    reset = admin.post(
        f"/admin/users/{uid}/reset", data={"csrf_token": csrf_of(page.text), "confirmed": "yes"}
    )
    temporary = re.search(r"([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})", reset.text)
    assert reset.status_code == 200 and temporary
    assert victim.get("/landlord/").status_code == 302  # the reset ended its sessions
    assert _login(env, USERS["landlord"], PASSWORD)[1].status_code == 401
    client, response = _login(env, USERS["landlord"], temporary.group(1))
    assert response.status_code == 302 and response.location.endswith("/account/password")
    assert client.get("/landlord/").location.endswith("/account/password")
    page = client.get("/account/password")
    assert "reset by an administrator" in client.get("/account/password?lang=en").text
    blocked = client.post("/account/sessions/end-all", data={"csrf_token": csrf_of(page.text)})
    assert blocked.status_code == 403
    changed = client.post(
        "/account/password",
        data={"csrf_token": csrf_of(page.text), "current": temporary.group(1),
              "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )  # fmt: skip
    assert changed.status_code == 303
    assert client.get("/landlord/").status_code == 200


def test_reactivation_and_its_limits(tmp_path, console_env) -> None:
    env = console_env(tmp_path, resident_household="3-1-402")
    admin = client_as(env, "admin")
    page = admin.get("/admin/")
    uid = env["ids"]["guard"]
    admin.post(
        f"/admin/users/{uid}/deactivate",
        data={"csrf_token": csrf_of(page.text), "confirmed": "yes"},
    )
    assert _login(env, USERS["guard"], PASSWORD)[1].status_code == 401
    again = admin.post(f"/admin/users/{uid}/reactivate", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 303
    assert _login(env, USERS["guard"], PASSWORD)[1].status_code == 302
    db = db_of(env)
    with transaction(db) as conn:
        conn.execute("UPDATE residents SET active = 0 WHERE id = ?", (env["resident_id"],))
        accounts.set_active(conn, env["ids"]["resident"], False)
    refused = admin.post(
        f"/admin/users/{env['ids']['resident']}/reactivate",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 409
    huge = "/admin/users/99999999999999999999/reactivate"  # was OverflowError: 500
    assert admin.post(huge, data={"csrf_token": csrf_of(page.text)}).status_code == 404


def test_sessions_page_ends_one_or_all(env) -> None:
    phone, _ = _login(env, USERS["guard"], PASSWORD)
    tablet, _ = _login(env, USERS["guard"], PASSWORD)
    listing = tablet.get("/account/sessions?lang=en")
    ids = re.findall(r'name="session" value="([0-9a-f]{16})"', listing.text)
    assert len(ids) == 1 and "this one" in listing.text
    assert _post(tablet, "/account/sessions/end", session=ids[0]).status_code == 303
    assert phone.get("/console/").status_code == 302
    assert _post(tablet, "/account/sessions/end", session="zz").status_code == 303
    third, _ = _login(env, USERS["guard"], PASSWORD)
    assert _post(tablet, "/account/sessions/end-all").status_code == 303
    assert third.get("/console/").status_code == 302
    assert tablet.get("/console/").status_code == 302


def test_a_new_login_limits_older_sessions(env) -> None:
    """Admin, police and grid keep one session; others their newest three."""
    first, _ = _login(env, USERS["police"], PASSWORD)
    second, _ = _login(env, USERS["police"], PASSWORD)
    assert first.get("/events/").status_code == 302
    assert second.get("/events/").status_code == 200
    guards = [_login(env, USERS["guard"], PASSWORD)[0] for _ in range(sessions.MAX_SESSIONS + 1)]
    assert guards[0].get("/console/").status_code == 302
    assert all(g.get("/console/").status_code == 200 for g in guards[1:])


def test_background_polls_do_not_keep_a_session_alive(env) -> None:
    """Before: the live feed's poll moved last_seen, so a police console left open never
    logged out. Now only user actions count; guards have a shift-long idle limit."""
    police = client_as(env, "police")
    guard = client_as(env, "guard")
    for _ in range(8):  # 40 minutes of polling, no clicks
        env["clock"].advance(minutes=5)
        feed = police.get("/events/feed?after=0", headers={"Accept": "application/json"})
        guard.get("/events/feed?after=0", headers={"Accept": "application/json"})
    assert feed.status_code == 302 or "application/json" not in feed.content_type
    assert police.get("/events/").status_code == 302
    assert guard.get("/console/").status_code == 200  # 40 min < guard_idle_minutes
    active = client_as(env, "police")
    for _ in range(8):  # clicks every 5 minutes keep a session
        env["clock"].advance(minutes=5)
        assert active.get("/events/").status_code == 200


def test_hsts_behind_tls_and_no_store_everywhere(env) -> None:
    client = env["app"].test_client()
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert plain.headers["Cache-Control"] == "no-store"
