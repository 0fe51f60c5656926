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
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from edge.db import open_for_reading
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


def check_file(path: Path, quick: bool = False, budget_s: float | None = None) -> CheckResult:
    """Check the database at ``path`` without writing to it (``menwei db check``, the
    hourly check of edge.box.store_check), within ``budget_s`` if given."""
    problem = file_problem(path, strict=True)
    if problem or not path.exists():
        return CheckResult(False, (problem or f"{path} does not exist",), 0.0)
    try:  # on a read-only or full disk without its -shm file: the main file as it is
        conn, _immutable = open_for_reading(path)
    except sqlite3.Error as exc:
        return CheckResult(False, (f"{path} cannot be opened: {exc}",), 0.0)
    try:
        return check(conn, quick=quick, budget_s=budget_s)
    finally:
        conn.close()


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Recovered:
    damaged_copy: Path  # the damaged file (with its WAL), copied aside untouched
    recovered: Path  # the salvaged database, beside it
    check: CheckResult
    counts: dict[str, int]  # rows salvaged per table
    lost: dict[str, str]  # per table, what could not be read
    gaps: dict[str, list[Gap]] = field(default_factory=dict)  # per table, rowids lost


#: rowids first..last lost from a table (last None: every rowid from first on)
Gap = tuple[int, int | None]
WHOLE_TABLE: Gap = (-(2**63), None)


SALVAGE_BATCH = 256


def recover(path: Path) -> Recovered:
    """Copy the damaged database aside and salvage every row SQLite can still reach into a
    new ``<name>.recovered-<time>`` beside it; the original is not touched.

    Why not the sqlite3 shell's ``.recover``: Debian's sqlite3 (3.40) is built without the
    ``sqlite_dbpage`` table it needs and fails with "SQL logic error", and Python's sqlite3
    has no recovery API. So the schema is copied, then each table is read in rowid order in
    small batches; a batch that hits a damaged page is retried row by row, and a rowid range
    that cannot be read is skipped (the first readable rowid after it found by doubling,
    then halving) and reported.
    Indexes are rebuilt from the salvaged rows. Raises DamagedStoreError when there is
    nothing to salvage from (missing, empty, or no readable schema)."""
    if not path.is_file() or path.stat().st_size == 0:
        raise DamagedStoreError(
            "%(path)s holds nothing to recover from (missing or empty)", {"path": path}
        )
    when = stamp()
    aside = path.with_name(f"{path.name}.damaged-{when}")
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copy2(source, Path(f"{aside}{suffix}"))
    fsync_dir(aside.parent)
    target = path.with_name(f"{path.name}.recovered-{when}")
    source_conn = sqlite3.connect(aside)  # the copy: the original stays as it is
    target_conn = sqlite3.connect(target, isolation_level=None)
    try:
        try:
            schema = source_conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                " AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            version = source_conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise DamagedStoreError(
                "%(path)s: its schema cannot be read (%(error)s)", {"path": path, "error": exc}
            ) from None
        counts, lost, gaps = {}, {}, {}
        target_conn.execute("BEGIN")
        for kind, _name, sql in schema:
            if kind == "table":
                target_conn.execute(sql)
        for kind, name, _sql in schema:
            if kind == "table":
                counts[name], problem, gaps[name] = _salvage_table(source_conn, target_conn, name)
                if problem:
                    lost[name] = problem
        for kind, name, sql in schema:
            if kind in ("index", "trigger", "view"):
                try:
                    target_conn.execute(sql)
                except sqlite3.DatabaseError as exc:  # e.g. a unique index over salvaged rows
                    lost[name] = f"{kind} not rebuilt: {exc}"
        target_conn.execute(f"PRAGMA user_version = {int(version)}")
        target_conn.execute("COMMIT")
        target_conn.execute("PRAGMA journal_mode = WAL")
        result = check(target_conn, quick=False)
    finally:
        source_conn.close()
        target_conn.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    fsync_dir(target.parent)
    return Recovered(aside, target, result, counts, lost, {k: v for k, v in gaps.items() if v})


def _salvage_table(
    source: sqlite3.Connection, target: sqlite3.Connection, table: str
) -> tuple[int, str | None, list[Gap]]:
    """Copy what can be read of ``table``; returns (rows copied, what was lost or None, the
    rowid ranges lost)."""
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        columns = [row[1] for row in source.execute(f"PRAGMA table_info({quoted})")]
        source.execute(f"SELECT rowid FROM {quoted} LIMIT 0")
    except sqlite3.DatabaseError as exc:
        return 0, f"not readable: {exc}", [WHOLE_TABLE]
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    insert = f"INSERT INTO {quoted} (rowid, {names}) VALUES ({', '.join('?' * (len(columns) + 1))})"
    select = f"SELECT rowid, {names} FROM {quoted} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    after, copied, skipped = -(2**63), 0, []
    gaps: list[Gap] = []
    try:
        highest = source.execute(f"SELECT MAX(rowid) FROM {quoted}").fetchone()[0]
    except sqlite3.DatabaseError:
        highest = None
    while True:
        try:
            rows = source.execute(select, (after, SALVAGE_BATCH)).fetchall()
        except sqlite3.DatabaseError:
            rows = _row_by_row(source, select, after)
            if not rows:
                jump = _skip_damage(source, select, after, highest)
                if jump is None:
                    skipped.append(f"rowids after {after}")
                    gaps.append((after + 1, None))
                    break
                skipped.append(f"rowids {after + 1}..{jump}")
                gaps.append((after + 1, jump))
                after = jump
                continue
        if not rows:
            break
        target.executemany(insert, rows)
        copied += len(rows)
        after = rows[-1][0]
    problem = ("unreadable pages skipped: " + ", ".join(skipped)) if skipped else None
    return copied, problem, gaps


def _row_by_row(source: sqlite3.Connection, select: str, after: int) -> list[tuple]:
    rows: list[tuple] = []
    while len(rows) < SALVAGE_BATCH:
        try:
            row = source.execute(select, (after, 1)).fetchone()
        except sqlite3.DatabaseError:
            break
        if row is None:
            break
        rows.append(row)
        after = row[0]
    return rows


def _skip_damage(
    source: sqlite3.Connection, select: str, after: int, highest: int | None
) -> int | None:
    """The smallest jump past ``after`` (doubling) from which rows read again, or None."""
    after = max(after, 0)  # SQLite's own rowids are positive
    step = 1
    limit = highest if highest is not None else after + 2**40

    def readable(rowid: int) -> bool:
        try:
            source.execute(select, (rowid, 1)).fetchall()
        except sqlite3.DatabaseError:
            return False
        return True

    while after + step <= limit and not readable(after + step):
        step *= 2
    if after + step > limit:
        return None
    bad, good = after + step // 2, after + step  # the first readable point lies between
    while good - bad > 1:
        middle = (bad + good) // 2
        bad, good = (bad, middle) if readable(middle) else (middle, good)
    return good
