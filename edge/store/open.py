"""Opening the appliance's store from config, without touching hardware or models: the
database (migrated, configured gates registered), the snapshot folder and the PII vault.

Separate from the gate assembly so that enrolment commands, the web and the sync process
open the same database the same way without importing camera or GPIO code.
"""

from __future__ import annotations

import sqlite_utils

from edge.config import MenweiConfig
from edge.db import connect, iso, transaction, utc_now
from edge.pii import PiiKeyError, PiiVault
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


def pii_vault(config: MenweiConfig) -> PiiVault:
    """The vault for names and face templates; never creates a key (that is `menwei install`).

    Creating a key here would silently make every template stored under the real key
    unreadable, so a missing key is an error that says what to do.
    """
    path = config.security.pii_key_file
    try:
        return PiiVault.from_key_file(path, create=False)
    except PiiKeyError as exc:
        raise PiiKeyError(
            f"{exc}. Pedestrian gates and residents need the PII key: `menwei install` creates "
            f"it, or restore it from its backup (security.pii_key_file = {path})"
        ) from None
