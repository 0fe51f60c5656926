"""Console accounts: roles and argon2id password hashes.

Roles: ``admin`` (accounts, audit, everything a guard does), ``guard`` (the gate console:
live events, manual open, residents, visitor passes, health), ``landlord`` (own rooms and
tenants), ``police`` and ``grid`` (search all registrations and gate events). Passwords
are argon2id (argon2-cffi defaults, RFC 9106 low-memory profile); a login for an unknown
user still runs one hash so response time does not reveal which usernames exist.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.db import iso

ROLES = ("admin", "guard", "landlord", "police", "grid")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("menwei-dummy-password")


class AccountError(ValueError):
    """A bad username, role or password for a new or changed account."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 200:
        raise AccountError(f"a password needs {MIN_PASSWORD} to 200 characters")
    return _hasher.hash(password)


def create_user(
    conn: sqlite3.Connection,
    username: str,
    password: str,
    role: str,
    at: datetime,
    display_name: str = "",
) -> User:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,32}", username or ""):
        raise AccountError("a username has 3-32 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(display_name) > 60:
        raise AccountError("a display name has at most 60 characters")
    if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise AccountError(f"user {username!r} exists")
    cursor = conn.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (username, display_name, role, hash_password(password), iso(at)),
    )
    return User(int(cursor.lastrowid or 0), username, display_name, role)


def authenticate(conn: sqlite3.Connection, username: str, password: str) -> User | None:
    """The active user with this password, or None (same work either way)."""
    row = conn.execute(
        "SELECT id, username, display_name, role, password_hash FROM users "
        "WHERE username = ? AND active = 1",
        (username[:64],),
    ).fetchone()
    stored = row[4] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:200])
    except (VerificationError, InvalidHashError):
        return None
    return User(int(row[0]), row[1], row[2], row[3]) if row else None


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute(
        "SELECT id, username, display_name, role FROM users WHERE id = ? AND active = 1",
        (user_id,),
    ).fetchone()
    return User(int(row[0]), row[1], row[2], row[3]) if row else None


def list_users(conn: sqlite3.Connection) -> list[dict]:
    cursor = conn.execute(
        "SELECT id, username, display_name, role, active, created_at FROM users ORDER BY username"
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def set_active(conn: sqlite3.Connection, user_id: int, active: bool) -> None:
    """Deactivating also ends the user's sessions at once."""
    conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(active), user_id))
    if not active:
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
