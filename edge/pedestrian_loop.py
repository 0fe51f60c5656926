"""The pedestrian gate loop: frame → face / QR pass, keypad → PIN → policy → event → lock.

Same rules as the vehicle loop: no error in recognition, a bad frame or storage escapes
(a dead loop locks residents out), and the lock is released only for a policy decision of
"open" whose event has been written first. Door alarms from ``gate_drivers.door`` arrive on
input threads and are recorded under the same lock as decisions.

A face must clear the threshold and margin (edge.faces.index) in ``frames_to_agree``
consecutive frames (edge.faces.matcher). A face seen for that many frames without a match
is recorded once as ``face_unknown`` with its snapshot (then quiet for ``dedupe_s``).
A black or broken camera frame finds no face: it can never open the door.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import cv2
import numpy as np
import sqlite_utils

from edge.db import utc_now
from edge.event_writer import EventWriter
from edge.events import NewEvent
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


@dataclass(frozen=True)
class PersonOutcome:
    event_id: str
    kind: str
    decision: str
    subject: str | None
    reasons: tuple[dict[str, str], ...]


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
    ) -> None:
        self.gate = gate
        self.door = door
        self.recogniser = recogniser
        self.db = db
        self.vault = vault
        self.settings = settings
        self.writer = EventWriter(db, snapshots)
        self.on_outcome = on_outcome
        self.agreement = FrameAgreement(
            settings.frames_to_agree, settings.agree_window_s, settings.dedupe_s
        )
        self.index = FaceIndex.empty()
        self._index_signature: tuple | None = None
        self._qr = cv2.QRCodeDetector()
        self._qr_quiet: dict[str, datetime] = {}
        self._unknown_frames = 0
        self._unknown_quiet_until: datetime | None = None
        self._pin_failures: dict[int, list[float]] = {}
        self._lock = threading.RLock()
        self.frames = 0
        self.frame_errors = 0
        self.refresh_index()

    # -- templates ----------------------------------------------------------------------------
    def refresh_index(self) -> None:
        """Rebuild the 1:N index when templates or residents changed (cheap check first)."""
        signature = self.db.execute(
            "SELECT COUNT(*), MAX(t.id), (SELECT COUNT(*) FROM residents WHERE active = 1)"
            " FROM face_templates t"
        ).fetchone()
        if signature != self._index_signature:
            self.index = load_face_index(self.db, self.vault, self.recogniser.model_sha256)
            self._index_signature = signature

    # -- inputs -------------------------------------------------------------------------------
    def process_frame(self, image: np.ndarray, at: datetime) -> list[PersonOutcome]:
        self.frames += 1
        self.writer.retry()
        try:
            probe = self.recogniser.probe(image)
        except ImageInputError as exc:
            self.frame_errors += 1
            log.warning("gate %s: frame refused: %s", self.gate.id, exc)
            return []
        outcomes = self._look_for_qr(image, at)
        result = None
        if probe is not None:
            s = self.settings
            result = self.index.search(probe.vector, s.match_threshold, s.margin)
        decided = self.agreement.add(result, at)
        if decided is not None:
            self._unknown_frames = 0
            sighting = PersonSighting("face", decided.identity, score=decided.score)
            details = {"score": round(decided.score, 4), "margin": round(decided.margin, 4)}
            outcomes.append(self._decide(sighting, "face_passage", image, details))
        elif probe is not None and result is not None and result.identity is None:
            self._unknown_frames += 1
            quiet = self._unknown_quiet_until and at < self._unknown_quiet_until
            if self._unknown_frames >= self.settings.frames_to_agree and not quiet:
                self._unknown_frames = 0
                self._unknown_quiet_until = at + timedelta(seconds=self.settings.dedupe_s)
                details = {"best_score": round(result.score, 4), "why": result.reason}
                sighting = PersonSighting("face", None, score=result.score)
                outcomes.append(self._decide(sighting, "face_unknown", image, details))
        elif probe is None:
            self._unknown_frames = 0
        return outcomes

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
                    utc_now(),
                    "open" if kind in ("exit_button", "fire_alarm") else "none",
                    reasons=({"code": kind, "message": messages.get(kind, kind)},),
                    details=details,
                )
            )
        self._publish(PersonOutcome(stored.id or "", kind, "none", None, ()))

    # -- decisions ----------------------------------------------------------------------------
    def _decide(
        self,
        sighting: PersonSighting,
        kind: str,
        frame: np.ndarray | None,
        details: dict[str, Any],
        qr: Any = None,
    ) -> PersonOutcome:
        with self._lock:
            now = utc_now()
            s = self.settings
            resident = (
                resident_fact(self.db, sighting.resident_id) if sighting.resident_id else None
            )
            facts = PersonFacts(resident, qr, s.schedules, s.holidays, s.zone)
            decision = decide_person(sighting, self.gate, now, facts)
            action = decision.action
            reasons = tuple(r.as_dict() for r in decision.reasons)
            if action == "open" and qr is not None and not consume_use(self.db, qr.id, now):
                action = "deny"
                reasons = ({"code": "pass_used_up", "message": "QR pass has no use left"},)
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
            )
            if action == "open":
                self.door.grant(sighting.credential)
        outcome = PersonOutcome(stored.id or "", kind, action, decision.subject, reasons)
        self._publish(outcome)
        return outcome

    def _publish(self, outcome: PersonOutcome) -> None:
        if self.on_outcome:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("gate %s: outcome callback failed", self.gate.id)
