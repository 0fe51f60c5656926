"""Console forms held past their session: a guard loads a form, the session ends (logout, or
another login), the old page is submitted. The CSRF token belonged to the dead session, so
every such submit is refused with the "form has expired" page and nothing is written — for
each console form that creates something, photo uploads included."""

from __future__ import annotations

import io
import sqlite3
from datetime import timedelta

import pytest
from helpers import PASSWORD, USERS, client_as, csrf_of, form_fields

from edge.db import utc_now

TABLES = ("residents", "vehicles", "watchlist", "watch_faces", "qr_passes", "face_templates")


@pytest.fixture(scope="module")
def env(tmp_path_factory, console_env):
    return console_env(tmp_path_factory.mktemp("forms"), clock=utc_now)


def _rows(env) -> int:
    with sqlite3.connect(env["config"].storage.database_path) as conn:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES)


def _relogin(client) -> None:
    """End the session the page was loaded in, then sign in again in the same browser."""
    page = client.get("/", follow_redirects=True).text
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code in (302, 303)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "username": USERS["admin"], "password": PASSWORD}
    )
    assert response.status_code == 302


def _jpeg() -> io.BytesIO:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((200, 200, 3), 120, np.uint8))
    assert ok
    return io.BytesIO(data.tobytes())


UNTIL = (utc_now() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
FORMS = [
    ("/people/new", "/people/new", {"name": "李四", "household": "3-1-402", "group": "residents"}),
    ("/passes/new/qr", "/passes/new/qr", {"household": "3-1-402", "valid_to": UNTIL, "uses": "1"}),
    ("/passes/new/plate", "/passes/new/plate",
     {"plate": "粤BD12345", "household": "3-1-402", "valid_to": UNTIL, "uses": "1"}),
    ("/watchlist/", "/watchlist/plates", {"plate": "京A88888", "reason": "stolen"}),
]  # fmt: skip


@pytest.mark.parametrize(("page", "action", "values"), FORMS, ids=[f[1] for f in FORMS])
def test_a_form_from_an_ended_session_is_refused_and_writes_nothing(env, page, action, values):
    client = client_as(env, "admin")
    fields = form_fields(client.get(page).text)
    _relogin(client)
    before = _rows(env)
    response = client.post(action + "?lang=en", data={**fields, **values})
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert _rows(env) == before


def test_a_stale_photo_upload_is_refused_before_anything_is_decoded(env):
    client = client_as(env, "admin")
    fields = form_fields(client.get("/watchlist/").text)
    _relogin(client)
    before = _rows(env)
    data = {**fields, "label": "case 1", "reason": "x", "photo": (_jpeg(), "a.jpg")}
    response = client.post(
        "/watchlist/faces?lang=en", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400 and "This form has expired" in response.text
    assert _rows(env) == before
