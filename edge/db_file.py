"""Is the file at the database path a database? Looked at before SQLite opens it.

SQLite opens almost anything: a zero-length file becomes a brand-new empty database on the
first write (a box once replaced 3,000 events, the outbox and every enrolment that way), a
directory or a garbled header fails with a bare "file is not a database". ``connect`` asks
``file_problem`` first (a stat and a 100-byte read) and refuses with the file's name and
the commands that help; nothing but ``menwei db recover`` makes a database over a path
that holds something.
"""

from __future__ import annotations

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


def file_problem(path: Path, strict: bool = False) -> str | None:
    """What is wrong with the file at ``path`` before SQLite opens it, or None.

    A missing file is no problem (a new box); a directory, an unreadable file, a zero-length
    file or a header that is not SQLite's is. ``strict`` also compares the size with the
    header's page count: only for a file no process is writing (``menwei db check``), as a
    checkpoint in progress legitimately writes the header before the pages it counts."""
    if not path.exists():
        return None if not path.is_symlink() else f"{path} is a dangling link"
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    try:
        stat = path.stat()
        size = stat.st_size
        if size == 0:
            return f"{path} is empty (0 bytes): its data is gone, it is not a new database"
        with _READ_LOCK:
            if not strict and (stat.st_dev, stat.st_ino) in _READ:
                return None  # read once already; never again while connections may be open
            with open(path, "rb") as handle:
                header = handle.read(100)
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    if len(header) < 100 or not header.startswith(HEADER):
        return f"{path} is not an SQLite database (its header is damaged)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"{path} has a damaged header (page size {page_size})"
    if not strict:
        with _READ_LOCK:
            _READ.add((stat.st_dev, stat.st_ino))  # a good header: not read again here
        return None
    if size % page_size:
        return f"{path} is truncated ({size} bytes is not a whole number of {page_size}-byte pages)"
    pages = int.from_bytes(header[28:32], "big")
    if pages and header[92:96] == header[24:28] and size < pages * page_size:
        return f"{path} is truncated ({size} bytes, its header says {pages * page_size})"
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
        return f"{wal} cannot be read: {exc.strerror or exc}"
    if head and head[:4] not in WAL_MAGIC:
        return f"{wal} is not a write-ahead log (its header is damaged)"
    return None


def refuse_damaged(path: Path) -> None:
    """Raise DamagedStoreError naming the file and the commands when ``file_problem``."""
    problem = file_problem(path)
    if problem:
        raise DamagedStoreError(f"{problem}; refusing to open or replace it: {REPAIR_HINT}")
