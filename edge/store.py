"""Opening the appliance's store from config, without touching hardware or models.

Separate from the gate assembly so that enrolment commands and, later, the web and sync
processes open the same database the same way without importing camera or GPIO code.
"""

from __future__ import annotations

import sqlite_utils

from edge.config import MenweiConfig
from edge.db import connect, iso, transaction, utc_now
from edge.snapshots import SnapshotStore


def open_store(config: MenweiConfig) -> sqlite_utils.Database:
    """Open the database, apply migrations and register the configured gates."""
    db = connect(config.storage.database_path)
    sync_gates(db, config)
    return db


def sync_gates(db: sqlite_utils.Database, config: MenweiConfig) -> None:
    """Upsert configured gates so events can reference them; old gates stay for history."""
    now = iso(utc_now())
    with transaction(db) as conn:
        for gate in config.gates:
            conn.execute(
                "INSERT INTO gates (id, name, kind, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                " updated_at = excluded.updated_at",
                (gate.id, gate.name, gate.kind, now),
            )


def snapshot_store(config: MenweiConfig) -> SnapshotStore:
    storage = config.storage
    return SnapshotStore(
        storage.snapshot_dir,
        config.site.zone,
        storage.snapshot_jpeg_quality,
        storage.snapshot_max_width,
    )
