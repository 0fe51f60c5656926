"""After ``menwei db recover``: put back the people rows the damage took, from the gates'
sealed last good copies (edge.people.memory_copy), and say what could not be put back.

Why only rows inside the lost rowid ranges: a row the copy holds but the salvaged file lacks
is either lost to the damage or deleted since the copy was written (a resident moved out, a
car struck off); the salvage knows which rowids it could not read, so only those are
refilled and nobody deleted comes back. Why from the newest copy: every gate keeps every
list (edge.migrations.PEOPLE_LISTS), written within a minute of each change, so the newest
is the closest to what the store held.

The copy keeps only the columns a gate decides from, so a refilled row opens the gate as
before but lacks what the copy never held: a resident's name and phone, notes, who issued
a pass, a face's quality score. Those are named per table for the operator to re-enter;
``created_at`` becomes the time the copy was read from the store (the row existed then).
Rows of other tables (events, registrations, the audit log) have no copy: they stay lost,
and ``Recovered.lost`` names them.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from edge.db import iso
from edge.migrations import PEOPLE_LISTS
from edge.people.memory_copy import COLUMNS, PeopleCopy, PeopleCopyError
from edge.pii import PiiVault
from edge.store.integrity import CheckResult, Gap, check

COPY_SUFFIX = ".people"
#: a required column the copy does not hold, and what a refilled row gets instead
STAND_INS = {"name": "", "added_by": "menwei db recover"}  # created_at: the copy's time


@dataclass
class Refill:
    """What the refill did, for the operator (``menwei db recover`` prints it)."""

    copy: Path | None = None  # the copy refilled from (None: no usable copy)
    copy_at: datetime | None = None  # when that copy was read from the store
    refilled: dict[str, list[int]] = field(default_factory=dict)  # table: ids put back
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # what they lack
    refused: dict[str, dict[int, str]] = field(default_factory=dict)  # table: {id: why}
    damaged_lists: list[str] = field(default_factory=list)  # people lists with lost rows
    unusable: dict[Path, str] = field(default_factory=dict)  # copies that did not open
    check: CheckResult | None = None  # integrity_check of the file after a refill


def copy_files(spool_dir: Path) -> list[Path]:
    """The gates' copy files in the spool folder (``<gate>.people``)."""
    if not spool_dir.is_dir():
        return []
    return sorted(p for p in spool_dir.iterdir() if p.name.endswith(COPY_SUFFIX) and p.is_file())


def newest_copy(files: list[Path], vault: PiiVault | None, report: Refill) -> PeopleCopy | None:
    """The copy read from the store most recently; the others' problems go to ``report``."""
    best: PeopleCopy | None = None
    for path in files:
        if vault is None:
            report.unusable[path] = "no PII key to open it with"
            continue
        copy = PeopleCopy(path, vault)
        try:
            state = copy.load_file()
        except PeopleCopyError as exc:
            report.unusable[path] = str(exc)
            continue
        if best is None or (state.loaded_at and best.state.loaded_at
                            and state.loaded_at > best.state.loaded_at):  # fmt: skip
            best = copy
    return best


def _in_gaps(row_id: int, gaps: list[Gap]) -> bool:
    return any(first <= row_id and (last is None or row_id <= last) for first, last in gaps)


def refill_people(
    recovered: Path, gaps: dict[str, list[Gap]], files: list[Path], vault: PiiVault | None
) -> Refill:
    """Refill ``recovered`` (the salvaged file) from the newest readable copy among
    ``files``: each people row whose id lies in its table's lost ``gaps`` and is absent.
    One transaction; the people_versions triggers fire, so gates reload what came back."""
    report = Refill(damaged_lists=[t for t in PEOPLE_LISTS if gaps.get(t)])
    if not report.damaged_lists:
        return report
    copy = newest_copy(files, vault, report)
    if copy is None:
        return report
    report.copy, report.copy_at = copy.file, copy.state.loaded_at
    made = iso(copy.state.loaded_at) if copy.state.loaded_at else ""
    conn = sqlite3.connect(recovered, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for table in report.damaged_lists:  # PEOPLE_LISTS order: households first
            _refill_table(conn, copy, table, gaps[table], made, report)
        conn.execute("COMMIT")
        # into the file itself: the operator moves that file alone into place
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report.check = check(conn, quick=False)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    with open(recovered, "rb") as handle:
        os.fsync(handle.fileno())
    return report


def _refill_table(
    conn: sqlite3.Connection, copy: PeopleCopy, table: str, gaps: list[Gap], made: str,
    report: Refill,
) -> None:  # fmt: skip
    held = COLUMNS[table]
    names = ", ".join(held)
    rows = copy.read(lambda db: db.conn.execute(f"SELECT {names} FROM {table}").fetchall())
    present = {int(r[0]) for r in conn.execute(f"SELECT id FROM {table}")}
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    report.missing_columns[table] = [c[1] for c in info if c[1] not in held]
    fill: dict[str, object] = {}
    for _cid, column, _type, notnull, default, pk in info:
        if column in held or not notnull or default is not None or pk:
            continue
        fill[column] = made if column == "created_at" else STAND_INS.get(column)
    columns = [*held, *fill]
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for row in rows:
        row_id = int(row[0])
        if row_id in present or not _in_gaps(row_id, gaps):
            continue
        if None in fill.values():
            report.refused.setdefault(table, {})[row_id] = "required columns not in the copy"
            continue
        conn.execute("SAVEPOINT refill_row")
        try:
            conn.execute(insert, (*tuple(row), *fill.values()))
        except sqlite3.IntegrityError as exc:  # e.g. the plate re-entered since under a new id
            conn.execute("ROLLBACK TO refill_row")
            report.refused.setdefault(table, {})[row_id] = str(exc)
        else:
            report.refilled.setdefault(table, []).append(row_id)
        conn.execute("RELEASE refill_row")
