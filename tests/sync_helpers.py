"""Shared pieces of the sync tests: a box database with events, a config, a secret file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlite_utils

from edge.config import MenweiConfig, parse_config
from edge.db import connect, iso
from edge.events import NewEvent, record_event
from edge.snapshots import SnapshotStore

SECRET = b"test-secret-0123456789"
GATE = "g1"


def write_secret(folder: Path, secret: bytes = SECRET) -> Path:
    path = folder / "sync.secret"
    path.write_bytes(secret + b"\n")
    os.chmod(path, 0o600)
    return path


def box_config(folder: Path, url: str, **sync: object) -> MenweiConfig:
    write_secret(folder)
    data = {
        "storage": {"data_dir": str(folder / "data")},
        "sync": {
            "platform_url": url,
            "device_id": "box-1",
            "secret_file": str(folder / "sync.secret"),
            "batch_size": 50,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            "idle_poll_s": 0.02,
            "read_timeout_s": 1.0,
            **sync,
        },
    }
    return parse_config(data, str(folder / "menwei.toml"))


def make_box(
    path: Path,
    events: int,
    start: datetime | None = None,
    snapshots: SnapshotStore | None = None,
    fast: bool = True,
) -> sqlite_utils.Database:
    """A box database with ``events`` recorded gate events (plates cycle through a few)."""
    db = connect(path)
    db.conn.execute(
        "INSERT OR IGNORE INTO gates (id, name, kind, updated_at) VALUES (?, 'Gate', 'vehicle', ?)",
        (GATE, iso(datetime.now(UTC))),
    )
    if fast:  # filling a fixture, not testing durability: skip the per-commit fsync
        db.conn.execute("PRAGMA synchronous = OFF")
    start = start or datetime(2026, 5, 1, 8, tzinfo=UTC)
    frame = np.full((48, 64, 3), 128, np.uint8) if snapshots else None
    for i in range(events):
        record_event(
            db,
            NewEvent(
                GATE,
                "vehicle_passage",
                start + timedelta(milliseconds=i),
                "open",
                plate=f"皖A{i % 100000:05d}",
                confidence=0.95,
                details={"colour": "blue"},
            ),
            snapshot=frame,
            snapshots=snapshots,
        )
    db.conn.execute("PRAGMA synchronous = FULL")
    return db


def pending(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def outbox_keys(db: sqlite_utils.Database) -> list[str]:
    return [k for (k,) in db.execute("SELECT key FROM outbox ORDER BY key")]
