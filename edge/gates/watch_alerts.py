"""Watch-face matching for a pedestrian gate: which frames show a watchlisted face.

Kept out of edge.gates.pedestrian so the loop stays about the door: this holds the watch
index (reloaded when the table changes, like the residents' index), agreement over frames
and the per-person quiet time. The loop asks it, per frame, whether a watched face has just
been confirmed, and links the alert to the sighting event it records for that frame.

Why its own frame agreement: one frame can match by accident, so a hit needs the same
watch entry in ``frames_to_agree`` consecutive face frames, exactly as a resident does to
open the door; and one person standing at the door raises one alert per ``dedupe_s``
(default five minutes), not one per second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlite_utils

from edge.events.record import NewEvent
from edge.faces.matcher import FrameAgreement
from edge.people.watch_faces import WatchEntry, WatchIndex, load_watch_index, watch_signature
from edge.pii import PiiVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchHit:
    entry: WatchEntry
    score: float  # lowest best-score of the agreeing frames
    frames: int
    at: datetime  # frame time of the confirming frame
    image: np.ndarray | None  # that frame: the snapshot of an alert with no sighting event


class WatchMatcher:
    def __init__(
        self, threshold: float, frames_to_agree: int, agree_window_s: float, dedupe_s: float
    ) -> None:
        self.threshold = threshold
        self.agree_window = timedelta(seconds=agree_window_s)
        self.agreement = FrameAgreement(frames_to_agree, agree_window_s, dedupe_s)
        self.index = WatchIndex.empty()
        self._signature: tuple | None = None
        self.pending: WatchHit | None = None

    def refresh(
        self, db: sqlite_utils.Database, vault: PiiVault, model_sha256: str, now: datetime
    ) -> bool:
        """Reload when a watch face was added, removed or expired; True if reloaded."""
        signature = watch_signature(db, now)
        if signature == self._signature:
            return False
        index = load_watch_index(db, vault, model_sha256, now)
        self.index = index  # one reference swap, as for the residents' index
        self._signature = signature
        log.info("watch index has %d face(s)", len(index))
        return True

    def observe(self, vector: np.ndarray | None, image: np.ndarray, at: datetime) -> None:
        """Feed one frame's probe (None: no face). A confirmed hit becomes ``pending`` until
        the loop attaches it to a sighting (``take``) or gives up waiting (``overdue``)."""
        if vector is None or not len(self.index):
            self.agreement.add(None, at)
            return
        result = self.index.index.search(vector, self.threshold, 0.0)
        decided = self.agreement.add(result, at)
        if decided is None:
            return
        entry = self.index.entries.get(decided.identity)
        if entry is not None:
            self.pending = WatchHit(entry, decided.score, decided.frames, at, image)

    def take(self) -> WatchHit | None:
        hit, self.pending = self.pending, None
        return hit

    def overdue(self, at: datetime) -> WatchHit | None:
        """The pending hit if no sighting took it within the agreement window."""
        if self.pending is not None and at - self.pending.at > self.agree_window:
            return self.take()
        return None


def alert_event(
    hit: WatchHit, gate_id: str, now: datetime, related_event_id: str | None = None
) -> NewEvent:
    """The ``watchlist_alert`` event (decision 'none': the door decision is not its business)."""
    entry = hit.entry
    note = f"{entry.source}: {entry.label}" + (f"; {entry.reason}" if entry.reason else "")
    return NewEvent(
        gate_id=gate_id,
        kind="watchlist_alert",
        occurred_at=now,
        decision="none",
        subject=f"watch face {entry.id}",
        confidence=hit.score,
        reasons=(
            {
                "code": "watchlisted_face",
                "message": f"face matches watchlist entry ({note})",
                "params": {
                    "notes": [
                        {"source": entry.source, "label": entry.label, "reason": entry.reason}
                    ]
                },
            },
        ),
        details={
            "watch_face_ids": list(entry.ids or (entry.id,)),
            "frames": hit.frames,
            "score": round(hit.score, 4),
        },
        related_event_id=related_event_id,
    )
