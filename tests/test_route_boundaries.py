"""Every route of the whole app, not only the console's, against every role and against no
session at all: the role boundary and the CSRF check hold on each, walked from the URL map
so a route added later is covered without anyone listing it.

tests/test_console_authorisation.py walks the console blueprints; this walks the rest too
(admin, landlord, police and grid, account, auth, the tenant's pages) with one table of who
may use each blueprint, and:
- a POST without its CSRF token is refused (400) for everyone, signed in or not, and
  writes nothing;
- no session: a GET of a signed-in page goes to the login page, a POST is 401;
- a signed-in role the blueprint is not for: 403 (GET and POST alike);
- a role it is for gets past the check (no 401/403), and the public pages answer anyone.
"""

from __future__ import annotations

import sqlite3

import pytest
from helpers import client_as, csrf_of, rule_url

from edge.web.access import CONSOLE_ROLES, allowed_roles
from edge.web.accounts import ROLES

PUBLIC = {"auth", "tenant", "static", "healthz", "home"}  # open to anyone (their own checks)
SIGNED_IN = {
    "account": tuple(ROLES),
    "admin": ("admin",),
    "landlord": ("landlord",),
    "police": ("police", "grid"),
}
NARROWER = {"police.reveal": ("police",)}  # checked in the view: a grid worker never reveals
# Run last: each ends the session it is sent in.
ENDS_SESSION = ("account.end_all", "auth.logout")
TABLES = ("users", "sessions", "residents", "vehicles", "registrations", "rooms", "qr_passes",
          "watchlist", "audit_log")  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory, console_env):
    return console_env(tmp_path_factory.mktemp("bounds"), resident_household="9-1-901")


def _roles(endpoint: str) -> tuple[str, ...] | None:
    """Who may use ``endpoint``; None for a public one."""
    blueprint = endpoint.split(".")[0]
    if blueprint in PUBLIC:
        return None
    if endpoint in NARROWER:
        return NARROWER[endpoint]
    if blueprint in CONSOLE_ROLES:
        return allowed_roles(endpoint)
    assert blueprint in SIGNED_IN, f"{endpoint}: a blueprint nobody said who may use"
    return SIGNED_IN[blueprint]


def _routes(app) -> list[tuple[str, str, str]]:
    routes = [
        (rule.endpoint, method, rule_url(rule))
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    return sorted(routes, key=lambda r: r[0] in ENDS_SESSION)


def _rows(env) -> dict[str, int]:
    with sqlite3.connect(env["config"].storage.database_path) as conn:
        found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in TABLES if t in found}  # fmt: skip


def test_every_blueprint_has_a_rule_for_who_may_use_it(env):
    blueprints = {endpoint.split(".")[0] for endpoint, _m, _u in _routes(env["app"])}
    assert blueprints <= PUBLIC | set(SIGNED_IN) | set(CONSOLE_ROLES)
    assert set(SIGNED_IN) <= blueprints and len(_routes(env["app"])) > 80


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r or "anonymous")
def test_every_post_without_its_csrf_token_is_refused_and_writes_nothing(env, role):
    client = client_as(env, role)
    before = _rows(env)
    refused = []
    for endpoint, method, url in _routes(env["app"]):
        if method == "GET":
            continue
        status = client.open(url, method=method, data={"x": "1"}).status_code
        if status != 400:
            refused.append(f"{role or 'anonymous'} {method} {url} ({endpoint}): {status}")
    assert refused == []
    after = _rows(env)
    after.pop("audit_log", None), before.pop("audit_log", None)
    assert after == before


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r or "anonymous")
def test_every_route_answers_each_role_as_its_blueprint_says(env, role):
    client = client_as(env, role)
    home = client.get("/login" if role is None else "/", follow_redirects=True).text
    form = {"csrf_token": csrf_of(home)}  # a valid token: what is refused must be the role
    wrong = []
    for endpoint, method, url in _routes(env["app"]):
        if endpoint == "auth.login" and method == "POST":
            continue  # a failed login counts against the address's login limit
        response = client.open(url, method=method, data=form if method != "GET" else None)
        status, allowed = response.status_code, _roles(endpoint)
        if allowed is None:
            expected = "any but 401/403"
            ok = status not in (401, 403)
        elif role is None and method == "GET":
            expected = "302 to /login"
            ok = status == 302 and "/login" in response.headers.get("Location", "")
        elif role is None:
            expected, ok = "401", status == 401
        elif role not in allowed:
            expected, ok = "403", status == 403
        else:
            expected = "any but 401/403"
            ok = status not in (401, 403)
        if not ok:
            wrong.append(f"{role or 'anonymous'} {method} {url}: {status}, expected {expected}")
    assert wrong == []
