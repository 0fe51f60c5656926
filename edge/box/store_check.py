"""The periodic integrity check: the whole database, hourly, off every gate's path.

A gate checks its database once at start (``PRAGMA quick_check`` within ``quick_check_s``,
edge.store.open); damage that appears later — a card wearing out under a running box — is
otherwise only noticed when a query happens to reach it. So ``menwei retention`` (hourly,
its own process) first runs the full ``PRAGMA integrity_check`` on a read-only connection of
its own, within ``[storage] integrity_check_s``: under WAL a reader blocks no gate's
writes, and no gate loop waits for it.

Its result is kept in ``<run_dir>/integrity.json`` (written atomically), which the health
page and ``/healthz`` read; when it changes from sound to damaged a ``storage_fault`` event
(operation ``check``) is recorded — the console's alert list shows it and the outbox takes
it to the district — and a ``storage_recovered`` when it is sound again. The event is
recorded under the box's first gate (a database is the whole box's; events belong to a
gate): a box without gates keeps only the file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from edge.config import MenweiConfig
from edge.db import iso
from edge.events.record import record_event, storage_event
from edge.events.writer import STORAGE_FAULTS
from edge.files import fsync_dir
from edge.store.integrity import check_file

log = logging.getLogger(__name__)
STATUS_FILE = "integrity.json"


@dataclass(frozen=True)
class IntegrityStatus:
    """The last periodic check: when, sound or not, finished within its budget or not."""

    at: str  # UTC ISO-8601
    ok: bool
    complete: bool
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def damaged(self) -> bool:
        return self.complete and not self.ok


def status_path(config: MenweiConfig) -> Path:
    return config.storage.run_dir / STATUS_FILE


def read_status(path: Path) -> IntegrityStatus | None:
    """The last check's status, or None (never run, or the file unreadable)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        return IntegrityStatus(
            str(data["at"]),
            bool(data["ok"]),
            bool(data["complete"]),
            float(data["seconds"]),
            tuple(str(p) for p in data.get("problems") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_status(path: Path, status: IntegrityStatus) -> None:
    """Atomically; an OSError (a full or read-only disk) is the caller's to log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(asdict(status), handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def periodic_check(
    config: MenweiConfig, db: sqlite_utils.Database | None, now: datetime
) -> IntegrityStatus | None:
    """Run the check within its budget, keep its status, record a change of state as an
    event through ``db`` (when given and it takes the write). None when switched off.
    Never raises a storage fault: what cannot be written is logged."""
    budget = config.storage.integrity_check_s
    if not budget:
        return None
    path = status_path(config)
    previous = read_status(path)
    result = check_file(config.storage.database_path, quick=False, budget_s=budget)
    status = IntegrityStatus(
        iso(now), result.ok, result.complete, round(result.seconds, 2), result.problems[:20]
    )
    if not result.complete:
        log.warning("integrity_check stopped after %.1f s (budget): not checked", result.seconds)
    elif not result.ok:
        log.error(
            "integrity_check: database %s is damaged (%s): stop the services, run"
            " `menwei db check`, then `menwei db recover`",
            config.storage.database_path,
            "; ".join(result.problems[:3]),
        )
    try:
        write_status(path, status)
    except OSError as exc:
        log.error("integrity_check result not kept in %s: %s", path, exc)
    _record_change(config, db, previous, status, now)
    return status


def _record_change(
    config: MenweiConfig,
    db: sqlite_utils.Database | None,
    previous: IntegrityStatus | None,
    status: IntegrityStatus,
    now: datetime,
) -> None:
    if db is None or not config.gates or not status.complete:
        return
    was_damaged = previous is not None and previous.damaged
    if status.damaged == was_damaged:
        return
    gate = config.gates[0].id
    if status.damaged:
        event = storage_event(gate, now, "check", "; ".join(status.problems[:5]))
    else:
        event = storage_event(gate, now, "check", recovered=True)
    try:
        record_event(db, event)
    except STORAGE_FAULTS as exc:  # the damage may be where the event would go
        log.error("integrity_check: %s event not recorded: %s", event.kind, exc)
