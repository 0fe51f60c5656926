"""The one SQLite database every Menwei process shares.

Settings chosen for a box whose power can fail at any instant and whose gate, web and
sync processes write concurrently:

- WAL, so readers (web, sync) never block the gate writer;
- ``synchronous=FULL``: in WAL mode NORMAL may lose the last commits on power loss, and
  "nothing acknowledged is lost" is a rule, so every commit is fsynced;
- foreign keys on, and a busy timeout so a short lock by another process waits instead
  of failing;
- transactions are explicit (``BEGIN IMMEDIATE``) so a write never silently upgrades
  a read lock and dead-locks with another process;
- a connection belongs to the thread that opened it, and a transaction to the thread that
  began it: two threads writing through one connection would commit or roll back each
  other's half-done work, so both are refused loudly instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from edge.db_file import DamagedStoreError, refuse_damaged
from edge.errors import UserError
from edge.files import fsync_dir
from edge.migrations import LATEST_VERSION, MIGRATION_STEPS, MIGRATIONS, TABLE_REBUILDS

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
    (the web workers' and gates' per-thread connections): it skips the schema check.
    The connection belongs to the calling thread: sqlite3 refuses its use from any other
    (see ThreadConnections for components that several threads call). A file that is not
    a database (empty, truncated, garbled, a directory) is refused with
    ``DamagedStoreError``, never replaced.
    """
    if not os.path.lexists(path):
        if not apply_migrations:  # migrated at start, so it was there: moved or removed since
            raise cannot_open(path, "the file is gone (moved or removed while in use)")
        _create_whole(path)
    refuse_damaged(path)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        if apply_migrations:
            migrate(db)
    except BaseException:
        conn.close()
        raise
    return db


def cannot_open(path: Path, why: str) -> sqlite3.OperationalError:
    """SQLite's own "cannot open" (SQLITE_CANTOPEN) for a file this process will not open:
    a storage fault the gate's writer and fact readers catch, worded by
    edge.db_file.storage_error like one SQLite raised."""
    error = sqlite3.OperationalError(f"unable to open database file {path}: {why}")
    error.sqlite_errorcode = 14
    return error


def _create_whole(path: Path) -> None:
    """Make a new, empty database beside ``path`` and link it into place whole.

    SQLite itself creates a 0-byte file and writes the header only at the first write, so
    a second process starting at the same moment (web and gate at boot) would see an empty
    file, which ``refuse_damaged`` rightly takes for lost data. Made this way, no process
    ever sees a database being born: a 0-byte ``menwei.db`` is always one that lost its data.
    If another process links its own first, that one is used and ours is dropped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    try:
        conn = sqlite3.connect(fresh, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # writes the header: a real database
        finally:
            conn.close()  # the last connection: the WAL is checkpointed and removed
        with open(fresh, "rb") as handle:
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use theirs
            os.link(fresh, path)
        fsync_dir(path.parent)
    finally:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)


def connect_read_only(path: Path) -> sqlite_utils.Database:
    """Open the database at ``path`` for reading only: the way in when the disk is read-only.

    ``mode=ro`` first (sees the WAL's last commits; needs the ``-shm`` file); on a read-only
    file system without one, ``immutable=1`` (reads the main file as it is: commits still
    in the WAL are not seen). Raises DamagedStoreError or sqlite3.Error."""
    refuse_damaged(path)
    conn, _immutable = open_for_reading(path)
    return sqlite_utils.Database(conn)


def open_for_reading(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A read-only sqlite3 connection to ``path``, and whether it had to be ``immutable``
    (a read-only or full disk without the ``-shm`` file: commits still in the WAL are not
    seen). For whatever must read a store that cannot be written: a read-only gate,
    ``menwei db check``, ``menwei backup``. Raises sqlite3.Error."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.OperationalError:
        conn = None
    if conn is not None:
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return conn, False
        except sqlite3.OperationalError:
            conn.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn, True


class ThreadConnections:
    """Each thread's own connection to one database file, opened on its first use there.

    A SQLite connection belongs to the thread that opened it (``connect`` leaves sqlite3's
    same-thread check on, so using one from another thread raises at once). A component
    called from several threads — a gate: its loop, control requests, the keypad, door
    inputs — asks for :meth:`get` each time instead of holding one connection.

    Lifetimes are explicit (a thread-local connection is otherwise freed only by the
    garbage collector, long after its thread ended): ``first`` is the constructing thread's
    own connection, reused there and left for its opener to close; a thread that runs for
    the component's life (a gate's loop) calls :meth:`close` when it ends; a call made on
    another component's thread (a control request, a keypad line, a door event) holds its
    connection only for the call, with :meth:`scoped`.
    """

    def __init__(self, first: sqlite_utils.Database) -> None:
        row = first.execute("PRAGMA database_list").fetchone()
        if not row or not row[2]:
            raise ValueError("a connection shared by threads needs a database file, not memory")
        self.path = Path(row[2])
        self._first = first
        self._local = threading.local()
        self._local.db = first

    def get(self) -> sqlite_utils.Database:
        """The calling thread's connection (schema already migrated by ``first``'s opener);
        read-only when the disk will not open for writing (its writes then fail as storage
        faults; ``close`` after a fault, and the next ``get`` tries to write again)."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                try:
                    db = connect(self.path, apply_migrations=False)
                except sqlite3.OperationalError:  # a read-only disk: "unable to open"
                    if not os.path.lexists(self.path):
                        raise
                    db = connect_read_only(self.path)
            except DamagedStoreError as exc:  # replaced while running (a folder, garbage)
                raise cannot_open(self.path, str(exc)) from None
            self._local.db = db
        return db

    def close(self) -> None:
        """Close the calling thread's connection, unless it is ``first`` (its opener's)."""
        db = getattr(self._local, "db", None)
        self._local.db = None
        if db is not None and db is not self._first:
            db.conn.close()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """As ``scoped``, but the connection is opened only when the block first asks for
        it (``get``): a block that must go on when the file cannot be opened (a gate's
        decision, which then reads its last good copy) meets the fault where it handles
        storage faults, not on entering the block."""
        had = getattr(self._local, "db", None) is not None
        try:
            yield
        finally:
            if not had:
                self.close()

    @contextlib.contextmanager
    def scoped(self) -> Iterator[sqlite_utils.Database]:
        """The calling thread's connection for one block: opened when the thread has none,
        and then closed at the end of the block; a connection the thread already had stays."""
        had = getattr(self._local, "db", None) is not None
        try:
            yield self.get()
        finally:
            if not had:
                self.close()


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations, each atomically with its version bump; return the version.

    Processes that start together (web and gates at boot, after an upgrade) migrate one at a
    time under a lock file beside the database, each reading the version again once it holds
    the lock, so no migration is applied twice."""
    current = schema_version(db)
    if current > LATEST_VERSION:
        raise SchemaTooNewError(
            "database schema is version %(version)s, this Menwei knows up to %(latest)s",
            {"version": current, "latest": LATEST_VERSION},
        )
    if current == LATEST_VERSION:
        return current
    with _migration_lock(db.conn):
        current = schema_version(db)
        for version, _title, sql in MIGRATIONS:
            if version <= current:
                continue
            _apply(db.conn, version, sql)
            current = version
    return current


@contextlib.contextmanager
def _migration_lock(conn: sqlite3.Connection) -> Iterator[None]:
    """An exclusive lock on ``<database>.migrate-lock`` (none for an in-memory database)."""
    file = conn.execute("PRAGMA database_list").fetchone()[2]
    if not file:
        yield
        return
    with open(f"{file}.migrate-lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _apply(conn: sqlite3.Connection, version: int, sql: str) -> None:
    """One migration (its SQL, then its Python step if it has one) and its version bump in
    one transaction (a power cut leaves the old version). A table rebuild runs with foreign
    keys off — the pragma is a no-op inside a transaction, so it is switched before BEGIN —
    and is checked before it commits."""
    rebuild = version in TABLE_REBUILDS
    if rebuild:
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}")
        step = MIGRATION_STEPS.get(version)
        if step is not None:
            step(conn)
        conn.execute(f"PRAGMA user_version = {version}")
        if rebuild and conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise sqlite3.IntegrityError(f"migration {version} would break a foreign key")
        conn.execute("COMMIT")
    except Exception:  # SQL or the Python step: nothing of this migration may stay
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        if rebuild:
            conn.execute("PRAGMA foreign_keys = ON")


_SAVEPOINTS = itertools.count(1)
# id(connection) -> ident of the thread whose transaction() holds its open transaction.
# sqlite3.Connection takes no weak references; entries live exactly as long as the block.
_OWNERS: dict[int, int] = {}
_OWNERS_LOCK = threading.Lock()


class CrossThreadTransactionError(RuntimeError):
    """A thread tried to write inside another thread's transaction on a shared connection.

    Never caught: it is a bug (a connection shared between threads), not storage weather.
    """


def _claim(conn: sqlite3.Connection) -> bool:
    """Make the calling thread the owner of ``conn``'s next transaction; False when it
    already owns the open one (the caller nests a savepoint). Refuses another thread's."""
    me = threading.get_ident()
    with _OWNERS_LOCK:
        owner = _OWNERS.get(id(conn))
        if owner == me:
            return False
        if owner is not None:
            raise CrossThreadTransactionError(
                f"thread {threading.current_thread().name!r} tried to begin a transaction on a"
                f" connection whose open transaction belongs to thread {_thread_name(owner)!r};"
                " a connection belongs to one thread (open one per thread)"
            )
        if conn.in_transaction:  # begun outside transaction() (a raw BEGIN) by this thread
            return False
        _OWNERS[id(conn)] = me
        return True


def _release(conn: sqlite3.Connection) -> None:
    with _OWNERS_LOCK:
        _OWNERS.pop(id(conn), None)


def _thread_name(ident: int) -> str:
    for thread in threading.enumerate():
        if thread.ident == ident:
            return thread.name
    return f"#{ident} (ended)"


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside commits together or not at all.

    Called again by the thread whose transaction is open (a library function that is a whole
    unit of work for the CLI, used by the console inside its own transaction with an audit
    row), it becomes a SAVEPOINT of the outer one: its writes commit or roll back with the
    caller's, and an error inside rolls back only its own part. Called by any *other* thread
    while one is open, it raises CrossThreadTransactionError: that thread's writes would
    otherwise commit or roll back with a stranger's.
    """
    conn = db.conn
    if not _claim(conn):
        yield from _savepoint(conn)
        return
    try:
        yield from _outermost(conn)
    finally:
        _release(conn)


def _savepoint(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
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


def _outermost(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
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
