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
when the policy opens: the use is taken just before the event is written, through the
runner's use counter (one guarded UPDATE locally, or at the hub on a gate box), so two gates
cannot both spend the last one; if none is left the passage is denied "visitor pass used
up". The passage's event records ``vehicle_id`` and ``pass_use``: that is how the policy's
same-visit rule finds the last use.

Questions for the guard (edge.store.prompts), stored with the event that raised them:

- a *near miss* — a read one confusable character away from a plate that would open — is
  denied and asks "possibly 皖A12345 — confirm?" with the plate crop; the guard's
  confirmation comes back as a manual open carrying the confirmed plate (the runner's
  ``manual_open``, which asks ``confirmed_plate`` here what the opening spends);
- with a vehicle loop, a car *waiting* on it with no decision after ``waiting_after_s``
  raises an "unread car waiting" card with the best frame seen; the gate keeps reading the
  freshest frames (and, at most every ``fallback_every_s``, lets the reader look for the
  plate by text detection when no plate box is found), and closes the card itself when the
  car is read after all or drives off — a question about a car that has gone is closed
  too, so nobody opens for whoever stands there next.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import cv2
import numpy as np
import sqlite_utils

from edge.db import transaction, utc_now
from edge.events.record import NewEvent
from edge.events.writer import STORAGE_FAULTS, UNCOUNTED_USE, spend_use
from edge.gates.runner import CameraLike, GateOutcome, GateRunner
from edge.people.vehicles import facts_for_plate
from edge.plates.body_colour import body_colour
from edge.plates.reader import PlateInputError, PlateRead
from edge.plates.voting import Passage, PlateVoter, Quad
from edge.policy.vehicle import (
    Alert,
    Decision,
    Facts,
    GateFacts,
    PolicySettings,
    Sighting,
    decide_vehicle,
)
from edge.store.prompts import NewPrompt, PromptKind, close_gate_prompts
from edge.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)


class BarrierLike(Protocol):
    """gate_drivers.barrier.Barrier."""

    def open(self) -> None: ...
    def state(self) -> Any: ...  # a dataclass for the health page


class ReaderLike(Protocol):
    def read(self, frame_bgr: np.ndarray, vehicle_present: bool = False) -> list[PlateRead]: ...


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


@dataclass
class WaitingCar:
    """The car on the vehicle loop: since when, whether it was decided or its card raised,
    and the best frame seen for it (the card's snapshot and crop)."""

    since: datetime | None = None
    decided: bool = False
    prompted: bool = False
    near_miss: bool = False  # a near-miss question was asked while it stood there
    frame: np.ndarray | None = None
    confidence: float = -1.0
    quad: Quad | None = None


def plate_crop_jpeg(frame: np.ndarray | None, quad: Quad | None) -> bytes | None:
    """The plate's box cut from the frame with a little margin, as JPEG (for the guard's
    card and, if the guard corrects it, the labelled example); None without a box."""
    if frame is None or not quad:
        return None
    pts = np.asarray(quad, np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    mx, my = 0.08 * (x1 - x0), 0.25 * (y1 - y0)
    h, w = frame.shape[:2]
    left, top = max(0, int(x0 - mx)), max(0, int(y0 - my))
    right, bottom = min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my)))
    if right - left < 4 or bottom - top < 4:
        return None
    ok, jpeg = cv2.imencode(".jpg", frame[top:bottom, left:right], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return jpeg.tobytes() if ok else None


def near_miss_prompt(plate: str, decision: Decision, passage: Passage) -> NewPrompt | None:
    """The guard's question for a near-miss passage (None when it is not one)."""
    if not decision.candidates:
        return None
    candidates = tuple(
        {"plate": v.plate, "kind": v.kind, "household": v.household, "vehicle_id": v.id}
        for v in decision.candidates
    )
    evidence = passage.evidence
    crop = plate_crop_jpeg(evidence.frame, evidence.quad) if evidence else None
    return NewPrompt("near_miss", plate, candidates, crop)


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
        waiting_after_s: float = 8.0,
        fallback_every_s: float = 1.0,
    ) -> None:
        """``presence``: the vehicle loop, if the gate has one (a waiting car's card and the
        reader's text-detection fallback need it); ``require_presence``: read frames only
        while it reports a car."""
        super().__init__(gate.id, camera, db, snapshots, on_outcome, clock)
        self.gate = gate
        self.barrier = barrier
        self.reader = reader
        self.voter = voter
        self.policy = policy
        self.presence = presence
        self.require_presence = require_presence and presence is not None
        self.unread = UnreadWatch(
            timedelta(seconds=unread_after_s), timedelta(seconds=unread_dedupe_s)
        )
        self.waiting_after = timedelta(seconds=waiting_after_s)
        self.fallback_every = timedelta(seconds=fallback_every_s)
        self.waiting = WaitingCar()
        self.last_fallback: datetime | None = None

    def car_present(self) -> bool:
        return self.presence is not None and self.presence.is_occupied

    # -- read -------------------------------------------------------------------------------
    def on_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """Read plates in one frame and act on every passage that became decided."""
        if self.require_presence and not self.car_present():
            return []  # frames are read only while a car is on the loop detector
        started = time.perf_counter()
        fallback = self.fallback_due(at)
        if fallback:
            self.last_fallback = at
        try:
            reads = self.timed(lambda frame: self.reader.read(frame, fallback), image)
        except PlateInputError as exc:
            return self.refused(exc)
        self.note_waiting(reads, image)
        outcomes = [self.passage(p, started) for p in self.voter.add(reads, at, image)]
        if outcomes or any(r.valid for r in reads) or self.waiting.prompted:
            self.unread.forget()  # read, or already on the guard's screen as a waiting car
        elif self.unread.observe(reads, image, at):
            outcomes += self.unread_car(at)
        return outcomes

    def fallback_due(self, at: datetime) -> bool:
        """Text detection (~250 ms) only while the loop says a car is there, it is not
        decided yet, and not more often than ``fallback_every``."""
        if not self.car_present() or self.waiting.decided:
            return False
        last = self.last_fallback
        return last is None or at - last >= self.fallback_every or at < last

    def tick(self, at: datetime) -> list[GateOutcome]:
        """Close vote windows that ended without a new frame, and report an unread car
        that left."""
        outcomes = super().tick(at)
        outcomes += [self.passage(p, time.perf_counter()) for p in self.voter.flush(at)]
        if self.unread.left(at):
            outcomes += self.unread_car(at)
        return outcomes + self.watch_waiting(at)

    # -- decide and act ---------------------------------------------------------------------
    def passage(self, passage: Passage, started: float) -> GateOutcome:
        """One decided car: policy on the plate's facts, event first, then the barrier."""
        with self.lock:
            now = self.clock()
            decision, details, uncounted = self.decide(passage, now)
            alerts = [self.alert_event(passage, alert, now) for alert in decision.alerts]
            reasons = tuple(r.as_dict() for r in decision.reasons)
            prompt = near_miss_prompt(passage.plate, decision, passage)
            if prompt is not None:
                details["near_miss"] = [c["plate"] for c in prompt.candidates]
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
                prompt=prompt,
            )
            frame = passage.evidence.frame if passage.evidence else None
            written = self.record(event, frame, linked=alerts)
            if decision.action == "open":
                self.barrier.open()
            self.unread.forget()
            self.car_decided(now, near_miss=prompt is not None)
            outcome = GateOutcome.of(event, written, started)
        self.publish(outcome)
        return outcome

    def decide(self, passage: Passage, now: datetime) -> tuple[Decision, dict[str, Any], bool]:
        """The policy's decision on the plate's facts, with a counted pass's use spent when
        it opens; the passage's details; and whether a use could not be counted (storage
        fault: the visitor is let in and the event says so)."""
        sighting = Sighting(passage.plate, passage.confidence, readable=True)
        since = now - timedelta(seconds=self.policy.same_visit_s)
        facts = self.facts(lambda db: facts_for_plate(db, passage.plate, self.gate.id, since))
        decision = decide_vehicle(sighting, self.gate, now, facts, self.policy)
        evidence = passage.evidence
        box = evidence.box() if evidence else None
        details: dict[str, Any] = {
            "plate_box": box,
            "frame_w": int(evidence.frame.shape[1]) if evidence else None,
            "colour": passage.colour,
            "body_colour": body_colour(evidence.frame, box) if evidence else None,
            "votes": passage.votes,
            "frames": passage.frames,
            "first_seen": passage.first_seen.isoformat(),
        }
        uncounted = False
        vehicle = decision.vehicle
        if vehicle is not None and vehicle.max_uses is not None:
            details["vehicle_id"] = vehicle.id
        if decision.action == "open" and decision.spend_use and vehicle is not None:
            use, uncounted = spend_use(lambda: self.uses.spend(self.db, "vehicle", vehicle.id, now))
            if use is not None and use.spent:
                details["pass_use"] = use.number
                details.update(use.details("vehicle", vehicle.id))
            elif not uncounted:
                decision = decision.used_up(use.refusal if use is not None else None)
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
            reasons=(alert.as_reason().as_dict(),),
            details={"watch_ids": list(alert.watch_ids)},
        )

    def unread_car(self, at: datetime) -> list[GateOutcome]:
        """Report the car whose plate was seen but never read (once per quiet time)."""
        car = self.unread.take(at)
        if car is None:
            return []
        return [self.record_unread(car.since, car.frame, car.confidence)]

    def record_unread(
        self,
        since: datetime | None,
        frame: np.ndarray | None,
        confidence: float,
        prompt: NewPrompt | None = None,
    ) -> GateOutcome:
        """The ``plate_unread`` event: a car that left or stood unread, or (with ``prompt``)
        one waiting on the loop with no decision — then with the guard's card."""
        with self.lock:
            now = self.clock()
            sighting = Sighting("", max(confidence, 0.0), readable=False)
            decision = decide_vehicle(sighting, self.gate, now, Facts())  # no plate, no facts
            details: dict[str, Any] = {"seen_since": since.isoformat() if since else None}
            if prompt is not None:
                details["waiting"] = True
            event = NewEvent(
                self.gate.id,
                "plate_unread",
                now,
                decision.action,
                confidence=sighting.confidence,
                reasons=tuple(r.as_dict() for r in decision.reasons),
                details=details,
                prompt=prompt,
            )
            outcome = GateOutcome.of(event, self.record(event, frame))
        self.publish(outcome)
        return outcome

    # -- a car waiting on the loop ----------------------------------------------------------
    def note_waiting(self, reads: list[PlateRead], image: np.ndarray) -> None:
        """Keep the best frame of the car on the loop (a plate box seen beats none; then the
        most confident read; else the freshest frame)."""
        waiting = self.waiting
        if not self.car_present() or waiting.decided:
            return
        seen = [r for r in reads if r.quad is not None]
        best = max(seen, key=lambda r: r.confidence, default=None)
        if best is not None and best.confidence >= waiting.confidence:
            waiting.frame, waiting.confidence, waiting.quad = image, best.confidence, best.quad
        elif waiting.confidence < 0:
            waiting.frame = image

    def car_decided(self, at: datetime, near_miss: bool = False, resolution: str = "read") -> None:
        """A passage was decided (or a guard opened by hand): the car on the loop is not
        waiting any more (its card, if still open, is closed with ``resolution``)."""
        with self.lock:
            if self.waiting.prompted:
                self.close_questions(("unread_waiting",), resolution, at)
            if self.car_present():
                asked = self.waiting.near_miss or near_miss
                since = self.waiting.since or at
                self.waiting = WaitingCar(since=since, decided=True, near_miss=asked)

    def watch_waiting(self, at: datetime) -> list[GateOutcome]:
        """Raise the "unread car waiting" card once per car on the loop with no decision
        after ``waiting_after``; close the car's questions when it drives off."""
        if self.presence is None:
            return []
        with self.lock:
            waiting = self.waiting
            if not self.presence.is_occupied:
                asked: tuple[PromptKind, ...] = ("unread_waiting",) if waiting.prompted else ()
                if waiting.near_miss:
                    asked += ("near_miss",)
                if asked:  # questions about a car that is gone: nobody may open for it
                    self.close_questions(asked, "left", at)
                self.waiting = WaitingCar()
                return []
            if waiting.since is None:
                waiting.since = at
            if waiting.decided or waiting.prompted or at - waiting.since < self.waiting_after:
                return []
            waiting.prompted = True
            self.unread.forget()
        prompt = NewPrompt("unread_waiting", crop=plate_crop_jpeg(waiting.frame, waiting.quad))
        return [self.record_unread(waiting.since, waiting.frame, waiting.confidence, prompt)]

    def close_questions(self, kinds: tuple[PromptKind, ...], resolution: str, at: datetime) -> None:
        try:
            with transaction(self.db) as conn:
                close_gate_prompts(conn, self.gate.id, kinds, resolution, at)
        except STORAGE_FAULTS as exc:  # storage weather (any of it): the card stays open
            log.warning("gate %s: questions not closed: %s", self.gate.id, exc)

    # -- the runner's hooks -----------------------------------------------------------------
    def release(self, source: str) -> None:
        self.barrier.open()

    def confirmed_plate(self, event: NewEvent) -> NewEvent:
        """A guard opens for the plate they confirmed (``event.plate``): a use of that
        plate's counted pass is spent as its passage would spend it (same-visit rule
        included)."""
        plate = event.plate or ""
        now = event.occurred_at
        since = now - timedelta(seconds=self.policy.same_visit_s)
        facts = self.facts(lambda db: facts_for_plate(db, plate, self.gate.id, since))
        sighting = Sighting(plate, 1.0, readable=True)
        decision = decide_vehicle(sighting, self.gate, now, facts, self.policy)
        vehicle = decision.vehicle
        if decision.action != "open" or not decision.spend_use or vehicle is None:
            return event
        use, _ = spend_use(lambda: self.uses.spend(self.db, "vehicle", vehicle.id, now))
        if use is None or not use.spent:
            return event
        spent = {"vehicle_id": vehicle.id, "pass_use": use.number}
        spent.update(use.details("vehicle", vehicle.id))
        return dataclasses.replace(event, details={**event.details, **spent})

    def opened_by_hand(self, event: NewEvent) -> None:
        """A guard opened the barrier (for a question's car, or by hand): the car on the
        loop is dealt with; no "unread car waiting" card for it, and an open one closes."""
        self.car_decided(event.occurred_at, resolution="opened")

    def kind_health(self) -> dict[str, Any]:
        return {"barrier": dataclasses.asdict(self.barrier.state())}
