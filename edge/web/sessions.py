"""Server-side sessions in SQLite: the cookie holds only a random token.

Why not Flask's signed-cookie session: a signed cookie stays valid until it expires, so
"log out" cannot revoke a stolen one. Here the database row *is* the session; logout (or
deactivating the user) deletes it and the cookie is worthless at once. Only the SHA-256 of
the token is stored, so a copy of the database cannot be used to ride a live session.
Each session has its own CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.db import iso, parse_iso

COOKIE_NAME = "menwei_session"
_TOUCH_EVERY = timedelta(seconds=60)  # don't write on every request


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    csrf_token: str


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(
    conn: sqlite3.Connection, user_id: int, now: datetime, max_age: timedelta
) -> tuple[str, Session]:
    """Start a session; returns the cookie value (shown once) and the session."""
    token = secrets.token_urlsafe(32)
    session = Session(_id(token), user_id, secrets.token_urlsafe(32))
    conn.execute(
        "INSERT INTO web_sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (session.id, user_id, session.csrf_token, iso(now), iso(now), iso(now + max_age)),
    )
    return token, session


def load(conn: sqlite3.Connection, token: str, now: datetime, idle: timedelta) -> Session | None:
    """The live session for a cookie value; expired or idle sessions are deleted."""
    if not token or len(token) > 100:
        return None
    sid = _id(token)
    row = conn.execute(
        "SELECT s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, u.active "
        "FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        (sid,),
    ).fetchone()
    if row is None:
        return None
    last_seen, expires = parse_iso(row[2]), parse_iso(row[3])
    assert last_seen is not None and expires is not None
    if not row[4] or now >= expires or now - last_seen >= idle:
        conn.execute("DELETE FROM web_sessions WHERE id = ?", (sid,))
        return None
    if now - last_seen >= _TOUCH_EVERY:
        conn.execute("UPDATE web_sessions SET last_seen_at = ? WHERE id = ?", (iso(now), sid))
    return Session(sid, int(row[0]), row[1])


def delete(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM web_sessions WHERE id = ?", (session_id,))
