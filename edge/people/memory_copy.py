"""A gate's last good copy of the people data it decides from, in memory and in a file.

A gate decides every passage from a handful of tables (households, residents and their face
templates, vehicles, QR passes, the watchlists). When the store cannot read them — a zeroed
page, an I/O error, "database disk image is malformed", a file that will not open — a gate
that looks them up on the card at each passage would lock every resident out. So each gate
keeps the last copy it read whole, as an in-memory SQLite database with the same tables
(only the columns the fact functions read: no names, phones or photos), and on a failed read
the very same fact functions (edge.people.vehicles ``facts_for_plate``, edge.people.residents
``resident_fact``, ...) run against the copy: one implementation of the facts, two sources.

When it is refreshed: migration 14 keeps a version per list, bumped by triggers on every
insert, update and delete, so a refresh costs one small query and reloads only the lists
that changed (a counted pass use reloads the vehicles, not the face templates).

The file: after a load the copy is also written (at most every ``save_every_s``) beside the
gate's spool, ``<spool_dir>/<gate>.people``, so that a gate *starting* on unreadable people
tables still decides from the last good facts. It holds personal data (plates, household
labels, PIN hashes, face templates), so it is sealed with the box's PII key
(edge.pii, purpose ``gate.people_copy``) like every other personal datum at rest, and
written atomically (temporary file, fsync, rename, fsync of the folder). Without the key
there is no file, only the copy in memory.

Thread use: the gate's loop, keypad, door and control threads all read the copy; a
connection to a ``:memory:`` database is shared under this object's lock (reads are
microseconds), and a refresh builds a new database and swaps it in whole.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from edge.db import iso, utc_now
from edge.files import fsync_dir
from edge.migrations import PEOPLE_LISTS
from edge.pii import PiiDecryptError, PiiVault

log = logging.getLogger(__name__)
T = TypeVar("T")
PURPOSE = "gate.people_copy"

#: per list, the columns the fact functions read (and the copy keeps); nothing else
COLUMNS: dict[str, tuple[str, ...]] = {
    "households": ("id", "label"),
    "residents": (
        "id", "kind", "active", "access_group", "household_id", "face_consent_at",
        "pin_hash", "valid_from", "valid_to", "uses", "max_uses", "host_resident_id",
    ),
    "face_templates": ("id", "resident_id", "model_sha256", "template"),
    "vehicles": (
        "id", "plate", "kind", "household_id", "valid_from", "valid_to", "max_uses",
        "uses", "active",
    ),
    "qr_passes": (
        "id", "token_hash", "label", "host_resident_id", "access_group", "valid_from",
        "valid_to", "uses", "max_uses", "revoked",
    ),
    "watchlist": ("id", "plate", "reason", "source", "active", "starts_at", "expires_at"),
    "watch_faces": (
        "id", "label", "reason", "source", "active", "starts_at", "expires_at", "model_sha256",
        "template",
    ),
}  # fmt: skip
assert set(COLUMNS) == set(PEOPLE_LISTS)
#: the tables the fact functions join but the copy does not fill (a pass's last use at this
#: gate is read from events: in the copy there is none, so the same-visit rule is off)
EMPTY = {"events": ("id", "occurred_at", "gate_id", "kind", "plate", "decision", "details")}
INDEXES = (
    "CREATE INDEX vehicles_plate ON vehicles(plate)",
    "CREATE INDEX watchlist_plate ON watchlist(plate)",
    "CREATE INDEX qr_passes_token ON qr_passes(token_hash)",
)


class PeopleCopyError(Exception):
    """The copy file cannot be used (missing, unreadable, sealed with another key)."""


@dataclass(frozen=True)
class CopyState:
    """Where the copy came from, for the health page and the start-up log."""

    source: str | None  # 'store', 'file' or None (nothing loaded yet)
    loaded_at: datetime | None  # when its contents were read from the store
    rows: dict[str, int]


def _empty_copy() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for table, columns in {**COLUMNS, **EMPTY}.items():
        conn.execute(f"CREATE TABLE {table} (id PRIMARY KEY, {', '.join(columns[1:])})")
    for sql in INDEXES:
        conn.execute(sql)
    conn.execute("CREATE TABLE copy_meta (name TEXT PRIMARY KEY, value)")
    return conn


def _copy_list(store: sqlite3.Connection, target: sqlite3.Connection, table: str) -> None:
    columns = COLUMNS[table]
    names = ", ".join(columns)
    rows = store.execute(f"SELECT {names} FROM {table}").fetchall()
    target.execute(f"DELETE FROM {table}")
    target.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(row) for row in rows],
    )


def store_versions(store: sqlite3.Connection) -> dict[str, int] | None:
    """The store's version of each list; None on a store without them (an old schema, or
    ``people_versions`` itself unreadable: raises the storage error then)."""
    try:
        rows = store.execute("SELECT list, version FROM people_versions").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return {str(row[0]): int(row[1]) for row in rows}


class PeopleCopy:
    """The gate's last good copy (see the module doc). ``read`` never touches the store."""

    def __init__(
        self,
        file: Path | None = None,
        vault: PiiVault | None = None,
        save_every_s: float = 60.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.file = file if vault is not None else None
        self.vault = vault
        self.save_every_s = save_every_s
        self.clock = clock
        self._conn = _empty_copy()
        self._db = sqlite_utils.Database(self._conn)
        self._lock = threading.Lock()
        self._versions: dict[str, int] | None = None
        self._unversioned_at = 0.0  # a store without versions: reloaded at most every minute
        self._saved_at: float | None = None
        self._unsaved = False
        self.state = CopyState(None, None, {})
        self.file_error: str | None = None

    # -- reading ----------------------------------------------------------------------------
    def read(self, read: Callable[[sqlite_utils.Database], T]) -> T:
        """``read`` (a fact function) on the copy."""
        with self._lock:
            return read(self._db)

    # -- loading from the store -------------------------------------------------------------
    def refresh(self, store: sqlite3.Connection, force: bool = False) -> bool:
        """Reload the lists that changed in ``store`` since the last load; True if any did.

        Raises the store's error (sqlite3.DatabaseError, OSError) when it cannot be read:
        the copy is then left exactly as it was."""
        versions = store_versions(store)
        recent = time.monotonic() - self._unversioned_at < 60
        if versions is None and not force and self.state.source == "store" and recent:
            return False
        changed = [
            table
            for table in PEOPLE_LISTS
            if force
            or versions is None
            or self._versions is None
            or self.state.source != "store"
            or versions.get(table) != self._versions.get(table)
        ]
        if not changed:
            return False
        conn = self._copy_of_current()
        try:  # versions were read first: the rows are at least that new
            for table in changed:
                _copy_list(store, conn, table)
        except BaseException:
            conn.close()
            raise
        self._install(conn, "store", self.clock())
        self._versions = versions
        self._unversioned_at = time.monotonic()
        self._unsaved = True
        self.save_if_due()
        return True

    def _copy_of_current(self) -> sqlite3.Connection:
        """A new in-memory database holding what the copy holds now (the unchanged lists)."""
        with self._lock:
            data = self._conn.serialize()
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.deserialize(data)
        conn.row_factory = sqlite3.Row
        return conn

    def _install(self, conn: sqlite3.Connection, source: str, loaded_at: datetime) -> None:
        rows = {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in COLUMNS}
        conn.execute("INSERT OR REPLACE INTO copy_meta VALUES ('loaded_at', ?)", (iso(loaded_at),))
        with self._lock:
            old, self._conn, self._db = self._conn, conn, sqlite_utils.Database(conn)
        old.close()
        self.state = CopyState(source, loaded_at, rows)

    # -- the file ---------------------------------------------------------------------------
    def save_if_due(self) -> None:
        """Write the copy to its file when it changed and the last write is old enough."""
        if self.file is None or not self._unsaved:
            return
        if self._saved_at is not None and time.monotonic() - self._saved_at < self.save_every_s:
            return
        self.save()

    def save(self) -> bool:
        """Seal and write the copy atomically; False (logged once per problem) on failure:
        a full or read-only disk keeps the previous file, which is what it is for."""
        if self.file is None or self.vault is None or self.state.source != "store":
            return False
        with self._lock:
            data = self._conn.serialize()
        sealed = self.vault.encrypt(bytes(data), PURPOSE)
        temporary = self.file.with_name(f".{self.file.name}.new")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(sealed)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.file)
            fsync_dir(self.file.parent)
        except OSError as exc:
            message = f"{self.file}: {exc.__class__.__name__}: {exc}"
            if message != self.file_error:
                log.warning("last good copy of the people data not written: %s", message)
            self.file_error = message
            self._saved_at = time.monotonic()  # try again after save_every_s, not each refresh
            return False
        self.file_error = None
        self._saved_at = time.monotonic()
        self._unsaved = False
        return True

    def load_file(self) -> CopyState:
        """Take the copy from its file (a start on unreadable people tables). Raises
        PeopleCopyError naming the file when there is none or it cannot be opened."""
        if self.file is None or self.vault is None:
            raise PeopleCopyError("no copy file (no PII key to seal one with)")
        try:
            sealed = self.file.read_bytes()
        except OSError as exc:
            raise PeopleCopyError(f"{self.file}: {exc.strerror or exc}") from None
        try:
            data = self.vault.decrypt(sealed, PURPOSE)
        except PiiDecryptError as exc:
            raise PeopleCopyError(
                f"{self.file} cannot be opened with this box's key: {exc}"
            ) from None
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        try:
            conn.deserialize(data)
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT value FROM copy_meta WHERE name = 'loaded_at'").fetchone()
            for table in (*COLUMNS, *EMPTY):
                conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise PeopleCopyError(f"{self.file} is not a copy this gate can read: {exc}") from None
        loaded_at = datetime.fromisoformat(row[0]) if row else None
        self._install(conn, "file", loaded_at or self.clock())
        self._versions = None
        return self.state
