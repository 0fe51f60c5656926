"""No crafted request gives an HTTP 500: every route of the app's URL map, for every role
(and anonymous), with hostile path values, query strings and form fields.

The probe found 12 such inputs (``url_for(**request.args)`` with keys ``fmt``/``endpoint``/
``_method``; 20-digit ids reaching SQLite; ``'²'.isdigit()``); this walks the whole map, so
a route added later is fuzzed without anyone listing it. POSTs carry the client's valid CSRF
token, so they reach the view instead of stopping at the CSRF check. Bounded: a fixed
number of examples per role, no deadline (speed lives in bench/).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from helpers import PASSWORD, USERS, client_as, csrf_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.db import connect, transaction, utc_now
from edge.web.accounts import ROLES
from qr_registry.rooms import add_room

# What would end the fuzzing client's own account or session (each tested on its own).
SKIP = {"auth.logout", "account.end_all", "admin.deactivate", "admin.reset_password", "static"}

CRAFTED = [
    "²", "１２３", "٣", "-1", "0", "99999999999999999999999", "1e9", "nan", "",
    "<script>alert(1)</script>", "'; DROP TABLE users; --", "\x00", "\u202e", "x" * 3000,
    "2025-13-45", "2025-06-01T25:61", "../../etc/passwd", "%00", "01JD0000000000000000000000",
    "a~b", "1~2025-06-01T01:00:30.000+00:00", "=HYPERLINK(\"http://x\")", "true", "on", "yes",
]  # fmt: skip
KEYS = [
    "fmt", "endpoint", "_method", "_external", "_anchor", "_scheme", "lang", "after", "before",
    "page", "size", "q", "plate", "plate_match", "person", "from", "to", "gate", "decision",
    "kind", "status", "name", "doc_number", "phone", "room", "overdue", "alerts", "opened",
    "opened_gate", "household", "label", "reason", "valid_from", "valid_to", "uses", "resident",
    "host", "username", "password", "role", "display_name", "current", "new", "again",
    "session", "consent", "pin", "note", "expires_at", "form_nonce", "confirm", "changed",
]  # fmt: skip
safe_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
values = st.one_of(st.sampled_from(CRAFTED), safe_text, st.integers().map(str))
fields = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


@pytest.fixture(scope="module")
def env(tmp_path_factory, console_env):
    made = console_env(tmp_path_factory.mktemp("fuzz"), resident_household="9-1-901")
    db = connect(made["config"].storage.database_path)
    with transaction(db) as conn:
        add_room(conn, "幸福小区", "3幢", "1单元", "402", made["ids"]["landlord"], utc_now())
    db.conn.close()
    made["clients"] = {}
    return made


def _client(env, role: str | None):
    """One logged-in client per role, logged in again if a fuzzed request ended it."""
    key = role or "anonymous"
    client = env["clients"].get(key)
    if client is None:
        client = env["clients"][key] = client_as(env, role)
        page = client.get("/account/sessions" if role else "/login")
        env["clients"][f"{key}:csrf"] = csrf_of(page.text)
    return client, env["clients"][f"{key}:csrf"]


def _routes(app) -> list[tuple[str, str, object]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule))
    return sorted(found, key=lambda r: (r[0], r[1]))


def _path_value(converter: str, draw) -> str:
    if converter.startswith("int"):
        return str(draw(st.one_of(st.integers(0, 10**30), st.sampled_from([0, 1, 2, 2**31]))))
    return draw(st.one_of(st.sampled_from(CRAFTED), safe_text)) or "x"


@st.composite
def requests(draw, routes):
    endpoint, method, rule = draw(st.sampled_from(routes))

    def fill(match: re.Match) -> str:
        return quote(_path_value(match.group(1) or "", draw), safe="")

    url = re.sub(r"<(?:([a-z]+(?:\([^)]*\))?):)?([a-z_]+)>", fill, rule.rule)
    return endpoint, method, url, draw(fields), draw(fields)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_no_crafted_request_gives_a_5xx(env, role: str | None) -> None:
    routes = _routes(env["app"])

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests(routes))
    def run(request) -> None:
        endpoint, method, url, query, form = request
        client, csrf = _client(env, role)
        if method == "GET":
            response = client.get(url, query_string=query)
        else:
            response = client.open(
                url, method=method, query_string=query, data={**form, "csrf_token": csrf}
            )
        assert response.status_code < 500, (endpoint, method, url, query, form)
        ended = response.status_code == 401 or "/login" in (response.location or "")
        if role and ended:
            env["clients"].pop(role, None)  # a fuzzed request ended the session: log in again

    run()


@pytest.mark.parametrize(
    "url",
    [
        "/events/?fmt=csv&endpoint=x&_method=POST&_external=1&_anchor=a&_scheme=gopher",
        "/events/export.csv?fmt=csv&endpoint=x",
        "/police/?fmt=xlsx&endpoint=x&_method=POST",
        "/events/feed?after=²",
        "/events/?before=²~2025-06-01T01:00:30.000+00:00",
        "/people/?page=²",
        "/people/99999999999999999999",
    ],
)
def test_the_probes_crafted_inputs(env, url: str) -> None:
    """The probe's own cases, named: each gave a 500 before."""
    role = "police" if url.startswith("/police") else "admin"
    client = client_as(env, role)
    assert client.get(url).status_code < 500


def test_admin_actions_on_impossible_ids(env) -> None:
    admin = client_as(env, "admin")
    csrf = csrf_of(admin.get("/admin/").text)
    for action in ("deactivate", "reactivate", "reset"):
        response = admin.post(
            f"/admin/users/99999999999999999999/{action}", data={"csrf_token": csrf}
        )
        assert response.status_code == 404
    created = admin.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": "fuzzed", "role": "resident", "resident": "²",
              "password": PASSWORD},
    )  # fmt: skip
    assert created.status_code == 400
    assert USERS["admin"] == "admin1"
