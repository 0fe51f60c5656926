"""Backlog and lag, for `menwei sync status`, the status file and the console's health page.

Computed from the database, so it is true even when the sync process is down; the sync
process also writes it to a JSON file (atomically, every few seconds) with its own
heartbeat and last error, which is the health endpoint the console reads: a file needs no
port, no auth and works while the worker is busy.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.db import iso, parse_iso
from edge.store.outbox import counts, oldest_pending_at
from sync.state import all_state


def sync_status(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
    by_state = counts(db.conn)
    oldest = parse_iso(oldest_pending_at(db.conn))
    state = all_state(db.conn)
    return {
        "at": iso(now),
        "queued": by_state["pending"],
        "delivered": by_state["delivered"],
        "dead": by_state["dead"],
        "oldest_pending_at": iso(oldest) if oldest else None,
        "oldest_pending_age_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "alarm": "dead_letter" if by_state["dead"] else None,
        "downlink": {
            k.removeprefix("downlink."): v for k, v in state.items() if k.startswith("downlink.")
        },
    }


def write_status_file(path: Path, status: dict[str, Any]) -> None:
    """Write-then-rename so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_status_file(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
