"""Server-side sessions in SQLite: the cookie holds only a random token.

Why not Flask's signed-cookie session: a signed cookie stays valid until it expires, so
"log out" cannot revoke a stolen one. Here the database row *is* the session; logout (or
deactivating the user) deletes it and the cookie is worthless at once. Only the SHA-256 of
the token is stored, so a copy of the database cannot be used to ride a live session.
Each session has its own CSRF token.

Idle time counts *user actions* only: requests to ``BACKGROUND_ENDPOINTS`` (the live feed
and health polls, snapshots the feed loads) read the session but never move
``last_seen_at``, so a console left open in a drawer logs out like any other page. Guards,
who watch the live view for a whole shift without clicking, get their own longer idle
limit (``[web] guard_idle_minutes``); everyone else has ``session_idle_minutes``.

A new login limits older sessions: admin, police and grid accounts (who can see or change
the most) keep one session — logging in ends the others; every other account keeps its
newest ``MAX_SESSIONS``. Each user sees theirs on /account/sessions and can end them.
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
MAX_SESSIONS = 3
SINGLE_SESSION_ROLES = frozenset({"admin", "police", "grid"})
BACKGROUND_ENDPOINTS = frozenset(
    {"console_events.feed", "console_live.health_json", "console_events.snapshot", "static"}
)


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    csrf_token: str


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create(
    conn: sqlite3.Connection,
    user_id: int,
    now: datetime,
    max_age: timedelta,
    address: str = "",
    user_agent: str = "",
) -> tuple[str, Session, int]:
    """Start a session; returns the cookie value (shown once), the session and how many
    older sessions of the user the login policy ended."""
    token = secrets.token_urlsafe(32)
    session = Session(_id(token), user_id, secrets.token_urlsafe(32))
    conn.execute(
        "INSERT INTO web_sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at,"
        " address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session.id,
            user_id,
            session.csrf_token,
            iso(now),
            iso(now),
            iso(now + max_age),
            address[:64],
            user_agent[:200],
        ),
    )
    role = conn.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
    keep = 1 if role and role[0] in SINGLE_SESSION_ROLES else MAX_SESSIONS
    ended = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND id NOT IN (SELECT id FROM web_sessions"
        " WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)",
        (user_id, user_id, keep),
    )
    return token, session, ended.rowcount


def load(
    conn: sqlite3.Connection,
    token: str,
    now: datetime,
    idle: timedelta,
    touch: bool = True,
    role_idle: dict[str, timedelta] | None = None,
) -> Session | None:
    """The live session for a cookie value; expired or idle sessions are deleted.

    ``touch=False`` for background requests: they do not count as activity. ``role_idle``
    overrides ``idle`` for the roles it names."""
    if not token or len(token) > 100:
        return None
    sid = _id(token)
    row = conn.execute(
        "SELECT s.user_id, s.csrf_token, s.last_seen_at, s.expires_at, u.active, u.role "
        "FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        (sid,),
    ).fetchone()
    if row is None:
        return None
    last_seen, expires = parse_iso(row[2]), parse_iso(row[3])
    assert last_seen is not None and expires is not None
    limit = (role_idle or {}).get(row[5], idle)
    if not row[4] or now >= expires or now - last_seen >= limit:
        conn.execute("DELETE FROM web_sessions WHERE id = ?", (sid,))
        return None
    if touch and now - last_seen >= _TOUCH_EVERY:
        conn.execute("UPDATE web_sessions SET last_seen_at = ? WHERE id = ?", (iso(now), sid))
    return Session(sid, int(row[0]), row[1])


def delete(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM web_sessions WHERE id = ?", (session_id,))


def list_for_user(conn: sqlite3.Connection, user_id: int) -> list[dict[str, str]]:
    """The user's sessions, newest first: public id (a prefix of the stored hash, enough to
    name one, useless as a cookie), when made, last action, address, browser."""
    rows = conn.execute(
        "SELECT id, created_at, last_seen_at, address, user_agent FROM web_sessions"
        " WHERE user_id = ? ORDER BY created_at DESC",
        (user_id,),
    ).fetchall()
    return [
        {
            "id": r[0][:16],
            "created_at": r[1],
            "last_seen_at": r[2],
            "address": r[3],
            "user_agent": r[4],
            "full_id": r[0],
        }
        for r in rows
    ]


def end_one(conn: sqlite3.Connection, user_id: int, public_id: str) -> bool:
    """End one of the user's own sessions by its public id; False if there is none."""
    if len(public_id) != 16 or not all(c in "0123456789abcdef" for c in public_id):
        return False
    ended = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND substr(id, 1, 16) = ?",
        (user_id, public_id),
    )
    return ended.rowcount > 0


def end_others(conn: sqlite3.Connection, user_id: int, keep_session: str) -> int:
    ended = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND id != ?", (user_id, keep_session)
    )
    return ended.rowcount
