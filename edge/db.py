"""The one SQLite database every Menwei process shares.

Settings chosen for a box whose power can fail at any instant and whose gate, web and
sync processes write concurrently:

- WAL, so readers (web, sync) never block the gate writer;
- ``synchronous=FULL``: in WAL mode NORMAL may lose the last commits on power loss, and
  "nothing acknowledged is lost" is a rule, so every commit is fsynced;
- foreign keys on, and a busy timeout so a short lock by another process waits instead
  of failing;
- transactions are explicit (``BEGIN IMMEDIATE``) so a write never silently upgrades
  a read lock and dead-locks with another process.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from edge.errors import UserError
from edge.migrations import LATEST_VERSION, MIGRATIONS, TABLE_REBUILDS

BUSY_TIMEOUT_MS = 5000


class SchemaTooNewError(UserError):
    """The database was written by a newer Menwei; refusing to run on it."""

    code = "schema_too_new"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 text for storage; refuses naive datetimes (they hide time-zone bugs)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Menwei stores only timezone-aware times")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def connect(path: Path, apply_migrations: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    ``apply_migrations=False`` is for a long-lived process that already migrated at start
    (the web workers' per-thread connections): it skips the schema check per connection.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if apply_migrations:
        migrate(db)
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations, each atomically with its version bump; return the version."""
    current = schema_version(db)
    if current > LATEST_VERSION:
        raise SchemaTooNewError(
            f"database schema is version {current}, this Menwei knows up to {LATEST_VERSION}"
        )
    for version, _title, sql in MIGRATIONS:
        if version <= current:
            continue
        _apply(db.conn, version, sql)
        current = version
    return current


def _apply(conn: sqlite3.Connection, version: int, sql: str) -> None:
    """One migration and its version bump in one transaction (a power cut leaves the old
    version). A table rebuild runs with foreign keys off — the pragma is a no-op inside a
    transaction, so it is switched before BEGIN — and is checked before it commits."""
    rebuild = version in TABLE_REBUILDS
    if rebuild:
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};")
        if rebuild and conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise sqlite3.IntegrityError(f"migration {version} would break a foreign key")
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        if rebuild:
            conn.execute("PRAGMA foreign_keys = ON")


_SAVEPOINTS = itertools.count(1)


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside commits together or not at all.

    Called while a transaction is already open on the connection (a library function that
    is a whole unit of work for the CLI, used by the console inside its own transaction
    with an audit row), it becomes a SAVEPOINT of the outer one: its writes commit or roll
    back with the caller's, and an error inside rolls back only its own part.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"nested_{next(_SAVEPOINTS)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:  # a failed COMMIT (disk full, read-only) leaves it open
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
