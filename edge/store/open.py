"""Opening the appliance's store from config, without touching hardware or models: the
database (migrated, configured gates registered), the snapshot folder and the PII vault.

Separate from the gate assembly so that enrolment commands, the web and the sync process
open the same database the same way without importing camera or GPIO code.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path

import sqlite_utils

from edge.config import MenweiConfig
from edge.db import (
    connect,
    connect_read_only,
    iso,
    open_for_reading,
    schema_version,
    transaction,
    utc_now,
)
from edge.db_file import REPAIR_HINT, DamagedStoreError, file_problem, wal_problem
from edge.migrations import LATEST_VERSION
from edge.pii import PiiKeyError, PiiVault
from edge.store.integrity import check, stamp
from edge.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)


def open_store(config: MenweiConfig) -> sqlite_utils.Database:
    """Open the database, apply migrations and register the configured gates."""
    db = connect(config.storage.database_path)
    sync_gates(db, config)
    return db


def open_reader(config: MenweiConfig) -> sqlite_utils.Database:
    """The store for a command that only reads (events, the lists, sync status): as
    ``open_store``, or read as it is when its disk cannot be written (read-only or full), so
    an operator can still see what happened while the disk is faulted."""
    try:
        return open_store(config)
    except sqlite3.OperationalError as exc:
        log.warning(
            "%s cannot be written (%s): reading it as it is", config.storage.database_path, exc
        )
        return connect_read_only(config.storage.database_path)


def open_gate_store(config: MenweiConfig) -> tuple[sqlite_utils.Database, str | None]:
    """The store for a gate process, and what is wrong with it (None when nothing is).

    A gate must start on a full, read-only or damaged disk, or a restart during the fault
    locks everyone out: when the usual open (migrate, register gates) cannot write, the
    gate reads what it can — for writing where the disk still opens (full), read-only where
    it does not — and reports the fault; its events go to the spool. A file that is not a
    database at all (empty, truncated, garbled header, a directory) is still refused
    (DamagedStoreError), never replaced. Then ``PRAGMA quick_check`` within
    ``[storage] quick_check_s``: a damaged page is logged with the repair commands, and
    the gate runs on what is readable."""
    path = config.storage.database_path
    state = None
    wal = wal_problem(path)
    if wal:  # SQLite would drop it without a word: keep a copy for `menwei db recover`
        kept = Path(f"{path}-wal.damaged-{stamp()}")
        with contextlib.suppress(OSError):
            shutil.copy2(f"{path}-wal", kept)
        log.error("%s; kept as %s, commits it held are not seen: %s", wal, kept, REPAIR_HINT)
        state = f"damaged: {wal}"
    try:
        db = open_store(config)
    except DamagedStoreError as exc:  # not a database at all: refused, never replaced
        return _stand_in(path, f"damaged: {exc}" + (f"; {state}" if state else ""))
    except (sqlite3.DatabaseError, OSError) as exc:
        state = f"store not writable at start ({exc.__class__.__name__}: {exc})" + (
            f"; {state}" if state else ""
        )
        try:
            try:
                db = connect(path, apply_migrations=False)
            except sqlite3.OperationalError:
                db = connect_read_only(path)
                state = f"read-only: {state}"
        except (sqlite3.DatabaseError, DamagedStoreError) as again:  # SQLite cannot read it
            return _stand_in(path, f"damaged: {path} cannot be opened ({again}): {REPAIR_HINT}")
        log.error("%s; deciding from what it reads, events go to the spool", state)
        version = schema_version(db)
        if version != LATEST_VERSION:
            state += f"; schema version {version}, not {LATEST_VERSION}"
    budget = config.storage.quick_check_s
    if budget:
        result = check(db.conn, quick=True, budget_s=budget)
        if not result.complete:
            log.warning("quick_check stopped after %.1f s (budget): not checked", result.seconds)
        elif not result.ok:
            first = "; ".join(result.problems[:3])
            log.error("database %s is damaged (%s): %s", path, first, REPAIR_HINT)
            state = f"damaged: {first}" + (f"; {state}" if state else "")
        else:
            log.info("quick_check ok in %.2f s", result.seconds)
    return db, state


def _stand_in(damaged: Path, state: str) -> tuple[sqlite_utils.Database, str]:
    """An empty database, in this user's own temporary folder, for a gate whose store will
    not open.

    A gate that refused to start would lock every resident out, restart after restart.
    With this stand-in (no tables: every read and write fails like the damaged store's),
    the gate runs as on any unreadable store: it decides from its last good copy file
    (edge.people.memory_copy), its events go to the spool, the exit button, fire alarm
    and manual open work, and health names the damage. The damaged file is left as it is
    for ``menwei db recover``. One stand-in per database path, made whole and renamed into
    place, so the gates of a box share it and a killed gate leaves no more than that one
    small file behind."""
    digest = hashlib.sha256(str(damaged.resolve()).encode()).hexdigest()[:12]
    try:
        path = _private_temp_folder() / f"menwei-stand-in-{digest}.db"
        if not _empty_database(path):  # else the box's other gate's stand-in
            handle, name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".new", dir=path.parent)
            os.close(handle)
            with contextlib.closing(sqlite3.connect(name)) as conn:
                conn.execute("PRAGMA user_version = 0")
                conn.execute("VACUUM")  # writes the header: refuse_damaged takes it for one
            os.replace(name, path)
        db = connect(path, apply_migrations=False)
    except (OSError, sqlite3.Error) as exc:  # no writable temporary folder either
        raise DamagedStoreError(
            "%(state)s; no stand-in in %(folder)s: %(error)s",
            {"state": state, "folder": tempfile.gettempdir(), "error": exc},
        ) from None
    log.error("%s; deciding from the last good copy, events go to the spool", state)
    return db, state


def _private_temp_folder() -> Path:
    """This user's own folder in the temporary folder (mode 0700). The gate decides from
    what its stand-in holds, so nobody else on the box may put a database there: a shared
    /tmp would let any local user plant one with residents of their choosing."""
    folder = Path(tempfile.gettempdir()) / f"menwei-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(f"{folder} is not this user's private folder (owner, mode or a link)")
    return folder


def _empty_database(path: Path) -> bool:
    """Whether ``path`` is a whole database file with no tables: a stand-in to share."""
    if path.is_symlink() or not path.is_file() or file_problem(path) is not None:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return bool(conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0)
    except sqlite3.Error:
        return False


def sync_gates(db: sqlite_utils.Database, config: MenweiConfig) -> None:
    """Upsert configured gates so events can reference them; old gates stay for history."""
    now = iso(utc_now())
    with transaction(db) as conn:
        for gate in config.gates:
            conn.execute(
                "INSERT INTO gates (id, name, kind, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                " updated_at = excluded.updated_at",
                (gate.id, gate.name, gate.kind, now),
            )


def snapshot_store(config: MenweiConfig) -> SnapshotStore:
    storage = config.storage
    return SnapshotStore(
        storage.snapshot_dir,
        config.site.zone,
        storage.snapshot_jpeg_quality,
        storage.snapshot_max_width,
    )


SEALED_TABLES = ("face_templates", "watch_faces", "resident_face_photos")  # whole rows sealed


def holds_sealed_data(database: Path) -> bool:
    """Whether ``database`` holds anything sealed with the PII key (a ``*_enc`` or
    ``*_sealed`` column with a value in any table, face templates, watch faces, photos):
    then a new key must never be made, since what the lost one sealed would stay unreadable
    and a restored key could not read what the new one sealed. False when there is no
    database yet. A store that cannot be read counts as holding it (never raises)."""
    if not database.exists():
        return False
    try:
        conn, _immutable = open_for_reading(database)
    except sqlite3.Error:
        return True
    try:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
            sealed = [f'"{c}" IS NOT NULL' for c in columns if c.endswith(("_enc", "_sealed"))]
            if table in SEALED_TABLES or sealed:
                where = " OR ".join(sealed) if table not in SEALED_TABLES else "1"
                if conn.execute(f'SELECT 1 FROM "{table}" WHERE {where} LIMIT 1').fetchone():
                    return True
        return False
    except sqlite3.Error:
        return True
    finally:
        conn.close()


# A missing key on a box whose database holds data the key sealed: only the backup helps.
RESTORE_KEY = (
    "the PII key file %(path)s is missing, but the database %(database)s holds names, phones"
    " or face templates sealed with it: restore the key file from its backup (a new key"
    " could never read them)"
)


def pii_vault(config: MenweiConfig) -> PiiVault:
    """The vault for names and face templates; never creates a key (that is `menwei install`).

    Creating a key here would silently make every template stored under the real key
    unreadable, so a missing key is an error that says what to do.
    """
    path = config.security.pii_key_file
    try:
        return PiiVault.from_key_file(path, create=False)
    except PiiKeyError as exc:
        raise PiiKeyError(
            "PII key: %(problem)s. Pedestrian gates and residents need the PII key: `menwei"
            " install` creates it, or restore it from its backup (security.pii_key_file ="
            " %(path)s)",
            {"problem": exc, "path": path},
        ) from None
