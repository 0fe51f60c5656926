"""Is the file at the database path a database? Looked at before SQLite opens it.

SQLite opens almost anything: a zero-length file becomes a brand-new empty database on the
first write (a box once replaced 3,000 events, the outbox and every enrolment that way), a
directory or a garbled header fails with a bare "file is not a database". ``connect`` asks
``file_problem`` first (a stat and a 100-byte read) and refuses with the file's name and
the commands that help; nothing but ``menwei db recover`` makes a database over a path
that holds something.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from edge.errors import UserError

HEADER = b"SQLite format 3\x00"
REPAIR_HINT = "run `menwei db check`, then `menwei db recover` (docs/deploy.md, storage failures)"


# Files whose header this process has read. POSIX advisory locks belong to the process and
# are dropped when *any* descriptor of the file is closed, so reading the header again while
# one of our SQLite connections holds its locks would drop them: another process could then
# checkpoint and delete the WAL under that connection ("How To Corrupt An SQLite Database",
# 2.2). The header is therefore read once per process and file, before our first connection.
_READ: set[tuple[int, int]] = set()
_READ_LOCK = threading.Lock()


def forget_read_headers() -> None:
    """Read headers again from now on: only for a process that has closed every connection
    (a test that damages a file it opened before, as a restart would find it)."""
    with _READ_LOCK:
        _READ.clear()


class DamagedStoreError(UserError):
    """The database file is missing its contents or is not a database: refused, unchanged."""

    code = "store_damaged"


class Problem(str):
    """What is wrong with a file, in English (``str``: logs, health JSON), that also keeps
    its msgid and parameters so a refusal can be worded in the reader's language."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Problem:
        made = super().__new__(cls, msgid % params)
        made.msgid = msgid
        made.params = params
        return made


class StoreFaultError(UserError):
    """SQLite could not use the store (damaged page, full or read-only disk, I/O error)."""

    code = "store_fault"


def file_problem(path: Path, strict: bool = False) -> str | None:
    """What is wrong with the file at ``path`` before SQLite opens it, or None.

    A missing file is no problem (a new box); a directory, an unreadable file, a zero-length
    file or a header that is not SQLite's is. ``strict`` also compares the size with the
    header's page count: only for a file no process is writing (``menwei db check``), as a
    checkpoint in progress legitimately writes the header before the pages it counts."""
    if not path.exists():
        return None if not path.is_symlink() else Problem("%(path)s is a dangling link", path=path)
    if path.is_dir():
        return Problem("%(path)s is a directory, not a database file", path=path)
    try:
        stat = path.stat()
        size = stat.st_size
        if size == 0:
            return Problem(
                "%(path)s is empty (0 bytes): its data is gone, it is not a new database",
                path=path,
            )
        with _READ_LOCK:
            if not strict and (stat.st_dev, stat.st_ino) in _READ:
                return None  # read once already; never again while connections may be open
            with open(path, "rb") as handle:
                header = handle.read(100)
    except OSError as exc:
        return Problem("%(path)s cannot be read: %(error)s", path=path, error=exc.strerror or exc)
    if len(header) < 100 or not header.startswith(HEADER):
        return Problem("%(path)s is not an SQLite database (its header is damaged)", path=path)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return Problem(
            "%(path)s has a damaged header (page size %(size)s)", path=path, size=page_size
        )
    if not strict:
        with _READ_LOCK:
            _READ.add((stat.st_dev, stat.st_ino))  # a good header: not read again here
        return None
    if size % page_size:
        return Problem(
            "%(path)s is truncated (%(size)s bytes is not a whole number of %(page)s-byte pages)",
            path=path, size=size, page=page_size,
        )  # fmt: skip
    pages = int.from_bytes(header[28:32], "big")
    if pages and header[92:96] == header[24:28] and size < pages * page_size:
        return Problem(
            "%(path)s is truncated (%(size)s bytes, its header says %(expected)s)",
            path=path, size=size, expected=pages * page_size,
        )  # fmt: skip
    return None


WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


def wal_problem(path: Path) -> str | None:
    """What is wrong with the database's ``-wal`` file, or None. SQLite silently ignores a
    WAL whose header is garbage (and with it any commits it held), so it is looked at."""
    wal = Path(f"{path}-wal")
    try:
        with open(wal, "rb") as handle:
            head = handle.read(32)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Problem("%(path)s cannot be read: %(error)s", path=wal, error=exc.strerror or exc)
    if head and head[:4] not in WAL_MAGIC:
        return Problem("%(path)s is not a write-ahead log (its header is damaged)", path=wal)
    return None


def refuse_damaged(path: Path) -> None:
    """Raise DamagedStoreError naming the file and the commands when ``file_problem``."""
    problem = file_problem(path)
    if isinstance(problem, Problem):
        raise DamagedStoreError(
            problem.msgid + "; refusing to open or replace it: " + REPAIR_HINT, problem.params
        )
    if problem:
        raise DamagedStoreError(
            "%(problem)s; refusing to open or replace it: " + REPAIR_HINT, {"problem": problem}
        )


# SQLite's primary result codes for a store that cannot be used as it is (extended codes
# carry them in their low byte): what a process met, not a bug in it.
_STORAGE_CODES = {
    8: "The database %(path)s is read-only (a read-only disk or file): nothing can be saved."
    " Make the disk writable again, then restart the service",
    10: "The disk under the database %(path)s failed to read or write (%(error)s): check the"
    " disk, then " + REPAIR_HINT,
    11: "The database %(path)s is damaged (%(error)s): stop the services, then " + REPAIR_HINT,
    13: "The disk under the database %(path)s is full: nothing can be saved. Free space"
    " (menwei retention deletes old snapshots), then restart the service",
    14: "The database %(path)s cannot be opened (%(error)s): check that the disk is mounted"
    " and the file and its folder belong to the service's user",
    26: "%(path)s is not an SQLite database (%(error)s): " + REPAIR_HINT,
}


FULL_BELOW_BYTES = 1024 * 1024  # SQLite cannot even map its -shm file below this


def _disk_code(path: Path) -> int | None:
    """SQLITE_READONLY or SQLITE_FULL when the disk under ``path`` is so, else None: SQLite
    reports a full disk as "disk I/O error" when it cannot map its shared-memory file."""
    try:
        disk = os.statvfs(path.parent)
    except OSError:
        return None
    if disk.f_flag & os.ST_RDONLY:
        return 8
    if disk.f_bavail * disk.f_frsize < FULL_BELOW_BYTES:
        return 13
    return None


def storage_error(exc: sqlite3.Error, path: Path) -> UserError | None:
    """The error a person can act on for a storage fault SQLite raised at ``path`` (damaged,
    full, read-only, unreadable), or None when ``exc`` is not one (a bug: let it show)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary in (10, 14):  # an I/O error is often the disk itself: full or read-only
        primary = _disk_code(path) or primary
    msgid = _STORAGE_CODES.get(primary)
    if msgid is None:
        return None
    return StoreFaultError(msgid, {"path": path, "error": str(exc)})
