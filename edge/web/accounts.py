"""Console accounts: roles and argon2id password hashes.

Roles: ``admin`` (accounts, audit, everything a guard does), ``guard`` (the gate console:
live events, manual open, residents, visitor passes, health), ``landlord`` (own rooms and
tenants), ``police`` and ``grid`` (search all registrations and gate events), ``resident``
(one resident's own visitor passes; the account is linked to that resident). Passwords
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

ROLES = ("admin", "guard", "landlord", "police", "grid", "resident")
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
    resident_id: int | None = None,
) -> User:
    """Create an account; a ``resident`` account needs the number of its resident."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,32}", username or ""):
        raise AccountError("a username has 3-32 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(display_name) > 60:
        raise AccountError("a display name has at most 60 characters")
    if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise AccountError(f"user {username!r} exists")
    if (role == "resident") != (resident_id is not None):
        raise AccountError("a resident account, and only one, needs the resident's number")
    if resident_id is not None:
        _check_linkable(conn, resident_id)
    cursor = conn.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (username, display_name, role, hash_password(password), iso(at)),
    )
    user_id = int(cursor.lastrowid or 0)
    if resident_id is not None:
        conn.execute(
            "INSERT INTO resident_accounts (user_id, resident_id, created_at) VALUES (?, ?, ?)",
            (user_id, resident_id, iso(at)),
        )
    return User(user_id, username, display_name, role)


def _check_linkable(conn: sqlite3.Connection, resident_id: int) -> None:
    """An active resident (not a visitor) with a household (a pass needs a host household),
    without an account yet."""
    row = conn.execute(
        "SELECT household_id FROM residents WHERE id = ? AND kind = 'resident' AND active = 1",
        (resident_id,),
    ).fetchone()
    if row is None:
        raise AccountError(f"there is no active resident {resident_id}")
    if row[0] is None:
        raise AccountError(f"resident {resident_id} has no household: give them one first")
    taken = conn.execute(
        "SELECT 1 FROM resident_accounts a JOIN users u ON u.id = a.user_id"
        " WHERE a.resident_id = ?",
        (resident_id,),
    ).fetchone()
    if taken:
        raise AccountError(f"resident {resident_id} already has an account")


def resident_of(conn: sqlite3.Connection, user_id: int) -> int | None:
    """The resident a (resident) account is, while that resident is active; else None."""
    row = conn.execute(
        "SELECT a.resident_id FROM resident_accounts a JOIN residents r ON r.id = a.resident_id"
        " WHERE a.user_id = ? AND r.active = 1 AND r.kind = 'resident'",
        (user_id,),
    ).fetchone()
    return int(row[0]) if row else None


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
