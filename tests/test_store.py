"""SQLite store: pragmas, migrations, events with their outbox row, snapshots."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edge.db import SchemaTooNewError, connect, schema_version, transaction
from edge.events.record import NewEvent, recent_events, record_event
from edge.migrations import LATEST_VERSION
from edge.store.outbox import counts, enqueue
from edge.store.snapshots import SnapshotStore

AT = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai


@pytest.fixture
def db(tmp_path):
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates (id, name, kind, updated_at) VALUES ('g1', 'G1', 'vehicle', 'x')")
    return db


def test_pragmas_and_schema_version(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert schema_version(db) == LATEST_VERSION
    assert {"events", "outbox", "vehicles", "watchlist", "households", "residents", "gates"} <= set(
        db.table_names()
    )


def test_migrations_are_idempotent_and_newer_schema_refused(tmp_path):
    path = tmp_path / "m.db"
    connect(path).conn.close()
    assert schema_version(connect(path)) == LATEST_VERSION
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaTooNewError):
        connect(path)


def test_event_and_outbox_row_are_written_together(db, tmp_path):
    store = SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai"))
    image = np.full((720, 1280, 3), 120, np.uint8)
    event = NewEvent(
        "g1",
        "vehicle_passage",
        AT,
        "open",
        "皖A12345",
        "resident: household 1",
        0.97,
        ({"code": "resident_vehicle", "message": "ok"},),
        {"votes": 3},
    )
    stored = record_event(db, event, image, store)
    assert stored.snapshot_path == f"2026/11/23/{stored.id}.jpg"  # dated in the site's zone
    assert (tmp_path / "snaps" / stored.snapshot_path).stat().st_size > 1000
    row = db.execute("SELECT key, topic, state, payload FROM outbox").fetchone()
    assert row[:3] == (stored.id, "event", "pending")
    assert '"plate":"皖A12345"' in row[3]
    [listed] = recent_events(db)
    assert listed["reasons"][0]["code"] == "resident_vehicle" and listed["details"]["votes"] == 3
    assert counts(db.conn) == {"pending": 1, "delivered": 0, "dead": 0}


def test_failed_event_insert_leaves_no_outbox_row(db):
    bad = NewEvent("no-such-gate", "vehicle_passage", AT, "deny")  # foreign key violation
    with pytest.raises(sqlite3.IntegrityError):
        record_event(db, bad)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_outbox_refuses_writes_outside_a_transaction(db):
    with pytest.raises(RuntimeError):
        enqueue(db.conn, "k", "event", {}, AT)
    with transaction(db) as conn:
        enqueue(conn, "k", "event", {}, AT)
    assert counts(db.conn)["pending"] == 1


def test_event_ids_sort_by_time(db):
    ids = [
        record_event(db, NewEvent("g1", "plate_unread", AT.replace(second=s), "deny")).id
        for s in (5, 1, 9)
    ]
    assert sorted(ids) == [ids[1], ids[0], ids[2]]


def test_snapshot_failure_still_records_the_event(db, tmp_path):
    blocker = tmp_path / "snaps"
    blocker.write_text("a file where the folder should be")
    stored = record_event(
        db,
        NewEvent("g1", "plate_unread", AT, "deny"),
        np.zeros((10, 10, 3), np.uint8),
        SnapshotStore(blocker, ZoneInfo("UTC")),
    )
    assert stored.snapshot_path is None
    [row] = recent_events(db)
    assert "snapshot not saved" in row["details"]["snapshot_error"]


def test_large_snapshots_are_scaled_down(tmp_path):
    store = SnapshotStore(tmp_path, ZoneInfo("UTC"), max_width=640)
    result = store.save("E1", np.zeros((1080, 1920, 3), np.uint8), AT)
    import cv2

    assert cv2.imread(str(store.path_of(result.relative_path))).shape == (360, 640, 3)
    assert store.save("E2", np.zeros((0, 0, 3), np.uint8), AT).error == "no frame to save"


def test_linked_events_commit_with_their_parent_or_not_at_all(db):
    alert = NewEvent("g1", "watchlist_alert", AT, "none", "京A88888")
    stored = record_event(
        db, NewEvent("g1", "vehicle_passage", AT, "deny", "京A88888"), linked=[alert]
    )
    [alert_id] = stored.linked_ids
    row = db.execute("SELECT related_event_id FROM events WHERE id = ?", [alert_id]).fetchone()
    assert row[0] == stored.id
    assert [e["kind"] for e in recent_events(db)] == ["watchlist_alert", "vehicle_passage"]
    broken = NewEvent("no-such-gate", "watchlist_alert", AT, "none")
    with pytest.raises(sqlite3.IntegrityError):
        record_event(db, NewEvent("g1", "vehicle_passage", AT, "deny"), linked=[broken])
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2


def test_an_event_the_store_refuses_is_kept_and_reported_without_blocking_the_rest(db):
    """An IntegrityError is a storage fault for the gate (it never raises into the decision)
    but it belongs to one event: the events after it are still written."""
    from edge.events.writer import EventWriter

    writer = EventWriter(lambda: db, None, retry_every_s=0)
    assert writer.record(NewEvent("no-such-gate", "plate_unread", AT, "deny")).id is None
    assert writer.spooled == 1 and "FOREIGN KEY" in (writer.fault or "")
    assert writer.record(NewEvent("g1", "plate_unread", AT, "deny")).id is None  # in order
    assert writer.retry() == 1
    assert [e["gate_id"] for e in recent_events(db)] == ["g1"]
    assert writer.spooled == 1 and writer.fault and writer.faults >= 2


def test_migration_5_rebuilds_users_keeping_sessions_rooms_and_keys(tmp_path):
    """Upgrading a box at schema 4 keeps every account, session and room; 'guard' is new."""
    from edge.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA foreign_keys = ON")
    for version, _title, sql in MIGRATIONS[:4]:
        raw.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    raw.executescript(
        "INSERT INTO users VALUES (7, 'li', 'Li', 'landlord', 'h', 1, 'x');"
        "INSERT INTO web_sessions VALUES ('s', 7, 'c', 'x', 'x', 'x');"
        "INSERT INTO properties VALUES (1, 'P', '', 'x'); INSERT INTO buildings VALUES (1, 1, 'B');"
        "INSERT INTO units VALUES (1, 1, 'U'); INSERT INTO rooms VALUES (1, 1, '402', 7, 1, 'x');"
    )
    raw.close()
    db = connect(path)
    assert schema_version(db) == LATEST_VERSION
    assert db.execute("SELECT username, role FROM users").fetchall() == [("li", "landlord")]
    assert db.execute("SELECT user_id FROM web_sessions").fetchall() == [(7,)]
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO users "
            "(id, username, display_name, role, password_hash, active, created_at)"
            " VALUES (8, 'wang', '', 'guard', 'h', 1, 'x')"
        )
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as conn:
        conn.execute("INSERT INTO rooms VALUES (2, 1, '403', 99, 1, 'x')")  # FK enforced again
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as conn:
        conn.execute(
            "INSERT INTO users "
            "(id, username, display_name, role, password_hash, active, created_at)"
            " VALUES (9, 'x', '', 'janitor', 'h', 1, 'x')"
        )


def test_migration_6_adds_resident_accounts_keeping_users_and_their_references(tmp_path):
    """Upgrading a box at schema 5 keeps accounts, sessions and rooms; 'resident' is new,
    linked to exactly one resident, and the link goes with the resident."""
    from edge.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA foreign_keys = ON")
    for version, _title, sql in MIGRATIONS[:5]:
        raw.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    raw.executescript(
        "INSERT INTO users VALUES (7, 'li', 'Li', 'landlord', 'h', 1, 'x');"
        "INSERT INTO users VALUES (8, 'wang', '', 'guard', 'h', 0, 'x');"
        "INSERT INTO web_sessions VALUES ('s', 8, 'c', 'x', 'x', 'x');"
        "INSERT INTO properties VALUES (1, 'P', '', 'x'); INSERT INTO buildings VALUES (1, 1, 'B');"
        "INSERT INTO units VALUES (1, 1, 'U'); INSERT INTO rooms VALUES (1, 1, '402', 7, 1, 'x');"
        "INSERT INTO households (id, label, created_at) VALUES (1, '3-1-402', 'x');"
        "INSERT INTO residents (id, household_id, name, created_at) VALUES (5, 1, '', 'x');"
    )
    raw.close()
    db = connect(path)
    assert schema_version(db) == LATEST_VERSION
    assert db.execute("SELECT id, role, active FROM users ORDER BY id").fetchall() == [
        (7, "landlord", 1),
        (8, "guard", 0),
    ]
    assert db.execute("SELECT user_id FROM web_sessions").fetchall() == [(8,)]
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO users "
            "(id, username, display_name, role, password_hash, active, created_at)"
            " VALUES (9, 'zhou', '', 'resident', 'h', 1, 'x')"
        )
        conn.execute("INSERT INTO resident_accounts VALUES (9, 5, 'x')")
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as conn:
        conn.execute(
            "INSERT INTO users "
            "(id, username, display_name, role, password_hash, active, created_at)"
            " VALUES (10, 'zhou2', '', 'resident', 'h', 1, 'x')"
        )
        conn.execute("INSERT INTO resident_accounts VALUES (10, 5, 'x')")  # one per resident
    with pytest.raises(sqlite3.IntegrityError), transaction(db) as conn:
        conn.execute("INSERT INTO resident_accounts VALUES (7, 99, 'x')")  # FK enforced
    with transaction(db) as conn:
        conn.execute("DELETE FROM residents WHERE id = 5")
    assert db.execute("SELECT COUNT(*) FROM resident_accounts").fetchone()[0] == 0


def test_nested_transaction_is_a_savepoint_of_the_outer_one(db):
    """A library unit of work inside the console's transaction commits or rolls back with it."""
    insert = "INSERT INTO households (label, created_at) VALUES (?, 'x')"
    with pytest.raises(RuntimeError), transaction(db) as outer:
        with transaction(db) as inner:
            inner.execute(insert, ("1-1-101",))
        assert outer.in_transaction  # the inner block did not commit the outer one
        raise RuntimeError("the audit row failed")
    assert db.execute("SELECT COUNT(*) FROM households").fetchone()[0] == 0
    with transaction(db) as outer:
        outer.execute(insert, ("1-1-102",))
        with pytest.raises(sqlite3.IntegrityError), transaction(db) as inner:
            inner.execute(insert, ("1-1-103",))
            inner.execute(insert, ("1-1-103",))  # fails: only the inner part rolls back
    assert [r[0] for r in db.execute("SELECT label FROM households")] == ["1-1-102"]
    assert not db.conn.in_transaction


@pytest.mark.parametrize(
    ("previous", "state", "kind"),
    [
        ("ok", "stalled", "camera_fault"),
        ("starting", "failed", "camera_fault"),
        ("ok", "reconnecting", "camera_fault"),
        ("reconnecting", "ok", "camera_recovered"),
        ("failed", "ok", "camera_recovered"),
        ("starting", "ok", None),  # a camera coming up is not a recovery
        ("stalled", "reconnecting", None),  # still down: one fault event, not two
        ("ok", "ok", None),
    ],
)
def test_camera_change_event_is_one_event_per_going_down_or_coming_back(previous, state, kind):
    from types import SimpleNamespace

    from edge.events.record import camera_change_event

    health = SimpleNamespace(state=state, last_error="timeout")
    event = camera_change_event("g1", previous, health, AT)
    assert (event.kind if event else None) == kind
    if event:
        assert event.details == {"last_error": "timeout"} and event.decision == "none"
        assert f"camera {previous} → {state}" in event.reasons[0]["message"]
