"""Helper process for test_storage_spool: a gate's event writer deciding forever on a store
that may be full or read-only, printing each decision once it was recorded or spooled.

Prints ``READY <events replayed>`` after its first retry (the spool left by the previous
run written, when the store takes it), then ``DECIDED <probe> <spool error or ok>`` after
each ``record`` returned — exactly when a gate opens its relay. The test SIGKILLs it at
random moments and checks that every printed probe ends up in ``events`` once, with one
outbox row.
"""

from __future__ import annotations

import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from edge.db import connect, connect_read_only
from edge.events.record import NewEvent
from edge.events.spool import EventSpool
from edge.events.writer import EventWriter


def main() -> None:
    db_path, spool_path = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        db = connect(db_path, apply_migrations=False)
    except sqlite3.OperationalError:  # a read-only disk
        db = connect_read_only(db_path)
    writer = EventWriter(lambda: db, None, retry_every_s=0.05)
    writer.use_spool(EventSpool(spool_path, reserve_bytes=256 * 1024))
    sys.stdout.write(f"READY {writer.retry(force=True)}\n")
    sys.stdout.flush()
    reasons = ({"code": "resident_vehicle", "message": "resident vehicle"},)
    while True:
        probe = uuid.uuid4().hex
        event = NewEvent(
            "g", "vehicle_passage", datetime.now(UTC), "open", "皖A12345", None, 0.97, reasons,
            {"probe": probe},
        )  # fmt: skip
        writer.record(event)
        sys.stdout.write(f"DECIDED {probe} {writer.health()['spool_error'] or 'ok'}\n")
        sys.stdout.flush()
        time.sleep(0.01)  # a busy gate decides a few times a second, not thousands


if __name__ == "__main__":
    main()
