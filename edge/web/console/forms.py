"""Console forms: one-time nonces against double submits, and the upload size limit.

Double submit: every console form that creates something carries a random nonce; the view
claims it with an INSERT into ``form_submissions`` *inside the same transaction* as what
the form creates. A second submit of the same form (a double click, a browser retry, the
back button) hits the primary key, the whole transaction rolls back, and the guard is told
it was already done: nothing is created twice, and there is no window between check and
write for two threads to slip through.

Uploads: the app refuses bodies over 64 KB (the tenant form is a few KB). Views that take
photos say so with ``@accepts_uploads``; ``apply_upload_limit`` (an app ``before_request``
that runs before the CSRF check parses the body) raises the limit for that endpoint only,
and only for a logged-in user, so an anonymous client can never make the box read 16 MB.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from flask import current_app, g, request

from edge.db import iso
from edge.errors import MenweiError

NONCE_FIELD = "form_nonce"
UPLOAD_LIMIT_BYTES = 16 * 1024 * 1024  # five phone photos; decode_image refuses > 20 MB each
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KEEP = timedelta(days=2)

F = TypeVar("F", bound=Callable[..., object])


class DuplicateSubmission(MenweiError):
    """This form was already submitted (its nonce is used, or it has none)."""


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def claim_nonce(conn: sqlite3.Connection, actor: str, action: str, at: datetime) -> None:
    """Record this form's nonce in the caller's transaction; a reuse raises
    DuplicateSubmission (the caller's transaction then rolls back with it)."""
    nonce = request.form.get(NONCE_FIELD, "")
    if not _NONCE.match(nonce):
        raise DuplicateSubmission("form has no valid nonce")
    conn.execute("DELETE FROM form_submissions WHERE at < ?", (iso(at - _KEEP),))
    try:
        conn.execute(
            "INSERT INTO form_submissions (nonce, actor, action, at) VALUES (?, ?, ?, ?)",
            (nonce, actor, action, iso(at)),
        )
    except sqlite3.IntegrityError:
        raise DuplicateSubmission("form already submitted") from None


def accepts_uploads(view: F) -> F:
    """Mark a view that takes photo uploads (up to UPLOAD_LIMIT_BYTES per request)."""
    view._menwei_upload_limit = UPLOAD_LIMIT_BYTES  # type: ignore[attr-defined]
    return view


def accepts_uploads_up_to(limit: int) -> Callable[[F], F]:
    """Mark a view that takes one larger upload (a workbook, a ZIP of photos) of ``limit``."""

    def mark(view: F) -> F:
        view._menwei_upload_limit = limit  # type: ignore[attr-defined]
        return view

    return mark


def apply_upload_limit() -> None:
    """App ``before_request``: raise the body limit for an upload view and a signed-in user."""
    if g.get("user") is None or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    limit = getattr(view, "_menwei_upload_limit", None)
    if limit:
        request.max_content_length = limit
        # Text fields stay small. Not 64 KB: Werkzeug's multipart decoder counts its whole
        # read buffer (file data too) against this limit and reads 64 KB chunks, so 64 KB
        # refused most photos with a spurious 413.
        request.max_form_memory_size = 512 * 1024
