"""The vehicle gate loop: frame → plate reads → vote → policy → event → barrier.

One loop per gate process owns that gate's camera and barrier. It never lets an error in
recognition, storage or a bad frame escape (a dead loop locks residents out), and it
never opens the barrier on anything but a policy decision of "open" whose event has been
committed: the event is the proof the opening was decided, so it is written first.

A counted visitor pass (a plate pass with ``max_uses``) spends one use per passage, and only
when the policy opens: the use is taken with one guarded UPDATE just before the event is
written (edge.vehicles.consume_vehicle_use), so two gates cannot both spend the last one; if
none is left the passage is denied "visitor pass used up". The passage's event records
``vehicle_id`` and ``pass_use``: that is how the policy's same-visit rule finds the last use.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import sqlite_utils

from edge.db import ThreadConnections, utc_now
from edge.event_writer import UNCOUNTED_USE, EventWriter, spend_use
from edge.events import NewEvent, camera_change_event, manual_open_event
from edge.plates.reader import PlateInputError, PlateRead
from edge.plates.voting import Passage, PlateVoter
from edge.policy import GateFacts, PlateSighting, PolicySettings, decide_vehicle
from edge.snapshots import SnapshotStore
from edge.vehicles import consume_vehicle_use, facts_for_plate

log = logging.getLogger(__name__)


class FrameLike(Protocol):
    image: np.ndarray
    seq: int
    captured_at: datetime


class CameraLike(Protocol):
    def wait_for_frame(self, after_seq: int, timeout_s: float) -> FrameLike | None: ...
    def health(self) -> Any: ...


class BarrierLike(Protocol):
    def open(self) -> None: ...


class ReaderLike(Protocol):
    def read(self, frame_bgr: np.ndarray) -> list[PlateRead]: ...


class PresenceLike(Protocol):
    @property
    def is_occupied(self) -> bool: ...


@dataclass(frozen=True)
class GateOutcome:
    """What happened for one passage (or unread car), for printing and health."""

    event_id: str
    occurred_at: datetime
    kind: str
    plate: str | None
    decision: str
    reasons: tuple[dict[str, str], ...]
    alert_event_id: str | None = None
    decide_ms: float | None = None


@dataclass
class _UnreadTracker:
    """Detects a car whose plate is seen but never read well enough to decide."""

    since: datetime | None = None
    last_seen: datetime | None = None
    best_frame: np.ndarray | None = None
    best_confidence: float = -1.0
    suppressed_until: datetime | None = None


@dataclass
class GateStats:
    frames: int = 0
    frame_errors: int = 0
    recogniser_ms_last: float | None = None
    recogniser_ms_avg: float | None = None
    last_outcome: GateOutcome | None = None
    camera_state: str = "starting"


def plate_box(read: PlateRead) -> list[int] | None:
    """The read's plate quad as an upright box [x1, y1, x2, y2] in frame pixels."""
    if not read.quad:
        return None
    xs, ys = [p[0] for p in read.quad], [p[1] for p in read.quad]
    return [round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))]


class VehicleGateLoop:
    def __init__(
        self,
        gate: GateFacts,
        camera: CameraLike,
        barrier: BarrierLike,
        reader: ReaderLike,
        voter: PlateVoter,
        db: sqlite_utils.Database,
        snapshots: SnapshotStore,
        policy: PolicySettings = PolicySettings(),
        presence: PresenceLike | None = None,
        require_presence: bool = False,
        unread_after_s: float = 1.5,
        unread_dedupe_s: float = 30.0,
        on_outcome: Callable[[GateOutcome], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.gate = gate
        self.clock = clock  # decision time; injected by tests to cross validity windows
        self.camera = camera
        self.barrier = barrier
        self.reader = reader
        self.voter = voter
        self.connections = ThreadConnections(db)  # one connection per calling thread
        self.writer = EventWriter(self.connections.get, snapshots)
        self.policy = policy
        self.presence = presence
        self.require_presence = require_presence and presence is not None
        # A car whose plate is seen but never read: reported when it leaves (no plate in
        # view for unread_after) or when it has stood unread for unread_standing. Not after
        # a fixed short time, or every approaching car (unreadable while far away, read a
        # moment later) would leave a spurious "unread" event before its passage.
        self.unread_after = timedelta(seconds=unread_after_s)
        self.unread_standing = max(timedelta(seconds=3), 3 * self.unread_after)
        self.unread_dedupe = timedelta(seconds=unread_dedupe_s)
        self.on_outcome = on_outcome
        self.stats = GateStats()
        self._unread = _UnreadTracker()
        # plate -> (confidence, frame, when): the snapshot for its passage. Pruned in tick(),
        # since a plate suppressed as a duplicate never produces a passage to pop it.
        # plate -> (confidence, frame, time, plate box [x1, y1, x2, y2] in that frame)
        self._best_frames: dict[str, tuple[float, np.ndarray, datetime, list | None]] = {}
        self._keep_frames = voter.vote_window + timedelta(seconds=2)
        self._lock = threading.RLock()  # one decision or event at a time, on any thread

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection: a connection belongs to one thread."""
        return self.connections.get()

    # -- one frame ---------------------------------------------------------------------
    def process_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """Read plates in one frame and act on every passage that became decided."""
        self.stats.frames += 1
        if self.require_presence and not self.presence.is_occupied:  # type: ignore[union-attr]
            return self.tick(at)
        started = time.perf_counter()
        try:
            reads = self.reader.read(image)
        except PlateInputError as exc:
            self.stats.frame_errors += 1
            log.warning("gate %s: frame refused by the plate reader: %s", self.gate.id, exc)
            return self.tick(at)
        self._note_latency((time.perf_counter() - started) * 1000)
        for read in reads:
            if read.valid:
                best = self._best_frames.get(read.text)
                if best is None or read.confidence > best[0]:
                    self._best_frames[read.text] = (read.confidence, image, at, plate_box(read))
        outcomes = [self._act(p, started) for p in self.voter.add(reads, at)]
        outcomes += self._track_unread(reads, image, at, decided=bool(outcomes))
        return outcomes + self.tick(at)

    def tick(self, at: datetime) -> list[GateOutcome]:
        """Close vote windows that ended without a new frame (a car that stopped being seen)."""
        with self._lock:
            self.writer.retry()
        outcomes = [self._act(p, time.perf_counter()) for p in self.voter.flush(at)]
        for plate, (_, _, seen, _) in list(self._best_frames.items()):
            if at - seen > self._keep_frames:
                del self._best_frames[plate]
        if (
            self._unread.since
            and self._unread.last_seen
            and at - self._unread.last_seen > self.unread_after
        ):
            outcomes += self._emit_unread(at)
        return outcomes

    def _note_latency(self, ms: float) -> None:
        self.stats.recogniser_ms_last = ms
        avg = self.stats.recogniser_ms_avg
        self.stats.recogniser_ms_avg = ms if avg is None else 0.9 * avg + 0.1 * ms

    # -- decisions -----------------------------------------------------------------------
    def _act(self, passage: Passage, started: float) -> GateOutcome:
        with self._lock:
            now = self.clock()
            sighting = PlateSighting(passage.plate, passage.confidence, readable=True)
            since = now - timedelta(seconds=self.policy.same_visit_s)
            facts = facts_for_plate(self.db, passage.plate, self.gate.id, since)
            decision = decide_vehicle(sighting, self.gate, now, facts, self.policy)
            _, frame, _, box = self._best_frames.pop(passage.plate, (0.0, None, None, None))
            details: dict[str, Any] = {
                "plate_box": box,
                "colour": passage.colour,
                "votes": passage.votes,
                "frames": passage.frames,
                "first_seen": passage.first_seen.isoformat(),
            }
            if decision.vehicle is not None and decision.vehicle.max_uses is not None:
                details["vehicle_id"] = decision.vehicle.id
            uncounted = False
            if decision.action == "open" and decision.spend_use and decision.vehicle:
                vehicle_id = decision.vehicle.id
                use, uncounted = spend_use(lambda: consume_vehicle_use(self.db, vehicle_id, now))
                if use is not None:
                    details["pass_use"] = use
                elif not uncounted:
                    decision = decision.used_up()
            alerts = [
                NewEvent(
                    gate_id=self.gate.id,
                    kind="watchlist_alert",
                    occurred_at=now,
                    decision="none",
                    plate=passage.plate,
                    confidence=passage.confidence,
                    reasons=({"code": alert.code, "message": alert.message},),
                    details={"watch_ids": list(alert.watch_ids)},
                )
                for alert in decision.alerts
            ]
            reasons = tuple(r.as_dict() for r in decision.reasons)
            if uncounted:
                reasons += (UNCOUNTED_USE,)
            stored = self.writer.record(
                NewEvent(
                    gate_id=self.gate.id,
                    kind="vehicle_passage",
                    occurred_at=now,
                    decision=decision.action,
                    plate=passage.plate,
                    subject=decision.subject,
                    confidence=passage.confidence,
                    reasons=reasons,
                    details=details,
                ),
                frame,
                linked=alerts,
            )
            if decision.action == "open":
                self.barrier.open()
            alert_id = stored.linked_ids[-1] if stored.linked_ids else None
            self._unread = _UnreadTracker(suppressed_until=self._unread.suppressed_until)
            outcome = GateOutcome(
                stored.id or "",
                now,
                "vehicle_passage",
                passage.plate,
                decision.action,
                reasons,
                alert_id,
                (time.perf_counter() - started) * 1000,
            )
        self._publish(outcome)
        return outcome

    def _track_unread(
        self, reads: list[PlateRead], image: np.ndarray, at: datetime, decided: bool
    ) -> list[GateOutcome]:
        if decided or any(r.valid for r in reads):
            self._unread = _UnreadTracker(suppressed_until=self._unread.suppressed_until)
            return []
        seen = [r for r in reads if r.quad is not None]
        if not seen:
            return []
        tracker = self._unread
        tracker.since = tracker.since or at
        tracker.last_seen = at
        best = max(r.confidence for r in seen)
        if best > tracker.best_confidence:
            tracker.best_confidence, tracker.best_frame = best, image
        if at - tracker.since >= self.unread_standing:
            return self._emit_unread(at)
        return []

    def _emit_unread(self, at: datetime) -> list[GateOutcome]:
        with self._lock:
            outcome = self._record_unread(at)
        if outcome is None:
            return []
        self._publish(outcome)
        return [outcome]

    def _record_unread(self, at: datetime) -> GateOutcome | None:
        tracker = self._unread
        self._unread = _UnreadTracker(suppressed_until=tracker.suppressed_until)
        if tracker.suppressed_until and at < tracker.suppressed_until:
            return None
        self._unread.suppressed_until = at + self.unread_dedupe
        confidence = max(tracker.best_confidence, 0.0)
        decision = decide_vehicle(
            PlateSighting("", confidence, readable=False),
            self.gate,
            self.clock(),
            facts_for_plate(self.db, ""),
        )
        reasons = tuple(r.as_dict() for r in decision.reasons)
        now = self.clock()
        stored = self.writer.record(
            NewEvent(
                self.gate.id,
                "plate_unread",
                now,
                decision.action,
                None,
                None,
                confidence,
                reasons,
                {"seen_since": tracker.since.isoformat() if tracker.since else None},
            ),
            tracker.best_frame,
        )
        return GateOutcome(stored.id or "", now, "plate_unread", None, decision.action, reasons)

    def _publish(self, outcome: GateOutcome) -> None:
        self.stats.last_outcome = outcome
        if self.on_outcome:
            try:
                self.on_outcome(outcome)
            except Exception:  # a printing/notification bug must not stop the gate
                log.exception("gate %s: outcome callback failed", self.gate.id)

    # -- commands from the console ---------------------------------------------------------
    def manual_open(self, operator: str, reason: str) -> GateOutcome:
        """A guard opens the gate by hand: recorded with who and why, then the relay pulses."""
        started = time.perf_counter()
        with self._lock:
            now = self.clock()
            event = manual_open_event(self.gate.id, now, operator, reason)
            reasons = event.reasons
            stored = self.writer.record(event)
            self.barrier.open()
            outcome = GateOutcome(
                stored.id or "",
                now,
                "manual_open",
                None,
                "open",
                reasons,
                decide_ms=(time.perf_counter() - started) * 1000,
            )
        self._publish(outcome)
        return outcome

    def health(self) -> dict[str, Any]:
        """What the console's health page shows for this gate; no personal data."""
        camera = self.camera.health() if self.camera is not None else None
        last = self.stats.last_outcome
        return {
            "gate": self.gate.id,
            "camera": dataclasses.asdict(camera) if dataclasses.is_dataclass(camera) else None,
            "frames": self.stats.frames,
            "frame_errors": self.stats.frame_errors,
            "recogniser_ms_avg": self.stats.recogniser_ms_avg,
            "last_decision": None
            if last is None
            else {
                "kind": last.kind,
                "decision": last.decision,
                "at": last.occurred_at.isoformat(),
                "event_id": last.event_id,
            },
            "barrier": dataclasses.asdict(self.barrier.state())
            if hasattr(self.barrier, "state")
            else None,
            "storage_fault": self.writer.fault,
            "events_unsaved": self.writer.spooled,
        }

    # -- the loop ------------------------------------------------------------------------
    def _watch_camera(self) -> None:
        health = self.camera.health()
        state = getattr(health, "state", "unknown")
        previous, self.stats.camera_state = self.stats.camera_state, state
        event = camera_change_event(self.gate.id, previous, health, self.clock())
        if event is None:
            return
        with self._lock:
            self.writer.record(event)
        log.warning("gate %s: camera %s → %s", self.gate.id, previous, state)

    def run(self, stop: threading.Event, on_idle: Callable[[], None] | None = None) -> None:
        """Process frames until ``stop`` is set; survives every per-frame error."""
        last_seq = -1
        next_health = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_health:
                        self._watch_camera()
                        next_health = time.monotonic() + 1.0
                    frame = self.camera.wait_for_frame(last_seq, timeout_s=0.5)
                    if frame is None:
                        self.tick(self.clock())
                    else:
                        last_seq = frame.seq
                        self.process_frame(frame.image, frame.captured_at)
                    if on_idle:
                        on_idle()
                except Exception:
                    self.stats.frame_errors += 1
                    log.exception("gate %s: error in gate loop (continuing)", self.gate.id)
                    stop.wait(0.2)
        finally:
            self.connections.close()  # this thread's; its owner is ending
