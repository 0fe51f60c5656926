"""Every table a gate's last good copy reads (edge.people.memory_copy.COLUMNS) keeps its
``people_versions`` triggers after all migrations. A later migration that rebuilds one of
these tables (new table, copy, drop, rename: SQLite's way to change a column) drops its
triggers with it; the gates would then never reload that list, and decide from a stale
copy for ever. This test fails such a migration, whatever its number."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.db import connect
from edge.migrations import PEOPLE_LISTS
from edge.people.memory_copy import COLUMNS, PeopleCopy

ACTIONS = ("INSERT", "UPDATE", "DELETE")


def missing_version_triggers(conn: sqlite3.Connection) -> list[str]:
    """ "table ACTION" for each change of a copied table that bumps no people_versions row
    of its own list (read from the triggers SQLite holds on that table now)."""
    triggers = conn.execute(
        "SELECT tbl_name, upper(sql) FROM sqlite_master WHERE type = 'trigger'"
    ).fetchall()
    missing = []
    for table in COLUMNS:
        for action in ACTIONS:
            found = any(
                on == table
                and f"AFTER {action} ON {table.upper()}" in " ".join(sql.split())
                and "UPDATE PEOPLE_VERSIONS SET VERSION = VERSION + 1" in " ".join(sql.split())
                and f"WHERE LIST = '{table.upper()}'" in sql
                for on, sql in triggers
            )
            if not found:
                missing.append(f"{table} {action}")
    return missing


def test_after_all_migrations_every_copied_table_bumps_its_version(tmp_path: Path) -> None:
    db = connect(tmp_path / "menwei.db")
    assert set(COLUMNS) == set(PEOPLE_LISTS)
    assert missing_version_triggers(db.conn) == []
    lists = {row[0] for row in db.execute("SELECT list FROM people_versions")}
    assert lists == set(COLUMNS)  # one version row per list the copy reads
    db.conn.close()


def test_a_rebuild_that_forgets_the_triggers_is_caught_and_gates_would_miss_changes(
    tmp_path: Path,
) -> None:
    """The check above is not vacuous: rebuild ``watchlist`` the way a migration would,
    without re-creating its triggers, and it names the three, and a change no longer
    reaches a gate's copy."""
    db = connect(tmp_path / "menwei.db")
    conn = db.conn
    copy = PeopleCopy()
    copy.refresh(conn)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(watchlist)")]
    [schema] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'watchlist'").fetchone()
    conn.executescript(
        "BEGIN;"
        + schema.replace("CREATE TABLE watchlist", "CREATE TABLE watchlist_new", 1)
        + f"; INSERT INTO watchlist_new SELECT {', '.join(columns)} FROM watchlist;"
        " DROP TABLE watchlist; ALTER TABLE watchlist_new RENAME TO watchlist; COMMIT;"
    )
    assert missing_version_triggers(conn) == [f"watchlist {a}" for a in ACTIONS]
    conn.execute(
        "INSERT INTO watchlist (plate, reason, source, created_at) VALUES"
        " ('皖A99999', 'x', 'local', 'x')"
    )
    conn.commit()
    assert copy.refresh(conn) is False  # the change never reaches the gate
    db.conn.close()
