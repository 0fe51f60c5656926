"""Helper process for test_crash_safety: writes gate events forever, acknowledging each.

Prints ``ACK <event id>`` only after ``record_event`` returned (committed), exactly as
the gate reports an event done; the test kills this process with SIGKILL at random
moments and then checks that every acknowledged event survived with its outbox row.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from edge.db import connect
from edge.events.record import NewEvent, record_event
from edge.store.snapshots import SnapshotStore


def main() -> None:
    db_path, snapshot_dir = Path(sys.argv[1]), Path(sys.argv[2])
    db = connect(db_path)
    db.execute("INSERT OR IGNORE INTO gates VALUES ('g', 'G', 'vehicle', 'x')")
    snapshots = SnapshotStore(snapshot_dir, ZoneInfo("Asia/Shanghai"))
    frame = np.random.default_rng().integers(0, 255, (120, 160, 3), np.uint8)
    reasons = ({"code": "resident_vehicle", "message": "resident vehicle"},)
    n = 0
    while True:
        n += 1
        event = NewEvent(
            "g",
            "vehicle_passage",
            datetime.now(UTC),
            "open",
            "皖A12345",
            "resident: household 1",
            0.97,
            reasons,
            {"n": n},
        )
        stored = record_event(db, event, frame, snapshots)
        sys.stdout.write(f"ACK {stored.id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
