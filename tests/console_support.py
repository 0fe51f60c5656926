"""Shared builders for the console tests: an app on a real SQLite file with an account of
every role, logged-in test clients, and the CSRF / nonce fields of a page."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import numpy as np
from registry_support import PASSWORD, Clock, csrf_of, make_config

from edge.config import MenweiConfig
from edge.db import connect, transaction
from edge.residents import insert_resident
from edge.web.accounts import ROLES, create_user
from edge.web.app import create_app

USERS = {role: f"{role}1" for role in ROLES}  # one account per role: admin1, guard1, ...


def console_env(
    tmp: Path,
    clock: Clock | None = None,
    config: MenweiConfig | None = None,
    resident_household: str | None = None,
) -> dict:
    """App + database + one account per role. Returns a dict the helpers below take.

    The ``resident`` account is a resident's own: only with ``resident_household``, where a
    resident (``env["resident_id"]``) is added for it, so other tests' counts stay as they are.
    """
    clock = clock or Clock()
    config = config or make_config(tmp)
    app = create_app(config, clock=clock)
    db = connect(config.storage.database_path)
    resident_id = None
    with transaction(db) as conn:
        ids = {
            role: create_user(conn, name, PASSWORD, role, clock()).id
            for role, name in USERS.items()
            if role != "resident"
        }
        if resident_household is not None:
            vault = app.extensions["menwei"].vault
            resident_id = insert_resident(
                conn, vault, "周晓", resident_household, "residents", clock()
            )
            user = create_user(
                conn, USERS["resident"], PASSWORD, "resident", clock(), resident_id=resident_id
            )
            ids["resident"] = user.id
    db.conn.close()
    return {"app": app, "config": config, "clock": clock, "ids": ids, "resident_id": resident_id}


def client_as(env: dict, role: str | None):  # type: ignore[no-untyped-def]
    """A test client logged in as the account of ``role`` (None: anonymous)."""
    client = env["app"].test_client()
    if role:
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login", data={"csrf_token": token, "username": USERS[role], "password": PASSWORD}
        )
        assert response.status_code == 302, response.text
    return client


def form_fields(html: str) -> dict[str, str]:
    """The CSRF token and (if present) the one-time form nonce of the first form on a page."""
    fields = {"csrf_token": csrf_of(html)}
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', html)
    if nonce:
        fields["form_nonce"] = nonce.group(1)
    return fields


def db_of(env: dict):  # type: ignore[no-untyped-def]
    return connect(env["config"].storage.database_path)


def qr_token(html: str) -> str:
    """The text of the QR image (a data: URI PNG) on a page: a pass's token, decoded back."""
    match = re.search(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert match, "no QR image on the page"
    png = np.frombuffer(base64.b64decode(match.group(1)), np.uint8)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(png, cv2.IMREAD_COLOR))
    return text
