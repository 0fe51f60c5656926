"""Every console route refuses every role that may not use it — checked over the app's whole
URL map, so a route added later is covered without anyone remembering to add it here.

For each rule of a console blueprint and each method it accepts (the roles per blueprint and
the narrower ones per endpoint are edge.web.access.CONSOLE_ROLES / NARROWER):
- anonymous: a GET is sent to the login page, anything else is 401;
- a signed-in role not listed for the blueprint: 403, and nothing is written;
- a listed role gets past the role check (any answer but 401/403; 400 for a POST without its
  form is fine: the check under test is the role, not the form).
URL arguments are filled with plausible values (an int id, a ULID-shaped event id).
"""

from __future__ import annotations

import sqlite3

import pytest
from helpers import client_as, csrf_of, rule_url

from edge.web.access import CONSOLE_ROLES, allowed_roles
from edge.web.accounts import ROLES as ALL_ROLES


@pytest.fixture(scope="module")
def env(tmp_path_factory, console_env):
    return console_env(tmp_path_factory.mktemp("authz"), resident_household="9-1-901")


def _console_routes(app) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint not in CONSOLE_ROLES:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule_url(rule)))
    return routes


def _writes(env) -> int:
    with sqlite3.connect(env["config"].storage.database_path) as conn:
        tables = (
            "residents",
            "vehicles",
            "watchlist",
            "watch_faces",
            "qr_passes",
            "form_submissions",
        )
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)


def test_the_url_map_has_console_routes_of_every_blueprint(env):
    blueprints = {endpoint.split(".")[0] for endpoint, _method, _url in _console_routes(env["app"])}
    assert blueprints == set(CONSOLE_ROLES)
    assert sum(method == "POST" for _bp, method, _url in _console_routes(env["app"])) >= 10


@pytest.mark.parametrize("role", [None, *ALL_ROLES])
def test_every_console_route_refuses_every_role_that_may_not_use_it(env, role):
    client = client_as(env, role)
    home = client.get("/login" if role is None else "/", follow_redirects=True).text
    form = {"csrf_token": csrf_of(home)}  # a valid token: what is refused must be the role
    before = _writes(env)
    checked = 0
    for endpoint, method, url in _console_routes(env["app"]):
        response = client.open(url, method=method, data=form if method != "GET" else None)
        where = f"{role or 'anonymous'} {method} {url}"
        if role is None:
            if method == "GET":
                assert response.status_code == 302, where
                assert "/login" in response.headers["Location"], where
            else:
                assert response.status_code == 401, where
        elif role not in allowed_roles(endpoint):
            assert response.status_code == 403, where
        else:
            assert response.status_code not in (401, 403), where
        checked += 1
    assert checked > 20
    assert _writes(env) == before  # no refused request, and no form-less POST, wrote anything
