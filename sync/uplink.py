"""The uplink worker: pending outbox rows → platform, oldest first, acknowledged or kept.

The rules, each for a reason:

- A row is marked delivered only after the platform acknowledged its key. A crash (power,
  SIGKILL) between sending and marking means the row is sent again; the platform dedupes
  by key, so the result is exactly once after dedupe — never zero times.
- Transport trouble (down, 5xx, timeout, dropped connection, garbage reply) keeps every row
  pending and backs off exponentially with jitter, up to a cap, for as long as it takes:
  no TTL, no retry limit, no dropping when the backlog is large (the store-and-forward
  products we studied all drop on one of those; a missed watchlist passage is not ok).
- A batch the platform refuses as invalid is split in halves until the bad row stands
  alone; that row becomes ``dead`` with the platform's reason and an alarm, and the rows
  behind it go on. A per-row refusal dead-letters just that row.
- A batch too large to send (snapshots inline over the request budget, or the platform's
  HTTP 413) is split in halves the same way; a single row still too large is dead-lettered,
  because it would otherwise block every row behind it for ever.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlite_utils

from edge.db import utc_now
from edge.store.outbox import OutboxRow, mark_dead, mark_delivered, next_batch, note_failure
from sync.protocol import BatchRejectedError, BatchTooLargeError, Uplink
from sync.transport import TransportError

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random.

    Jitter spreads the retries of many boxes after a district outage; the fixed half keeps
    one box from hammering a platform that just came back.
    """

    initial_s: float = 1.0
    max_s: float = 300.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.initial_s * (2 ** min(self.failures, 30)))
        self.failures += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class StepResult:
    delivered: int = 0
    dead: int = 0
    error: str | None = None  # set when the platform could not be reached

    @property
    def idle(self) -> bool:
        return self.delivered == 0 and self.dead == 0 and self.error is None


class UplinkWorker:
    """One step = one batch; the caller decides how long to wait between steps."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        protocol: Uplink,
        batch_size: int = 200,
        on_dead: Callable[[OutboxRow, str], None] | None = None,
    ) -> None:
        self.db = db
        self.protocol = protocol
        self.batch_size = batch_size
        self.on_dead = on_dead

    def step(self) -> StepResult:
        rows = next_batch(self.db.conn, self.batch_size)
        result = StepResult()
        if not rows:
            return result
        try:
            self._deliver(rows, result)
        except TransportError as exc:
            result.error = str(exc)[:300]
            note_failure(self.db, [row.seq for row in rows], result.error)
            log.warning("uplink: %d rows kept pending: %s", len(rows), result.error)
        return result

    def _deliver(self, rows: list[OutboxRow], result: StepResult) -> None:
        try:
            outcome = self.protocol.send(rows)
        except (BatchRejectedError, BatchTooLargeError) as exc:
            if len(rows) == 1:
                self._dead(rows[0], exc.reason, result)
                return
            middle = len(rows) // 2
            why = "too large" if isinstance(exc, BatchTooLargeError) else "refused as invalid"
            log.info("uplink: batch of %d %s; splitting", len(rows), why)
            self._deliver(rows[:middle], result)
            self._deliver(rows[middle:], result)
            return
        acked = [row.seq for row in rows if outcome[row.key] is None]
        mark_delivered(self.db, acked, utc_now())
        result.delivered += len(acked)
        for row in rows:
            reason = outcome[row.key]
            if reason is not None:
                self._dead(row, reason, result)

    def _dead(self, row: OutboxRow, reason: str, result: StepResult) -> None:
        mark_dead(self.db, row.seq, reason)
        result.dead += 1
        # The alarm: an ERROR line with the key (never payload contents), and the health
        # status (`menwei sync status`, the status file) shows dead > 0 until requeued.
        log.error("uplink: row %s (%s) dead-lettered: %s", row.key, row.topic, reason[:200])
        if self.on_dead is not None:
            self.on_dead(row, reason)
