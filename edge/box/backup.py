"""``menwei backup``: a consistent copy of the live database while the gate keeps writing.

SQLite's online backup API copies pages under a read transaction, so the copy is one
consistent moment even while other processes commit (copying the file with cp is not:
the WAL and the main file would come from different moments). The copy is written to a
temporary name, checked with ``PRAGMA integrity_check``, fsynced and only then renamed,
so a backup that exists is a good one. The copy is readable by its owner only (0600,
whatever the caller's umask): it holds every account hash and the encrypted personal data.
The PII key is not in the database and must be backed up separately (without it, ID
numbers and face templates in the copy are unreadable).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from edge.db import open_for_reading
from edge.errors import UserError
from edge.files import fsync_dir


class BackupError(UserError):
    """The copy could not be made or checked (no database, destination not writable)."""

    code = "backup"


def backup_database(source: Path, destination: Path, pages_per_step: int = 1024) -> int:
    """Copy ``source`` to ``destination`` consistently; returns the copy's size in bytes."""
    if not source.is_file():
        raise BackupError("backup failed: no database at %(path)s", {"path": source})
    if destination.is_dir():
        destination = destination / source.name
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # SQLite keeps the mode
    try:  # a read-only or full disk is when a backup matters most
        src, immutable = open_for_reading(source)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(
            "backup failed: cannot open %(path)s: %(error)s", {"path": source, "error": exc}
        ) from None
    wal = Path(f"{source}-wal")
    if immutable and wal.exists() and wal.stat().st_size:
        src.close()
        partial.unlink(missing_ok=True)
        raise BackupError(
            "backup failed: the latest changes of %(path)s are in %(wal)s, which cannot be"
            " read on this disk: copy both files as they are",
            {"path": source, "wal": wal},
        )
    try:
        dst = sqlite3.connect(partial)
        try:
            # Small steps let writers in between, so the gate is never blocked for long.
            src.backup(dst, pages=pages_per_step, sleep=0.005)
            dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
            result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError("backup failed: %(error)s", {"error": exc}) from None
    finally:
        src.close()
    if result != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError("backup copy failed its integrity check: %(result)s", {"result": result})
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, destination)
    fsync_dir(destination.parent)
    return destination.stat().st_size
