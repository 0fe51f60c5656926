"""Retention (snapshot budget, event purge) and the online backup."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edge.backup import BackupError, backup_database
from edge.db import connect
from edge.events import NewEvent, recent_events, record_event
from edge.retention import RetentionConfig, prune_snapshots, purge_events, run_retention
from edge.snapshots import SnapshotStore

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    return db, SnapshotStore(tmp_path / "snaps", ZoneInfo("UTC"), quality=95), tmp_path / "snaps"


def add(db, snaps, days_ago: float, delivered: bool = True, linked=()):
    noise = np.random.default_rng(int(days_ago * 10)).integers(0, 255, (200, 300, 3), np.uint8)
    at = NOW - timedelta(days=days_ago)
    stored = record_event(
        db, NewEvent("g", "vehicle_passage", at, "open", "皖A12345"), noise, snaps, linked=linked
    )
    if delivered:
        keys = [(k,) for k in (stored.id, *stored.linked_ids)]
        db.conn.executemany("UPDATE outbox SET state = 'delivered' WHERE key = ?", keys)
    return stored


def test_snapshots_pruned_oldest_first_to_budget(store):
    db, snaps, root = store
    events = [add(db, snaps, days) for days in (5, 4, 3, 2, 1)]
    sizes = [(root / e.snapshot_path).stat().st_size for e in events]
    budget = sum(sizes[-2:])  # room for the two newest
    deleted, freed, left = prune_snapshots(db, root, budget, 0)
    assert deleted == 3 and freed == sum(sizes[:3]) and left == budget
    assert [(root / e.snapshot_path).exists() for e in events] == [False] * 3 + [True] * 2
    paths = {e["id"]: e["snapshot_path"] for e in recent_events(db)}
    assert [paths[e.id] is None for e in events] == [True, True, True, False, False]


def test_purge_deletes_only_old_delivered_events(store):
    db, snaps, root = store
    old_delivered = add(db, snaps, 400)
    old_owed = add(db, snaps, 400, delivered=False)
    recent = add(db, snaps, 10)
    alert = NewEvent("g", "watchlist_alert", NOW - timedelta(days=400), "none", "京A88888")
    parent = add(db, snaps, 400, linked=[alert])
    assert purge_events(db, NOW, 365, root) == 3  # old_delivered, the alert, then its parent
    remaining = {e["id"] for e in recent_events(db, 100)}
    assert remaining == {old_owed.id, recent.id}
    assert not (root / old_delivered.snapshot_path).exists()
    assert not (root / parent.snapshot_path).exists()
    owed = db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    assert owed == 1


def test_run_retention_reports(store):
    db, snaps, root = store
    add(db, snaps, 400)
    add(db, snaps, 1)
    report = run_retention(
        db, root, RetentionConfig(snapshot_budget_mb=10, min_free_mb=0, event_days=365), NOW
    )
    assert report.events_deleted == 1 and report.snapshots_deleted == 0


def test_backup_is_consistent_while_events_are_written(store, tmp_path):
    db, snaps, _ = store
    for days in range(50):
        add(db, snaps, days)
    stop = threading.Event()

    def keep_writing() -> None:
        writer_db = connect(tmp_path / "menwei.db")  # its own: a connection has one thread
        while not stop.is_set():
            record_event(writer_db, NewEvent("g", "plate_unread", NOW, "deny"))
        writer_db.conn.close()

    (tmp_path / "backups").mkdir()
    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        size = backup_database(tmp_path / "menwei.db", tmp_path / "backups")
    finally:
        stop.set()
        thread.join()
    copy = connect(tmp_path / "backups" / "menwei.db")
    assert size > 0 and copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    events = copy.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    outbox = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert events >= 50 and events == outbox  # one consistent moment: no half-written event


def test_backup_of_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError, match="backup failed"):
        backup_database(tmp_path / "nope.db", tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()


def test_closed_registrations_are_purged_after_retention_once_delivered(tmp_path):
    """Personal data of tenants who left goes after registration_days, audited; owed rows stay."""
    from datetime import date

    from registry_support import make_config, seed, tenant_form

    from edge import audit
    from edge.pii import PiiVault
    from edge.retention import purge_registrations
    from qr_registry.form import parse_tenant_form
    from qr_registry.registrations import move_out, submit

    config = make_config(tmp_path)
    when = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    ids = seed(config, when)
    db = connect(config.storage.database_path)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    regs = []
    for seq in (101, 102, 103):
        form, errors = parse_tenant_form(
            tenant_form(seq, phone=f"1380013{seq:04d}"), date(2025, 6, 1), 3650
        )
        assert form is not None, errors
        regs.append(submit(db, vault, ids["room_a1"], form, when, 72, "v1"))
    for reg in regs[:2]:
        move_out(db, vault, reg, date(2025, 6, 10), "lease ended", "tenant", when)
    db.conn.execute("UPDATE outbox SET state = 'delivered' WHERE key LIKE ? || ':%'", (regs[0],))
    later = datetime(2026, 11, 1, tzinfo=UTC)
    assert purge_registrations(db, later, 365) == 1  # regs[1] still owes the district a change
    left = {row[0] for row in db.execute("SELECT id FROM registrations")}
    assert left == {regs[1], regs[2]}  # regs[2] is still living there
    assert (
        db.execute("SELECT COUNT(*) FROM outbox WHERE key LIKE ? || ':%'", (regs[0],)).fetchone()[0]
        == 0
    )
    assert audit.verify(db).ok
    last = db.execute("SELECT action, target FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert last == ("purge_registration", f"registration:{regs[0]}")
