"""Event writing that survives a full, read-only or damaged store without stopping the gate.

A gate must keep letting residents in when its SD card fills up, the kernel remounts it
read-only or a page of the database is damaged; refusing every car until someone notices
would lock a community out. So a write the store refuses keeps the event — in order, in
memory and in the durable spool file (edge.events.spool) — reports the fault, and is
retried until storage accepts it again. The spool is replayed when the gate starts, so a
stop or SIGKILL during the fault loses nothing it accepted, and each event carries the ids
made when the gate decided, so a replay writes it exactly once.

Every ``sqlite3.DatabaseError`` (full, read-only, I/O, busy, "database disk image is
malformed", a constraint a damaged index breaks) and every ``OSError`` is a storage fault:
whatever the store's trouble, the gate's decision must not depend on it. An event the store
refuses with an IntegrityError (its own fault, or a bug) stays in the spool and in health
without holding back the events after it. The fault is
counted, shown in health, and the thread's connection is reopened before the next try (a
connection opened on a read-only disk stays read-only after the disk is fixed).

Spooled events drop their snapshot frame (megabytes each; memory on a Pi is the next thing
to run out) and say so in their details.

One writer serves every thread of a gate (its loop, control requests, keypad, door inputs):
it writes through the calling thread's own connection and keeps its spool under its own
lock, so events are stored (or spooled) in the order they were recorded.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import sqlite_utils

from edge.db import utc_now
from edge.events.record import NewEvent, new_event_id, record_event, storage_event
from edge.events.spool import EventSpool, SpooledEvent
from edge.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)
T = TypeVar("T")
STORAGE_FAULTS = (sqlite3.DatabaseError, OSError)  # full, read-only, I/O, busy, damaged


UNCOUNTED_USE = {
    "code": "pass_use_not_counted",
    "message": "storage fault: this use of the pass could not be counted",
}


def spend_use(spend: Callable[[], T]) -> tuple[T | None, bool]:
    """Spend a pass use with ``spend`` (one guarded UPDATE); returns (its result, fault).

    On a storage fault (the same ones the writer spools) the use cannot be counted. The
    gate then lets the visitor in, as it keeps letting residents in during the fault, and
    says so in the event (``UNCOUNTED_USE``) instead of losing the passage to an error.
    """
    try:
        return spend(), False
    except STORAGE_FAULTS as exc:
        log.warning("pass use not counted (storage fault: %s)", exc)
        return None, True


@dataclass(frozen=True)
class Written:
    """Result of :meth:`EventWriter.record`: ids when stored now, None when spooled."""

    id: str | None
    linked_ids: tuple[str, ...] = ()


class EventWriter:
    def __init__(
        self,
        connection: Callable[[], sqlite_utils.Database],
        snapshots: SnapshotStore | None,
        max_spooled: int = 5000,
        retry_every_s: float = 5.0,
        reconnect: Callable[[], None] | None = None,
        gate_id: str | None = None,
    ) -> None:
        """``gate_id``: the gate whose ``storage_fault`` / ``storage_recovered`` events the
        writer records at the start and end of each fault (None: it records none)."""
        self.gate_id = gate_id
        self.connection = connection  # the calling thread's own (edge.db.ThreadConnections.get)
        self.reconnect = reconnect  # drops the calling thread's connection after a fault
        self.snapshots = snapshots
        self.retry_every_s = retry_every_s
        self.max_spooled = max_spooled
        self.file: EventSpool | None = None
        self._spool: deque[SpooledEvent] = deque()
        self._next_retry = 0.0
        self._lock = threading.RLock()
        self.fault: str | None = None
        self.faults = 0  # writes the store refused since start
        self.stored = 0  # events stored since start (spooled ones included, when written)
        self.dropped = 0  # beyond max_spooled with no spool file: lost, counted and logged
        self._file_only = False  # the file holds events memory had no room for

    @property
    def spooled(self) -> int:
        return len(self._spool)

    def use_spool(self, spool: EventSpool) -> int:
        """Keep unstored events in ``spool`` from now on and take in those it still holds
        (a stop during a fault); returns how many. They are written by the next retry."""
        with self._lock:
            self.file = spool
            items = spool.open()
            self._spool.extend(items[: self.max_spooled])
            self._file_only = len(items) > self.max_spooled
            self._next_retry = 0.0
            return len(items)

    def record(
        self,
        event: NewEvent,
        snapshot: np.ndarray | None = None,
        linked: Sequence[NewEvent] = (),
    ) -> Written:
        """Store now if storage works (older spooled events first); otherwise spool.

        Never raises a storage fault, and never waits for a retry that is not due: while
        the store is faulted a decision costs one append to the spool file."""
        item = SpooledEvent(
            event,
            tuple(linked),
            new_event_id(event.occurred_at),
            tuple(new_event_id(other.occurred_at) for other in linked),
        )
        with self._lock:
            if self._spool:
                self.retry()
            if not self._spool:
                try:
                    stored = record_event(
                        self.connection(), event, snapshot, self.snapshots, linked, item.ids
                    )
                except STORAGE_FAULTS as exc:
                    self._note_fault(exc)
                else:
                    if self.fault:
                        log.warning("storage recovered")
                    self.fault = None
                    self.stored += 1
                    return Written(stored.id, stored.linked_ids)
            self._add(item)
            return Written(None)

    def retry(self, force: bool = False) -> int:
        """Write spooled events in order until one fails; returns how many were written."""
        if not self._spool or (not force and time.monotonic() < self._next_retry):
            return 0  # the common case, without the lock: a stale look only delays a retry
        with self._lock:
            written = skipped = 0
            while len(self._spool) > skipped:
                item = self._spool[0]
                try:
                    record_event(self.connection(), item.event, linked=item.linked, ids=item.ids)
                except sqlite3.IntegrityError as exc:  # this event, not the store: the rest may go
                    self._note_fault(exc)
                    self._spool.rotate(-1)
                    skipped += 1
                    continue
                except STORAGE_FAULTS as exc:
                    self._note_fault(exc)
                    break
                self._spool.popleft()
                written += 1
                self.stored += 1
            if self._spool:
                self._next_retry = time.monotonic() + self.retry_every_s
            if not self._spool and self._file_only and self.file is not None:
                self._file_only = False  # what memory had no room for is in the file
                self._spool.extend(self.file.open()[: self.max_spooled])
                return written + self.retry(force=True)
            if written and not self._spool:
                if self.file is not None:
                    self.file.clear()
                log.warning("storage recovered: %d spooled event(s) written", written)
                self.fault = None
                self._recovered()
            return written

    def _recovered(self) -> None:
        """The ``storage_recovered`` event after a fault's spool was written (spooled in
        turn if the store refuses it: a replay writes it)."""
        if self.gate_id is None:
            return
        event = storage_event(self.gate_id, utc_now(), "write", recovered=True)
        ids = (new_event_id(event.occurred_at), ())
        try:
            record_event(self.connection(), event, ids=ids)
            self.stored += 1
        except STORAGE_FAULTS as exc:
            self._note_fault(exc)
            self._add(SpooledEvent(event, (), *ids))

    def health(self) -> dict[str, object]:
        """The writer's part of a gate's health report."""
        return {
            "storage_fault": self.fault,
            "storage_faults": self.faults,
            "events_unsaved": self.spooled,
            "events_lost": self.dropped,
            "spool_file": None if self.file is None else str(self.file.path),
            "spool_bytes": None if self.file is None else self.file.used_bytes,
            "spool_error": "no spool file" if self.file is None else self.file.error,
        }

    def _add(self, item: SpooledEvent) -> None:
        details = {**item.event.details, "snapshot_error": "not saved: storage fault at the time"}
        item = replace(item, event=replace(item.event, details=details))
        durable = self.file is not None and self.file.append(item)
        if len(self._spool) < self.max_spooled:
            self._spool.append(item)
        elif durable:
            self._file_only = True
        else:
            self.dropped += 1
            log.error("event spool full: unsaved event dropped (%d so far)", self.dropped)

    def _note_fault(self, exc: BaseException) -> None:
        """Count the fault, log a new one; at the start of a fault (none before) spool a
        ``storage_fault`` event: the guard's console and the district learn of it when
        the spool is written."""
        self.faults += 1
        message = f"{exc.__class__.__name__}: {exc}"
        if message != self.fault:
            log.error("storage fault, events kept in the spool until it recovers: %s", message)
        began = self.fault is None
        self.fault = message
        if began and self.gate_id is not None:
            event = storage_event(self.gate_id, utc_now(), "write", message)
            self._add(SpooledEvent(event, (), new_event_id(event.occurred_at), ()))
        if self.reconnect is not None:
            with contextlib.suppress(*STORAGE_FAULTS):  # closing on a failing disk may fail
                self.reconnect()
