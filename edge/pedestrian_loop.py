"""The pedestrian gate loop: frame → face / QR pass, keypad → PIN → policy → event → lock.

Same rules as the vehicle loop: no error in recognition, a bad frame or storage escapes
(a dead loop locks residents out), and the lock is released only for a policy decision of
"open" whose event has been written first. Door alarms from ``gate_drivers.door`` arrive on
input threads and are recorded under the same lock as decisions.

A face must clear the threshold and margin (edge.faces.index) in ``frames_to_agree``
consecutive frames (edge.faces.matcher). A face seen for that many frames without a match
is recorded once as ``face_unknown`` with its snapshot (then quiet for ``dedupe_s``).
A black or broken camera frame finds no face: it can never open the door.

``run`` is the gate process's main loop (as in edge.gate_loop): it waits for camera frames,
records camera faults and recoveries, survives every per-frame error, calls ``on_idle`` each
iteration for the systemd watchdog, and every ``index_refresh_s`` checks cheaply whether
templates or residents changed, so a resident enrolled from the CLI or console is
recognised within seconds without restarting the gate (and reloads the watch faces).

Visitors with a face pass are residents rows of kind 'visitor' (edge.visitors): they are in
the same index, and the policy holds them to their window and uses; a use is spent with a
guarded UPDATE only when the door is about to open, and the passage records ``visitor_id``
and ``pass_use`` (the policy's same-visit rule reads them back).

Every face frame is also searched against the watch faces (edge.watch_alerts). A confirmed
hit raises a ``watchlist_alert`` whatever the door decision: linked to the sighting event
recorded for that frame (a passage, or a ``face_unknown`` that is then recorded even in the
strangers' quiet time), or — when the person was already recorded moments ago — related to
that passage, or on its own with its snapshot if no sighting follows within the agreement
window. Either way it is written with its outbox row (edge.events).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import cv2
import numpy as np
import sqlite_utils

from edge.db import ThreadConnections, utc_now
from edge.event_writer import UNCOUNTED_USE, EventWriter, spend_use
from edge.events import NewEvent, camera_change_event, manual_open_event
from edge.faces.images import ImageInputError
from edge.faces.index import FaceIndex
from edge.faces.matcher import FrameAgreement
from edge.faces.recogniser import FaceRecogniser
from edge.passes import consume_use, looks_like_pass, pass_fact, token_hash
from edge.person_policy import (
    PedestrianGateFacts,
    PersonFacts,
    PersonSighting,
    Schedule,
    decide_person,
)
from edge.pii import PiiVault
from edge.residents import check_pin, load_face_index, resident_fact
from edge.snapshots import SnapshotStore
from edge.visitors import consume_visitor_use, visit_terms
from edge.watch_alerts import WatchHit, WatchMatcher, alert_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PedestrianSettings:
    match_threshold: float = 0.55
    margin: float = 0.05
    frames_to_agree: int = 3
    agree_window_s: float = 2.0
    dedupe_s: float = 10.0
    max_pin_failures: int = 5
    lockout_s: float = 300.0
    schedules: tuple[tuple[str, Schedule], ...] = ()
    holidays: frozenset = frozenset()
    zone: str = "Asia/Shanghai"
    index_refresh_s: float = 3.0
    same_visit_s: float = 120.0  # a visitor re-opening this soon spends no second use
    watch_threshold: float | None = None  # None: match_threshold
    watch_dedupe_s: float = 300.0  # one watch alert per person per this long


@dataclass(frozen=True)
class PersonOutcome:
    event_id: str
    kind: str
    decision: str
    subject: str | None
    reasons: tuple[dict[str, str], ...]
    occurred_at: datetime | None = None
    decide_ms: float | None = None
    alert_event_id: str | None = None


class PedestrianGateLoop:
    def __init__(
        self,
        gate: PedestrianGateFacts,
        door: Any,  # gate_drivers.door.Door (grant(source)); its on_event is wired here
        recogniser: FaceRecogniser,
        db: sqlite_utils.Database,
        vault: PiiVault,
        snapshots: SnapshotStore | None,
        settings: PedestrianSettings = PedestrianSettings(),
        on_outcome: Callable[[PersonOutcome], None] | None = None,
        camera: Any = None,  # gate_drivers.camera.Camera (wait_for_frame, health); run() needs it
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.gate = gate
        self.clock = clock  # decision time; injected by tests to cross validity windows
        self.camera = camera
        self.door = door
        self.recogniser = recogniser
        self.connections = ThreadConnections(db)  # one connection per calling thread
        self.vault = vault
        self.settings = settings
        self.writer = EventWriter(self.connections.get, snapshots)
        self.on_outcome = on_outcome
        self.agreement = FrameAgreement(
            settings.frames_to_agree, settings.agree_window_s, settings.dedupe_s
        )
        self.index = FaceIndex.empty()
        self._index_signature: tuple | None = None
        self.watch = WatchMatcher(
            settings.watch_threshold or settings.match_threshold,
            settings.frames_to_agree,
            settings.agree_window_s,
            settings.watch_dedupe_s,
        )
        self._recent_passage: dict[int, tuple[str, datetime]] = {}  # identity -> (event, at)
        self._qr = cv2.QRCodeDetector()
        self._qr_quiet: dict[str, datetime] = {}
        self._unknown_frames = 0
        self._unknown_quiet_until: datetime | None = None
        self._pin_failures: dict[int, list[float]] = {}
        self._lock = threading.RLock()
        self.frames = 0
        self.frame_errors = 0
        self.recogniser_ms_avg: float | None = None
        self.last_outcome: PersonOutcome | None = None
        self.camera_state = "starting"
        self.refresh_index()

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection: a connection belongs to one thread."""
        return self.connections.get()

    # -- templates ----------------------------------------------------------------------------
    def refresh_index(self) -> bool:
        """Rebuild the 1:N index when templates or residents changed; True if rebuilt.

        The check is two aggregate queries on indexed columns (well under a millisecond at
        50,000 templates), so it can run every few seconds; only a change pays for
        decrypting every template. Removing one resident and enrolling another changes the
        id sums, so equal counts cannot hide a swap.
        """
        with self._lock:
            watch_reloaded = self.watch.refresh(
                self.db, self.vault, self.recogniser.model_sha256, self.clock()
            )
            signature = self.db.execute(
                "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(id), 0),"
                " (SELECT COUNT(*) || ':' || COALESCE(SUM(id), 0) FROM residents"
                "  WHERE active = 1 AND face_consent_at IS NOT NULL)"
                " FROM face_templates"
            ).fetchone()
            if signature == self._index_signature:
                return watch_reloaded
            index = load_face_index(self.db, self.vault, self.recogniser.model_sha256)
        self.index = index  # one reference swap: a search never sees a half-built index
        self._index_signature = signature
        log.info("gate %s: face index has %d template(s)", self.gate.id, len(index))
        return True

    # -- inputs -------------------------------------------------------------------------------
    def process_frame(self, image: np.ndarray, at: datetime) -> list[PersonOutcome]:
        self.frames += 1
        with self._lock:
            self.writer.retry()
        started = time.perf_counter()
        try:
            probe = self.recogniser.probe(image)
        except ImageInputError as exc:
            self.frame_errors += 1
            log.warning("gate %s: frame refused: %s", self.gate.id, exc)
            return []
        ms = (time.perf_counter() - started) * 1000
        avg = self.recogniser_ms_avg
        self.recogniser_ms_avg = ms if avg is None else 0.9 * avg + 0.1 * ms
        outcomes = self._look_for_qr(image, at)
        result = None
        if probe is not None:
            s = self.settings
            result = self.index.search(probe.vector, s.match_threshold, s.margin)
        self.watch.observe(probe.vector if probe is not None else None, image, at)
        decided = self.agreement.add(result, at)
        if decided is not None:
            self._unknown_frames = 0
            sighting = PersonSighting("face", decided.identity, score=decided.score)
            details = {"score": round(decided.score, 4), "margin": round(decided.margin, 4)}
            outcome = self._decide(
                sighting, "face_passage", image, details, watch=self.watch.take()
            )
            if outcome.event_id:  # not when spooled: an alert cannot point at it yet
                self._recent_passage[decided.identity] = (outcome.event_id, at)
            outcomes.append(outcome)
        elif probe is not None and result is not None and result.identity is None:
            self._unknown_frames += 1
            quiet = self._unknown_quiet_until and at < self._unknown_quiet_until
            due = self._unknown_frames >= self.settings.frames_to_agree and not quiet
            if due or self.watch.pending is not None:  # a watched stranger is always recorded
                self._unknown_frames = 0
                self._unknown_quiet_until = at + timedelta(seconds=self.settings.dedupe_s)
                details = {"best_score": round(result.score, 4), "why": result.reason}
                sighting = PersonSighting("face", None, score=result.score)
                outcomes.append(
                    self._decide(sighting, "face_unknown", image, details, watch=self.watch.take())
                )
        elif probe is None:
            self._unknown_frames = 0
        outcomes += self._unattached_watch_hit(result, at)
        return outcomes

    def _unattached_watch_hit(self, result: Any, at: datetime) -> list[PersonOutcome]:
        """A watch hit no sighting of this frame took: relate it to the person's passage of
        moments ago (they are in the frame agreement's quiet time), or, once the agreement
        window has passed without a sighting, record it on its own with its snapshot."""
        hit = None
        related = None
        identity = getattr(result, "identity", None)
        if self.watch.pending is not None and identity is not None:
            recent = self._recent_passage.get(identity)
            if recent and at - recent[1] <= timedelta(seconds=self.settings.dedupe_s):
                hit, related = self.watch.take(), recent[0]
        hit = hit or self.watch.overdue(at)
        self._recent_passage = {
            k: v
            for k, v in self._recent_passage.items()
            if at - v[1] <= timedelta(seconds=self.settings.dedupe_s)
        }
        if hit is None:
            return []
        with self._lock:
            now = self.clock()
            alert = alert_event(hit, self.gate.id, now, related)
            stored = self.writer.record(alert, hit.image)
        outcome = PersonOutcome(
            stored.id or "", "watchlist_alert", "none", alert.subject, alert.reasons, now
        )
        self._publish(outcome)
        return [outcome]

    def _look_for_qr(self, image: np.ndarray, at: datetime) -> list[PersonOutcome]:
        try:
            text, _, _ = self._qr.detectAndDecode(image)
        except cv2.error:
            return []
        if not text or not looks_like_pass(text):
            return []
        key = token_hash(text.strip())
        self._qr_quiet = {k: v for k, v in self._qr_quiet.items() if v > at}
        if key in self._qr_quiet:
            return []
        self._qr_quiet[key] = at + timedelta(seconds=self.settings.dedupe_s)
        fact = pass_fact(self.db, text)
        sighting = PersonSighting("qr_pass", pass_id=fact.id if fact else None)
        return [self._decide(sighting, "qr_pass", image, {}, qr=fact)]

    def keypad_entry(self, line: str) -> PersonOutcome | None:
        """A keypad line ``<resident number>*<PIN>``; malformed lines are ignored."""
        number, sep, pin = line.strip().partition("*")
        if not sep or not number.isdigit() or not pin.isdigit() or len(number) > 9:
            return None
        rid = int(number)
        with self._lock:  # the keypad thread and the frame loop share the database
            return self._check_keypad_pin(rid, pin)

    def _check_keypad_pin(self, rid: int, pin: str) -> PersonOutcome:
        now_s = time.monotonic()
        recent = [t for t in self._pin_failures.get(rid, []) if now_s - t < self.settings.lockout_s]
        locked_out = len(recent) >= self.settings.max_pin_failures
        ok = not locked_out and check_pin(self.db, rid, pin)
        if not ok and not locked_out:
            recent.append(now_s)
        self._pin_failures[rid] = recent
        sighting = PersonSighting("pin", rid if ok else None)
        details = {"resident_number": rid, "locked_out": locked_out}
        return self._decide(sighting, "pin_passage", None, details)

    def door_event(self, kind: str, details: dict[str, Any]) -> None:
        """Handler for gate_drivers.door.Door(on_event=...): every alarm becomes an event."""
        messages = {
            "door_forced": "door opened without a grant",
            "door_held_open": "door held open too long",
            "door_closed": "door closed again",
            "exit_button": "exit button pressed: lock released",
            "fire_alarm": "fire alarm: lock released and held released",
            "fire_alarm_cleared": "fire alarm cleared: lock back to normal",
        }
        with self._lock:
            stored = self.writer.record(
                NewEvent(
                    self.gate.id,
                    kind,  # type: ignore[arg-type]
                    self.clock(),
                    "open" if kind in ("exit_button", "fire_alarm") else "none",
                    reasons=({"code": kind, "message": messages.get(kind, kind)},),
                    details=details,
                )
            )
        reasons = ({"code": kind, "message": messages.get(kind, kind)},)
        self._publish(PersonOutcome(stored.id or "", kind, "none", None, reasons, self.clock()))

    # -- decisions ----------------------------------------------------------------------------
    def _decide(
        self,
        sighting: PersonSighting,
        kind: str,
        frame: np.ndarray | None,
        details: dict[str, Any],
        qr: Any = None,
        watch: WatchHit | None = None,
    ) -> PersonOutcome:
        with self._lock:
            now = self.clock()
            s = self.settings
            details = dict(details)
            resident = self._person(sighting.resident_id, now)
            facts = PersonFacts(resident, qr, s.schedules, s.holidays, s.zone, s.same_visit_s)
            decision = decide_person(sighting, self.gate, now, facts)
            action = decision.action
            reasons = tuple(r.as_dict() for r in decision.reasons)
            uncounted = False
            if action == "open" and qr is not None:
                spent, uncounted = spend_use(lambda: consume_use(self.db, qr.id, now))
                if not spent and not uncounted:
                    action = "deny"
                    reasons = ({"code": "pass_used_up", "message": "QR pass has no use left"},)
            visit = resident.visit if resident is not None else None
            if visit is not None and visit.max_uses is not None:
                details["visitor_id"] = resident.id  # type: ignore[union-attr]
            if action == "open" and decision.spend_use and resident is not None:
                person_id = resident.id
                use, uncounted = spend_use(lambda: consume_visitor_use(self.db, person_id, now))
                if use is None and not uncounted:
                    action = "deny"
                    reasons = (
                        {
                            "code": "visitor_used_up",
                            "message": "visitor pass used up (its last use was just spent)",
                        },
                    )
                elif use is not None:
                    details["pass_use"] = use
            if uncounted:
                reasons += (UNCOUNTED_USE,)
            alerts = [alert_event(watch, self.gate.id, now)] if watch is not None else []
            stored = self.writer.record(
                NewEvent(
                    self.gate.id,
                    kind,  # type: ignore[arg-type]
                    now,
                    action,
                    subject=decision.subject,
                    confidence=sighting.score,
                    reasons=reasons,
                    details=details,
                ),
                frame,
                linked=alerts,
            )
            if action == "open":
                self.door.grant(sighting.credential)
        alert_id = stored.linked_ids[-1] if stored.linked_ids else None
        outcome = PersonOutcome(
            stored.id or "", kind, action, decision.subject, reasons, now, alert_event_id=alert_id
        )
        self._publish(outcome)
        return outcome

    def _person(self, resident_id: int | None, now: datetime) -> Any:
        """The resident fact, with a visitor's pass terms when it is a visitor."""
        if not resident_id:
            return None
        fact = resident_fact(self.db, resident_id)
        if fact is None:
            return None
        since = now - timedelta(seconds=self.settings.same_visit_s)
        terms = visit_terms(self.db, resident_id, self.gate.id, since)
        if terms is None:
            return fact
        label, visit = terms
        return replace(fact, label=label, visit=visit)

    def _publish(self, outcome: PersonOutcome) -> None:
        self.last_outcome = outcome
        if self.on_outcome:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("gate %s: outcome callback failed", self.gate.id)

    # -- commands from the console ------------------------------------------------------------
    def manual_open(self, operator: str, reason: str) -> PersonOutcome:
        """A guard releases the door by hand: recorded with who and why, then the lock opens."""
        started = time.perf_counter()
        with self._lock:
            now = self.clock()
            event = manual_open_event(self.gate.id, now, operator, reason)
            reasons = event.reasons
            stored = self.writer.record(event)
            self.door.grant("manual")
            outcome = PersonOutcome(
                stored.id or "",
                "manual_open",
                "open",
                f"operator: {operator}",
                reasons,
                now,
                (time.perf_counter() - started) * 1000,
            )
        self._publish(outcome)
        return outcome

    def health(self) -> dict[str, Any]:
        """What the console's health page shows for this gate; no personal data."""
        camera = self.camera.health() if self.camera is not None else None
        last = self.last_outcome
        lock = getattr(self.door, "lock", None)
        return {
            "gate": self.gate.id,
            "camera": dataclasses.asdict(camera) if dataclasses.is_dataclass(camera) else None,
            "frames": self.frames,
            "frame_errors": self.frame_errors,
            "recogniser_ms_avg": self.recogniser_ms_avg,
            "templates": len(self.index),
            "watch_faces": len(self.watch.index),
            "last_decision": None
            if last is None
            else {
                "kind": last.kind,
                "decision": last.decision,
                "at": last.occurred_at.isoformat() if last.occurred_at else None,
                "event_id": last.event_id,
            },
            "lock": dataclasses.asdict(lock.state()) if lock is not None else None,
            "door_open": getattr(self.door, "is_open", None),
            "fire_alarm": getattr(self.door, "fire_active", None),
            "storage_fault": self.writer.fault,
            "events_unsaved": self.writer.spooled,
        }

    # -- the loop -----------------------------------------------------------------------------
    def _watch_camera(self) -> None:
        """Record a camera going down or coming back, once per change."""
        health = self.camera.health()
        state = getattr(health, "state", "unknown")
        previous, self.camera_state = self.camera_state, state
        event = camera_change_event(self.gate.id, previous, health, self.clock())
        if event is None:
            return
        with self._lock:
            self.writer.record(event)
        log.warning("gate %s: camera %s → %s", self.gate.id, previous, state)

    def run(self, stop: threading.Event, on_idle: Callable[[], None] | None = None) -> None:
        """Process frames until ``stop`` is set; survives every per-frame error."""
        if self.camera is None:
            raise ValueError("PedestrianGateLoop.run needs a camera")
        last_seq = -1
        next_health = next_refresh = 0.0
        try:
            while not stop.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_health:
                        next_health = now + 1.0
                        self._watch_camera()
                    if now >= next_refresh:
                        next_refresh = now + self.settings.index_refresh_s
                        self.refresh_index()
                    frame = self.camera.wait_for_frame(last_seq, timeout_s=0.5)
                    if frame is None:
                        with self._lock:
                            self.writer.retry()
                    else:
                        last_seq = frame.seq
                        self.process_frame(frame.image, frame.captured_at)
                    if on_idle:
                        on_idle()
                except Exception:
                    self.frame_errors += 1
                    log.exception("gate %s: error in gate loop (continuing)", self.gate.id)
                    stop.wait(0.2)
        finally:
            self.connections.close()  # this thread's; its owner is ending
