"""The vehicle gate: frame → plate reads → vote → policy → event → barrier.

What it shares with the pedestrian gate (camera watch, event writer, lock, manual open,
health, the run loop) is edge.gates.runner; this module keeps the vehicle's own
read → decide → act:

- read: the plate reader on the frame (only while a car is on the loop detector, when the
  gate requires one);
- decide: the voter groups a car's reads into one ``Passage`` carrying its evidence (the
  frame where the plate read best, and the plate's box in it, ``details.plate_box``); the
  policy decides it from the facts about that plate; a car whose plate is seen but never
  read is reported once as ``plate_unread`` (the policy's "deny", with no database look-up:
  an unread plate has no facts);
- act: the event (and any watchlist alert) is recorded first, then the barrier opens.

A counted visitor pass (a plate pass with ``max_uses``) spends one use per passage, and only
when the policy opens: the use is taken with one guarded UPDATE just before the event is
written (edge.vehicles.consume_vehicle_use), so two gates cannot both spend the last one; if
none is left the passage is denied "visitor pass used up". The passage's event records
``vehicle_id`` and ``pass_use``: that is how the policy's same-visit rule finds the last use.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import sqlite_utils

from edge.db import utc_now
from edge.event_writer import UNCOUNTED_USE, spend_use
from edge.events import NewEvent
from edge.gates.runner import CameraLike, GateOutcome, GateRunner
from edge.plates.reader import PlateInputError, PlateRead
from edge.plates.voting import Passage, PlateVoter
from edge.policy import (
    Alert,
    Decision,
    Facts,
    GateFacts,
    PlateSighting,
    PolicySettings,
    decide_vehicle,
)
from edge.snapshots import SnapshotStore
from edge.vehicles import consume_vehicle_use, facts_for_plate


class BarrierLike(Protocol):
    """gate_drivers.barrier.Barrier."""

    def open(self) -> None: ...
    def state(self) -> Any: ...  # a dataclass for the health page


class ReaderLike(Protocol):
    def read(self, frame_bgr: np.ndarray) -> list[PlateRead]: ...


class PresenceLike(Protocol):
    @property
    def is_occupied(self) -> bool: ...


@dataclass
class UnreadCar:
    """A car whose plate is seen but not read: since when, and its best frame so far."""

    since: datetime
    last_seen: datetime
    frame: np.ndarray
    confidence: float


class UnreadWatch:
    """Detects a car whose plate is seen but never read well enough to decide.

    Reported when it leaves (no plate in view for ``after``) or when it has stood unread for
    ``standing``; not after a fixed short time, or every approaching car (unreadable while
    far away, read a moment later) would leave a spurious "unread" event before its passage.
    At most one report per ``dedupe``.
    """

    def __init__(self, after: timedelta, dedupe: timedelta) -> None:
        self.after = after
        self.standing = max(timedelta(seconds=3), 3 * after)
        self.dedupe = dedupe
        self.car: UnreadCar | None = None
        self._quiet_until: datetime | None = None

    def forget(self) -> None:
        """A plate was read (or a passage decided): whatever was unread was that car."""
        self.car = None

    def observe(self, reads: list[PlateRead], image: np.ndarray, at: datetime) -> bool:
        """One frame with no valid read; True when the car has stood unread long enough."""
        seen = [r for r in reads if r.quad is not None]
        if not seen:
            return False
        best = max(r.confidence for r in seen)
        car = self.car
        if car is None:
            self.car = car = UnreadCar(at, at, image, best)
        car.last_seen = at
        if best > car.confidence:
            car.confidence, car.frame = best, image
        return at - car.since >= self.standing

    def left(self, at: datetime) -> bool:
        """True when the unread car has not been seen for ``after``."""
        return self.car is not None and at - self.car.last_seen > self.after

    def take(self, at: datetime) -> UnreadCar | None:
        """The car to report now, or None within the quiet time after the last report."""
        car, self.car = self.car, None
        if car is None or (self._quiet_until and at < self._quiet_until):
            return None
        self._quiet_until = at + self.dedupe
        return car


class VehicleGateLoop(GateRunner):
    def __init__(
        self,
        gate: GateFacts,
        camera: CameraLike | None,
        barrier: BarrierLike,
        reader: ReaderLike,
        voter: PlateVoter,
        db: sqlite_utils.Database,
        snapshots: SnapshotStore | None,
        policy: PolicySettings = PolicySettings(),
        presence: PresenceLike | None = None,
        require_presence: bool = False,
        unread_after_s: float = 1.5,
        unread_dedupe_s: float = 30.0,
        on_outcome: Callable[[GateOutcome], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(gate.id, camera, db, snapshots, on_outcome, clock)
        self.gate = gate
        self.barrier = barrier
        self.reader = reader
        self.voter = voter
        self.policy = policy
        self.presence = presence if require_presence else None
        self.unread = UnreadWatch(
            timedelta(seconds=unread_after_s), timedelta(seconds=unread_dedupe_s)
        )

    # -- read -------------------------------------------------------------------------------
    def on_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """Read plates in one frame and act on every passage that became decided."""
        if self.presence is not None and not self.presence.is_occupied:
            return []  # frames are read only while a car is on the loop detector
        started = time.perf_counter()
        try:
            reads = self.timed(self.reader.read, image)
        except PlateInputError as exc:
            return self.refused(exc)
        outcomes = [self.passage(p, started) for p in self.voter.add(reads, at, image)]
        if outcomes or any(r.valid for r in reads):
            self.unread.forget()
        elif self.unread.observe(reads, image, at):
            outcomes += self.unread_car(at)
        return outcomes

    def tick(self, at: datetime) -> list[GateOutcome]:
        """Close vote windows that ended without a new frame, and report an unread car
        that left."""
        outcomes = super().tick(at)
        outcomes += [self.passage(p, time.perf_counter()) for p in self.voter.flush(at)]
        if self.unread.left(at):
            outcomes += self.unread_car(at)
        return outcomes

    # -- decide and act ---------------------------------------------------------------------
    def passage(self, passage: Passage, started: float) -> GateOutcome:
        """One decided car: policy on the plate's facts, event first, then the barrier."""
        with self.lock:
            now = self.clock()
            decision, details, uncounted = self.decide(passage, now)
            alerts = [self.alert_event(passage, alert, now) for alert in decision.alerts]
            reasons = tuple(r.as_dict() for r in decision.reasons)
            event = NewEvent(
                gate_id=self.gate.id,
                kind="vehicle_passage",
                occurred_at=now,
                decision=decision.action,
                plate=passage.plate,
                subject=decision.subject,
                confidence=passage.confidence,
                reasons=(*reasons, UNCOUNTED_USE) if uncounted else reasons,
                details=details,
            )
            frame = passage.evidence.frame if passage.evidence else None
            written = self.record(event, frame, linked=alerts)
            if decision.action == "open":
                self.barrier.open()
            self.unread.forget()
            outcome = GateOutcome.of(event, written, started)
        self.publish(outcome)
        return outcome

    def decide(self, passage: Passage, now: datetime) -> tuple[Decision, dict[str, Any], bool]:
        """The policy's decision on the plate's facts, with a counted pass's use spent when
        it opens; the passage's details; and whether a use could not be counted (storage
        fault: the visitor is let in and the event says so)."""
        sighting = PlateSighting(passage.plate, passage.confidence, readable=True)
        since = now - timedelta(seconds=self.policy.same_visit_s)
        facts = facts_for_plate(self.db, passage.plate, self.gate.id, since)
        decision = decide_vehicle(sighting, self.gate, now, facts, self.policy)
        details: dict[str, Any] = {
            "plate_box": passage.evidence.box() if passage.evidence else None,
            "frame_w": int(passage.evidence.frame.shape[1]) if passage.evidence else None,
            "colour": passage.colour,
            "votes": passage.votes,
            "frames": passage.frames,
            "first_seen": passage.first_seen.isoformat(),
        }
        uncounted = False
        vehicle = decision.vehicle
        if vehicle is not None and vehicle.max_uses is not None:
            details["vehicle_id"] = vehicle.id
        if decision.action == "open" and decision.spend_use and vehicle is not None:
            use, uncounted = spend_use(lambda: consume_vehicle_use(self.db, vehicle.id, now))
            if use is not None:
                details["pass_use"] = use
            elif not uncounted:
                decision = decision.used_up()
        return decision, details, uncounted

    def alert_event(self, passage: Passage, alert: Alert, now: datetime) -> NewEvent:
        """The watchlist alert a passage raised, recorded with it (linked to its event)."""
        return NewEvent(
            gate_id=self.gate.id,
            kind="watchlist_alert",
            occurred_at=now,
            decision="none",
            plate=passage.plate,
            confidence=passage.confidence,
            reasons=({"code": alert.code, "message": alert.message},),
            details={"watch_ids": list(alert.watch_ids)},
        )

    def unread_car(self, at: datetime) -> list[GateOutcome]:
        """Report the car whose plate was seen but never read (once per quiet time)."""
        car = self.unread.take(at)
        if car is None:
            return []
        with self.lock:
            now = self.clock()
            sighting = PlateSighting("", max(car.confidence, 0.0), readable=False)
            decision = decide_vehicle(sighting, self.gate, now, Facts())  # no plate, no facts
            event = NewEvent(
                self.gate.id,
                "plate_unread",
                now,
                decision.action,
                confidence=sighting.confidence,
                reasons=tuple(r.as_dict() for r in decision.reasons),
                details={"seen_since": car.since.isoformat()},
            )
            outcome = GateOutcome.of(event, self.record(event, car.frame))
        self.publish(outcome)
        return [outcome]

    # -- the runner's hooks -----------------------------------------------------------------
    def release(self, source: str) -> None:
        self.barrier.open()

    def kind_health(self) -> dict[str, Any]:
        return {"barrier": dataclasses.asdict(self.barrier.state())}
