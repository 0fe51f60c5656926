"""Console accounts: roles and argon2id password hashes.

Roles: ``admin`` (accounts, audit, everything a guard does), ``guard`` (the gate console:
live events, manual open, residents, visitor passes, health), ``landlord`` (own rooms and
tenants), ``police`` and ``grid`` (search all registrations and gate events), ``resident``
(one resident's own visitor passes; the account is linked to that resident). Passwords
are argon2id (argon2-cffi defaults, RFC 9106 low-memory profile); a login for an unknown
user still runs one hash so response time does not reveal which usernames exist. A
password must pass edge.web.passwords (length, and not guessable from breach lists or the
account's own words). Changing a password ends the account's other sessions; an admin's
reset sets a one-time password that must be changed at the next login and ends them all.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.db import iso
from edge.errors import UserError
from edge.web import passwords

ROLES = ("admin", "guard", "landlord", "police", "grid", "resident")
MIN_PASSWORD = passwords.MIN_LENGTH
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """The hash an unknown user's login is checked against (same cost as a real one).
    Made on first use, not at import: every `menwei` command imports this module, and an
    argon2id hash (64 MiB) at import made each process start a noticeable fraction of a
    second slower (the hub and gate-box processes restart in tests and after power cuts)."""
    return _hasher.hash("menwei-dummy-password")


class AccountError(UserError):
    """A bad username, role or password for a new or changed account."""

    code = "account"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    must_change_password: bool = False


def hash_password(password: str, words: tuple[str, ...] = ()) -> str:
    """The argon2id hash of a password that meets the rule (AccountError if it does not)."""
    try:
        passwords.check(password, words)
    except passwords.WeakPassword as exc:
        raise AccountError(exc.message, exc.params, code=exc.code) from None
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password[:200])
    except (VerificationError, InvalidHashError):
        return False


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
        raise AccountError("A username has 3-32 letters, digits, '.', '_' or '-'.")
    if role not in ROLES:
        raise AccountError("The role must be one of %(roles)s.", {"roles": ", ".join(ROLES)})
    if len(display_name) > 60:
        raise AccountError("A display name has at most 60 characters.")
    if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise AccountError("The username %(username)s is taken.", {"username": username})
    if (role == "resident") != (resident_id is not None):
        raise AccountError("A resident account, and only one, needs the resident's number.")
    if resident_id is not None:
        _check_linkable(conn, resident_id)
    cursor = conn.execute(
        "INSERT INTO users (username, display_name, role, password_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (username, display_name, role, hash_password(password, (username, display_name)), iso(at)),
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
        raise AccountError("There is no active resident %(id)s.", {"id": resident_id})
    if row[0] is None:
        raise AccountError(
            "Resident %(id)s has no household: give them one first.", {"id": resident_id}
        )
    taken = conn.execute(
        "SELECT 1 FROM resident_accounts a JOIN users u ON u.id = a.user_id"
        " WHERE a.resident_id = ?",
        (resident_id,),
    ).fetchone()
    if taken:
        raise AccountError("Resident %(id)s already has an account.", {"id": resident_id})


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
        "SELECT id, username, display_name, role, must_change_password, password_hash"
        " FROM users WHERE username = ? AND active = 1",
        (username[:64],),
    ).fetchone()
    stored = row[5] if row else _dummy_hash()
    if not verify_password(stored, password) or row is None:
        return None
    return User(int(row[0]), row[1], row[2], row[3], bool(row[4]))


def get_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute(
        "SELECT id, username, display_name, role, must_change_password FROM users"
        " WHERE id = ? AND active = 1",
        (user_id,),
    ).fetchone()
    return User(int(row[0]), row[1], row[2], row[3], bool(row[4])) if row else None


def check_password(conn: sqlite3.Connection, user_id: int, password: str) -> bool:
    """Is ``password`` this active user's current one (one argon2 verification)."""
    row = conn.execute(
        "SELECT password_hash FROM users WHERE id = ? AND active = 1", (user_id,)
    ).fetchone()
    return verify_password(row[0] if row else _dummy_hash(), password) and row is not None


def change_password(
    conn: sqlite3.Connection, user: User, new_password: str, at: datetime, keep_session: str
) -> int:
    """Set the user's own new password; ends every other session. Returns how many."""
    new_hash = hash_password(new_password, (user.username, user.display_name))
    if check_password(conn, user.id, new_password):
        raise AccountError("The new password must differ from the current one.")
    conn.execute(
        "UPDATE users SET password_hash = ?, must_change_password = 0, password_changed_at = ?"
        " WHERE id = ?",
        (new_hash, iso(at), user.id),
    )
    ended = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND id != ?", (user.id, keep_session)
    )
    return ended.rowcount


def reset_password(conn: sqlite3.Connection, user_id: int, at: datetime) -> str:
    """An admin's reset: a one-time password (returned, shown once) that must be changed at
    the next login; the account's sessions end. AccountError for an unknown account."""
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise AccountError("There is no account %(id)s.", {"id": user_id})
    temporary = passwords.temporary()
    conn.execute(
        "UPDATE users SET password_hash = ?, must_change_password = 1, password_changed_at = ?"
        " WHERE id = ?",
        (_hasher.hash(temporary), iso(at), user_id),
    )
    conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
    return temporary


def list_users(conn: sqlite3.Connection) -> list[dict]:
    cursor = conn.execute(
        "SELECT id, username, display_name, role, active, created_at FROM users ORDER BY username"
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def set_active(conn: sqlite3.Connection, user_id: int, active: bool) -> None:
    """Deactivating also ends the user's sessions at once. Reactivating a resident account
    needs its resident to be active still (AccountError otherwise)."""
    if active:
        linked = conn.execute(
            "SELECT a.resident_id, r.active FROM resident_accounts a"
            " LEFT JOIN residents r ON r.id = a.resident_id WHERE a.user_id = ?",
            (user_id,),
        ).fetchone()
        role = conn.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
        if role is None:
            raise AccountError("There is no account %(id)s.", {"id": user_id})
        if role[0] == "resident" and (linked is None or not linked[1]):
            raise AccountError("This resident account's resident is no longer active.")
    conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(active), user_id))
    if not active:
        conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
