"""Retention (snapshot budget, event purge) and the online backup."""

from __future__ import annotations

import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from edge.box.backup import BackupError, backup_database
from edge.box.retention import prune_snapshots, purge_events, run_retention
from edge.config.retention import RetentionConfig
from edge.db import connect
from edge.events.record import NewEvent, recent_events, record_event
from edge.store.snapshots import SnapshotStore

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


def test_closed_registrations_are_purged_after_retention_once_delivered(
    tmp_path, registry_config, seed_registry
):
    """Personal data of tenants who left goes after registration_days, audited; owed rows stay."""
    from datetime import date

    from helpers import tenant_form

    from edge import audit
    from edge.box.retention import purge_registrations
    from edge.pii import PiiVault
    from qr_registry.form import parse_tenant_form
    from qr_registry.registrations import decide, move_out, submit

    config = registry_config(tmp_path)
    when = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    ids = seed_registry(config, when)
    db = connect(config.storage.database_path)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    regs = []
    for seq in (101, 102, 103):
        form, errors = parse_tenant_form(
            tenant_form(seq, phone=f"1380013{seq:04d}"), date(2025, 6, 1), 3650
        )
        assert form is not None, errors
        regs.append(submit(db, vault, ids["room_a1"], form, when, 72, "v1").reg_id)
        decide(db, vault, regs[-1], ids["landlord_a"], True, "", when)
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


def test_unconfirmed_registrations_and_unconsented_co_residents_are_purged(
    tmp_path, registry_config, seed_registry
):
    """Finding 13.6: fake registrations from the public page stayed forever. Pending ones
    past their deadline (and rejected ones never sent) go after pending_registration_days;
    co-residents whose consent never came after co_resident_consent_days."""
    from datetime import date, timedelta

    from helpers import tenant_form

    from edge import audit
    from edge.box.retention import purge_stale_pending
    from edge.pii import PiiVault
    from qr_registry.form import parse_tenant_form
    from qr_registry.registrations import decide, submit

    config = registry_config(tmp_path)
    when = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    ids = seed_registry(config, when)
    db = connect(config.storage.database_path)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    regs = []
    for seq in (101, 102, 103):
        raw = tenant_form(seq, phone=f"1380013{seq:04d}")
        if seq == 103:  # an adult co-resident who never opens their link
            raw |= {"co1_name": "李四", "co1_doc_type": "passport", "co1_doc_number": "E12345678",
                    "co1_birth_date": "1991-02-03", "co1_relation": "roommate"}  # fmt: skip
        form, errors = parse_tenant_form(raw, date(2025, 6, 1), 3650)
        assert form is not None, errors
        regs.append(submit(db, vault, ids["room_a1"], form, when, 72, "v1").reg_id)
    decide(db, vault, regs[1], ids["landlord_a"], False, "不认识", when)
    decide(db, vault, regs[2], ids["landlord_a"], True, "", when)
    early = when + timedelta(days=5)
    assert purge_stale_pending(db, early, 7, 14) == (0, 0)
    later = when + timedelta(days=3 + 8)  # the 72 h deadline plus 8 days
    assert purge_stale_pending(db, later, 7, 14) == (2, 0)
    assert {row[0] for row in db.execute("SELECT id FROM registrations")} == {regs[2]}
    assert purge_stale_pending(db, when + timedelta(days=15), 7, 14) == (0, 1)
    assert db.execute("SELECT COUNT(*) FROM co_residents").fetchone()[0] == 0
    assert audit.verify(db).ok


def test_backup_is_readable_by_its_owner_only_whatever_the_umask(store, tmp_path):
    """A backup holds account hashes and sealed personal data: 0600 even under umask 022/000."""
    for umask, name in ((0o022, "a.db"), (0o000, "b.db")):
        old = os.umask(umask)
        try:
            backup_database(tmp_path / "menwei.db", tmp_path / "out" / name)
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o600
