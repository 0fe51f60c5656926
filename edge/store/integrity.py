"""Is the database file sound, and how to save what a damaged one still holds.

SQLite opens almost anything: a zero-length file becomes a brand-new empty database on the
first write (the box once replaced 3,000 events, the outbox and every enrolment that way),
and a damaged page is only noticed when a query reaches it. So every process looks at the
file before it opens it (``file_problem``: cheap, reads the 100-byte header), a gate runs a
``PRAGMA quick_check`` at start with a time budget, and the operator has ``menwei db check``
(``integrity_check``) and ``menwei db recover`` (the sqlite3 shell's ``.recover`` into a new
file beside the damaged one, which is never deleted or changed).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.db_file import DamagedStoreError, file_problem
from edge.files import fsync_dir


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    problems: tuple[str, ...]
    seconds: float
    complete: bool = True  # False when the time budget ran out first


def check(
    conn: sqlite3.Connection, quick: bool = True, budget_s: float | None = None
) -> CheckResult:
    """``PRAGMA quick_check`` (or the full ``integrity_check``), at most ``budget_s`` seconds.

    Never raises a DatabaseError: a database too damaged to check is a problem reported."""
    started = time.monotonic()
    if budget_s:
        deadline = started + budget_s
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
    try:
        rows = conn.execute(f"PRAGMA {'quick_check' if quick else 'integrity_check'}(100)")
        problems = tuple(str(row[0]) for row in rows.fetchall())
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return CheckResult(True, (), time.monotonic() - started, complete=False)
        problems = (f"{exc.__class__.__name__}: {exc}",)
    except sqlite3.DatabaseError as exc:
        problems = (f"{exc.__class__.__name__}: {exc}",)
    finally:
        if budget_s:
            conn.set_progress_handler(None, 0)
    ok = problems == ("ok",)
    return CheckResult(ok, () if ok else problems, time.monotonic() - started)


def check_file(path: Path, quick: bool = False) -> CheckResult:
    """Check the database at ``path`` without writing to it (``menwei db check``)."""
    problem = file_problem(path, strict=True)
    if problem or not path.exists():
        return CheckResult(False, (problem or f"{path} does not exist",), 0.0)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return CheckResult(False, (f"{path} cannot be opened: {exc}",), 0.0)
    try:
        return check(conn, quick=quick)
    finally:
        conn.close()


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Recovered:
    damaged_copy: Path  # the damaged file (with its WAL), copied aside untouched
    recovered: Path  # the salvaged database, beside it
    check: CheckResult
    counts: dict[str, int]  # rows per table in the salvaged database


def recover(path: Path, sqlite3_shell: str = "sqlite3") -> Recovered:
    """Copy the damaged database aside and salvage it with the sqlite3 shell's ``.recover``
    into ``<name>.recovered-<time>``; the original is not touched. Raises DamagedStoreError
    when there is nothing to salvage from, or the shell is missing or fails."""
    if not path.is_file() or path.stat().st_size == 0:
        raise DamagedStoreError(f"{path} holds nothing to recover from (missing or empty)")
    shell = shutil.which(sqlite3_shell)
    if shell is None:
        raise DamagedStoreError(
            "the sqlite3 shell is not installed (Debian: `apt-get install sqlite3`)"
        )
    when = stamp()
    aside = path.with_name(f"{path.name}.damaged-{when}")
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copy2(source, Path(f"{aside}{suffix}"))
    target = path.with_name(f"{path.name}.recovered-{when}")
    dump = subprocess.run(
        [shell, "-readonly", str(aside), ".recover"], capture_output=True, timeout=3600
    )
    if dump.returncode != 0 or not dump.stdout:
        raise DamagedStoreError(
            f".recover failed on {aside}: {dump.stderr.decode(errors='replace').strip()}"
        )
    load = subprocess.run(
        [shell, str(target)], input=dump.stdout, capture_output=True, timeout=3600
    )
    if load.returncode != 0 and not target.exists():
        raise DamagedStoreError(
            f"loading the salvaged rows failed: {load.stderr.decode(errors='replace').strip()}"
        )
    conn = sqlite3.connect(target)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        result = check(conn, quick=False)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    fsync_dir(target.parent)
    return Recovered(aside, target, result, counts)
