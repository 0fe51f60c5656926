"""Event writing that survives a full or read-only disk without stopping the gate.

A gate must keep letting residents in when its SD card fills up or the kernel remounts it
read-only; refusing every car until someone notices would lock a community out. So a
failed write keeps the event in memory (in order, bounded), reports the fault, and is
retried until storage accepts it again. Such an event was never acknowledged as stored —
the rule "nothing acknowledged is lost" holds — and it is written as soon as it can be.

Only storage faults are spooled (sqlite3.OperationalError: full, read-only, I/O, busy; and
OSError). An integrity error is a bug, not weather: it raises, so it cannot silently
block every later event behind it.

Spooled events drop their snapshot frame (megabytes each; memory on a Pi is the next thing
to run out) and say so in their details.

One writer serves every thread of a gate (its loop, control requests, keypad, door inputs):
it writes through the calling thread's own connection and keeps its spool under its own
lock, so events are stored (or spooled) in the order they were recorded.
"""

from __future__ import annotations

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

from edge.events import NewEvent, record_event
from edge.snapshots import SnapshotStore

log = logging.getLogger(__name__)
T = TypeVar("T")
_STORAGE_FAULTS = (sqlite3.OperationalError, OSError)  # full, read-only, I/O, busy


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
    except _STORAGE_FAULTS as exc:
        log.warning("pass use not counted (storage fault: %s)", exc)
        return None, True


@dataclass(frozen=True)
class _Spooled:
    event: NewEvent
    linked: tuple[NewEvent, ...]


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
    ) -> None:
        self.connection = connection  # the calling thread's own (edge.db.ThreadConnections.get)
        self.snapshots = snapshots
        self.retry_every_s = retry_every_s
        self._spool: deque[_Spooled] = deque(maxlen=max_spooled)
        self._next_retry = 0.0
        self._lock = threading.RLock()
        self.fault: str | None = None
        self.dropped = 0  # spool overflow: the oldest unsaved events, counted and logged

    @property
    def spooled(self) -> int:
        return len(self._spool)

    def record(
        self,
        event: NewEvent,
        snapshot: np.ndarray | None = None,
        linked: Sequence[NewEvent] = (),
    ) -> Written:
        """Store now if storage works (older spooled events first); otherwise spool."""
        with self._lock:
            if self._spool:
                self.retry(force=True)
            if not self._spool:
                try:
                    stored = record_event(
                        self.connection(), event, snapshot, self.snapshots, linked
                    )
                except _STORAGE_FAULTS as exc:
                    self._note_fault(exc)
                else:
                    if self.fault:
                        log.warning("storage recovered")
                    self.fault = None
                    return Written(stored.id, stored.linked_ids)
            self._add(event, tuple(linked))
            return Written(None)

    def retry(self, force: bool = False) -> int:
        """Write spooled events in order until one fails; returns how many were written."""
        if not self._spool or (not force and time.monotonic() < self._next_retry):
            return 0  # the common case, without the lock: a stale look only delays a retry
        with self._lock:
            written = 0
            while self._spool:
                item = self._spool[0]
                try:
                    record_event(self.connection(), item.event, linked=item.linked)
                except _STORAGE_FAULTS as exc:
                    self._note_fault(exc)
                    self._next_retry = time.monotonic() + self.retry_every_s
                    break
                self._spool.popleft()
                written += 1
            if written and not self._spool:
                log.warning("storage recovered: %d spooled event(s) written", written)
                self.fault = None
            return written

    def _add(self, event: NewEvent, linked: tuple[NewEvent, ...]) -> None:
        if len(self._spool) == self._spool.maxlen:
            self.dropped += 1
            log.error("event spool full: oldest unsaved event dropped (%d so far)", self.dropped)
        details = {**event.details, "snapshot_error": "not saved: storage fault at the time"}
        self._spool.append(_Spooled(replace(event, details=details), linked))

    def _note_fault(self, exc: BaseException) -> None:
        message = f"{exc.__class__.__name__}: {exc}"
        if message != self.fault:
            log.error("storage fault, events kept in memory until it recovers: %s", message)
        self.fault = message
