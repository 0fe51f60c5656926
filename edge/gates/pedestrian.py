"""The pedestrian gate: frame → face / QR pass, keypad → PIN → policy → event → lock.

What it shares with the vehicle gate (camera watch, event writer, lock, manual open, health,
the run loop) is edge.gates.runner; this module keeps the door's own read → decide → act:
read a face and a QR code in each frame (and PIN lines from the keypad thread), decide with
the person policy, record the event, then release the lock. Door alarms from
``gate_drivers.door`` arrive on input threads and are recorded under the same lock as
decisions.

A face must clear the threshold and margin (edge.faces.index) in ``frames_to_agree``
consecutive frames (edge.faces.matcher). A face seen for that many frames without a match
is recorded once as ``face_unknown`` with its snapshot (then quiet for ``dedupe_s``).
A black or broken camera frame finds no face: it can never open the door.

Every ``index_refresh_s`` the runner's loop calls ``refresh``, which checks cheaply whether
templates or residents changed, so a resident enrolled from the CLI or console is
recognised within seconds without restarting the gate (and reloads the watch faces).

Visitors with a face pass are residents rows of kind 'visitor' (edge.people.visitors): they are in
the same index, and the policy holds them to their window and uses; a use is spent with a
guarded UPDATE only when the door is about to open, and the passage records ``visitor_id``
and ``pass_use`` (the policy's same-visit rule reads them back).

Every face frame is also searched against the watch faces (edge.gates.watch_alerts). A confirmed
hit raises a ``watchlist_alert`` whatever the door decision: linked to the sighting event
recorded for that frame (a passage, or a ``face_unknown`` that is then recorded even in the
strangers' quiet time), or — when the person was already recorded moments ago — related to
that passage, or on its own with its snapshot if no sighting follows within the agreement
window. Either way it is written with its outbox row (edge.events.record).

Liveness (edge.faces.liveness.stage, the door's ``[gates.liveness]``): every frame that
identified someone is also looked at by the liveness cues, and that observation rides with
the frame in the frame agreement; when the frames agree, the cues of exactly those frames are
judged together. A face that identifies but is not judged live never reaches the policy: it
is a ``face_spoof_suspected`` event (deny) with its snapshot, the fused score and every cue's
part; from the ``repeat_count``-th within the window a ``face_spoof_repeated`` alert follows
and the door judges no face for a while (PIN and QR passes are never slowed). At
``required_or_pin`` the door then takes that resident's bare PIN on the keypad for
``pin_s`` seconds (the face said who; the PIN proves it), counted against the same PIN
lockout. Frames with no face teach the border cue the door's empty view.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import cv2
import numpy as np
import sqlite_utils

from edge.db import utc_now
from edge.errors import UserError
from edge.events.record import EventKind, NewEvent, camera_change_event
from edge.events.writer import UNCOUNTED_USE, spend_use
from edge.faces.images import ImageInputError
from edge.faces.index import FaceIndex, SearchResult
from edge.faces.liveness.checker import Observation
from edge.faces.liveness.fusion import LivenessVerdict
from edge.faces.liveness.stage import LivenessStage, StageSettings
from edge.faces.matcher import FaceDecisionInput, FrameAgreement
from edge.faces.recogniser import EnrolmentRefused, FaceRecogniser, Probe
from edge.gates.runner import CameraLike, GateOutcome, GateRunner
from edge.gates.watch_alerts import WatchHit, WatchMatcher, alert_event
from edge.people.passes import looks_like_pass, pass_fact, token_hash
from edge.people.residents import check_pin, load_face_index, resident_fact
from edge.people.visitors import visit_terms
from edge.pii import PiiVault
from edge.policy.person import (
    Facts,
    GateFacts,
    PassFact,
    ResidentFact,
    Schedule,
    Sighting,
    decide_person,
)
from edge.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)
CAPTURE_FRAMES = 5  # frames with a face an enrolment capture judges (as many as the bench)

DOOR_MESSAGES = {
    "door_forced": "door opened without a grant",
    "door_held_open": "door held open too long",
    "door_closed": "door closed again",
    "exit_button": "exit button pressed: lock released",
    "fire_alarm": "fire alarm: lock released and held released",
    "fire_alarm_cleared": "fire alarm cleared: lock back to normal",
}


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
    index_refresh_s: float = 1.0  # two indexed aggregates: a new face opens within ~1 s
    same_visit_s: float = 120.0  # a visitor re-opening this soon spends no second use
    watch_threshold: float | None = None  # None: match_threshold
    watch_dedupe_s: float = 300.0  # one watch alert per person per this long


@dataclass
class LivenessStats:
    """What the health page shows of the liveness stage: its time and its refusals."""

    observe_ms_last: float | None = None
    observe_ms_avg: float | None = None  # the per-frame cues, on frames that identified
    judge_ms_avg: float | None = None  # the sequence cues and the fusion, per decision
    judged: int = 0
    refused: int = 0

    @staticmethod
    def _average(avg: float | None, ms: float) -> float:
        return ms if avg is None else 0.9 * avg + 0.1 * ms

    def note_observe(self, ms: float) -> None:
        self.observe_ms_last = ms
        self.observe_ms_avg = self._average(self.observe_ms_avg, ms)

    def note_judge(self, ms: float, live: bool) -> None:
        self.judge_ms_avg = self._average(self.judge_ms_avg, ms)
        self.judged += 1
        self.refused += 0 if live else 1


def _asdict(value: Any) -> dict[str, Any] | None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return None


def _cue_summary(verdict: LivenessVerdict | None) -> str:
    """The reason's message: score against threshold and the cues that spoke against."""
    if verdict is None:
        return "no frame of this face could be judged"
    against = sorted((v, k) for k, v in verdict.evidence.items() if v < -0.5)
    cues = ", ".join(f"{k} {v:+.1f}" for v, k in against) or "no single cue; together"
    return f"liveness score {verdict.score:.2f} below {verdict.threshold:.2f} ({cues})"


class LockLike(Protocol):
    def state(self) -> Any: ...  # a dataclass for the health page


class DoorLike(Protocol):
    """gate_drivers.door.Door: grants through its lock; its on_event is wired to door_event."""

    @property
    def lock(self) -> LockLike: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def fire_active(self) -> bool: ...
    def grant(self, source: str) -> None: ...


class PedestrianGateLoop(GateRunner):
    def __init__(
        self,
        gate: GateFacts,
        door: DoorLike,
        recogniser: FaceRecogniser | None,
        db: sqlite_utils.Database,
        vault: PiiVault | None,
        snapshots: SnapshotStore | None,
        settings: PedestrianSettings = PedestrianSettings(),
        on_outcome: Callable[[GateOutcome], None] | None = None,
        camera: CameraLike | None = None,
        clock: Callable[[], datetime] = utc_now,
        liveness: LivenessStage | None = None,
        ir_camera: CameraLike | None = None,
    ) -> None:
        """``liveness``: the door's liveness stage; None is a door without one (mode off,
        for tests of other parts; edge.gates.assembly always builds one from the config).
        ``ir_camera``: the near-infrared camera the stage reads, for the health page.
        ``recogniser`` None: a door without faces (``[gates] faces = false``), opened by
        PIN and QR pass only."""
        super().__init__(gate.id, camera, db, snapshots, on_outcome, clock)
        self.liveness = liveness or LivenessStage(StageSettings(mode="off"), None)
        self.liveness_stats = LivenessStats()
        self.ir_camera = ir_camera
        self._ir_state = "starting"
        self.gate = gate
        self.door = door
        self.recogniser = recogniser
        self.vault = vault
        self.settings = settings
        self.refresh_s = settings.index_refresh_s
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
        # Two QR readers: OpenCV's default one misses about 1 in 100 pass codes (a clean
        # PNG of the code, measured on 300 random tokens) that its ArUco-based one reads.
        self._qr_readers = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
        self._qr_quiet: dict[str, datetime] = {}
        self._unknown_frames = 0
        self._unknown_quiet_until: datetime | None = None
        self._pin_failures: dict[int, list[float]] = {}
        self.refresh_index()

    # -- templates ----------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_index()

    def refresh_index(self) -> bool:
        """Rebuild the 1:N index when templates or residents changed; True if rebuilt.

        The check is two aggregate queries on indexed columns (well under a millisecond at
        50,000 templates), so it can run every few seconds; only a change pays for
        decrypting every template. Removing one resident and enrolling another changes the
        id sums, so equal counts cannot hide a swap.
        """
        vault = self.vault
        if self.recogniser is None or vault is None:
            return False  # a door without faces (or without the key) has no index to keep
        model, now = self.recogniser.model_sha256, self.clock()
        with self.lock:
            watch_reloaded = self.facts(lambda db: self.watch.refresh(db, vault, model, now))
            signature = self.facts(index_signature)
            if signature == self._index_signature:
                return watch_reloaded
            index = self.facts(lambda db: load_face_index(db, vault, model))
        self.index = index  # one reference swap: a search never sees a half-built index
        self._index_signature = signature
        log.info("gate %s: face index has %d template(s)", self.gate.id, len(index))
        return True

    # -- frames: read → decide → act -------------------------------------------------------------
    def on_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """A QR pass and a face in one frame, each decided and acted on."""
        if self.recogniser is None:  # a door without faces: QR passes only
            return self._look_for_qr(image, at)
        try:
            probe = self.timed(self.recogniser.probe, image)
        except ImageInputError as exc:
            return self.refused(exc)
        outcomes = self._look_for_qr(image, at)
        result = None
        observation = None
        paused = self.liveness.face_paused(at)  # repeated spoof attempts: faces wait
        if probe is not None and not paused:
            s = self.settings
            result = self.index.search(probe.vector, s.match_threshold, s.margin)
            if result.identity is not None and self.liveness.active:
                observation = self._observe(image, probe, at)
        elif probe is None:
            self.liveness.empty_frame(image, at)
        self.watch.observe(probe.vector if probe is not None else None, image, at)
        outcomes += self._face(result, image, at, observation, _face_box(probe, image))
        outcomes += self._unattached_watch_hit(result, at)
        return outcomes

    def _observe(self, image: np.ndarray, probe: Probe, at: datetime) -> Observation | None:
        started = time.perf_counter()
        observation = self.liveness.observe(image, probe.face, at)
        self.liveness_stats.note_observe((time.perf_counter() - started) * 1000)
        return observation

    def _face(
        self,
        result: SearchResult | None,
        image: np.ndarray,
        at: datetime,
        observation: Observation | None = None,
        where: dict[str, Any] | None = None,
    ) -> list[GateOutcome]:
        """A face agreed over enough frames, and judged live, passes (or not); one that is
        not judged live is a suspected spoof; a stranger seen as long is recorded once per
        quiet time (always when the watch list knows them)."""
        decided = self.agreement.add(result, at, observation)
        if decided is not None:
            self._unknown_frames = 0
            details: dict[str, Any] = {
                "score": round(decided.score, 4),
                "margin": round(decided.margin, 4),
                **(where or {}),
            }
            if self.liveness.active:
                verdict = self._judge(decided)
                if verdict is None or not verdict.live:
                    return self._spoof(decided, verdict, image, details, at)
                details.update(verdict.event_details())
            sighting = Sighting("face", decided.identity, score=decided.score)
            outcome = self._decide(
                sighting, "face_passage", image, details, watch=self.watch.take()
            )
            if outcome.event_id:  # not when spooled: an alert cannot point at it yet
                self._recent_passage[decided.identity] = (outcome.event_id, at)
            return [outcome]
        if result is None:  # no face in the frame
            self._unknown_frames = 0
            return []
        if result.identity is not None:
            return []
        self._unknown_frames += 1
        quiet = self._unknown_quiet_until and at < self._unknown_quiet_until
        due = self._unknown_frames >= self.settings.frames_to_agree and not quiet
        if not due and self.watch.pending is None:  # a watched stranger is always recorded
            return []
        self._unknown_frames = 0
        self._unknown_quiet_until = at + timedelta(seconds=self.settings.dedupe_s)
        details = {"best_score": round(result.score, 4), "why": result.reason, **(where or {})}
        sighting = Sighting("face", None, score=result.score)
        return [self._decide(sighting, "face_unknown", image, details, watch=self.watch.take())]

    def _judge(self, decided: FaceDecisionInput) -> LivenessVerdict | None:
        started = time.perf_counter()
        verdict = self.liveness.judge(decided.payloads)
        live = verdict is not None and verdict.live
        self.liveness_stats.note_judge((time.perf_counter() - started) * 1000, live)
        return verdict

    def _spoof(
        self,
        decided: FaceDecisionInput,
        verdict: LivenessVerdict | None,
        image: np.ndarray,
        details: dict[str, Any],
        at: datetime,
    ) -> list[GateOutcome]:
        """A face that identified a resident but was not judged live: never opens. Recorded
        as ``face_spoof_suspected`` (with a watch alert it carries); repeated attempts add a
        ``face_spoof_repeated`` alert and pause the face path; at ``required_or_pin`` the
        door now waits for that resident's PIN."""
        watch = self.watch.take()
        pin_s = self.liveness.settings.pin_s
        asks_pin = self.liveness.settings.mode == "required_or_pin"
        judged = (
            {"score": round(verdict.score, 2), "threshold": round(verdict.threshold, 2)}
            if verdict is not None
            else {}
        )
        reasons: tuple[dict[str, Any], ...] = (
            {"code": "liveness_failed", "message": _cue_summary(verdict), "params": judged},
        )
        if asks_pin:
            reasons += (
                {
                    "code": "liveness_pin_requested",
                    "message": f"the resident's PIN is asked for on the keypad ({pin_s:g} s)",
                    "params": {"seconds": pin_s},
                },
            )
        details = {**details, **(verdict.event_details() if verdict is not None else {})}
        outcomes = []
        with self.lock:
            now = self.clock()
            resident = self._person(decided.identity, now)
            event = NewEvent(
                self.gate.id,
                "face_spoof_suspected",
                now,
                "deny",
                subject=resident.label if resident is not None else None,
                confidence=decided.score,
                reasons=reasons,
                details=details,
            )
            alerts = [alert_event(watch, self.gate.id, now)] if watch is not None else []
            written = self.record(event, image, linked=alerts)
            outcomes.append(GateOutcome.of(event, written))
            refusal = self.liveness.refused(decided.identity, written.id or "", now)
            if refusal.repeated:
                until = refusal.paused_until
                message = f"{refusal.attempts} faces refused as spoofs at this door within " + (
                    f"{self.liveness.settings.repeat_window_s:g} s"
                )
                if until is not None:
                    message += f"; faces not judged for {(until - now).total_seconds():.0f} s"
                repeated = NewEvent(
                    self.gate.id,
                    "face_spoof_repeated",
                    now,
                    "none",
                    subject=event.subject,
                    reasons=(
                        {
                            "code": "liveness_repeated",
                            "message": message,
                            "params": {
                                "attempts": refusal.attempts,
                                "window_s": self.liveness.settings.repeat_window_s,
                                "paused_s": (until - now).total_seconds() if until else None,
                            },
                        },
                    ),
                    details={
                        "attempts": refusal.attempts,
                        "paused_until": until.isoformat() if until is not None else None,
                    },
                    related_event_id=written.id,
                )
                outcomes.append(GateOutcome.of(repeated, self.record(repeated)))
            if written.id:
                self._recent_passage[decided.identity] = (written.id, at)
        for outcome in outcomes:
            self.publish(outcome)
        return outcomes

    def _unattached_watch_hit(self, result: SearchResult | None, at: datetime) -> list[GateOutcome]:
        """A watch hit no sighting of this frame took: relate it to the person's passage of
        moments ago (they are in the frame agreement's quiet time), or, once the agreement
        window has passed without a sighting, record it on its own with its snapshot."""
        hit = None
        related = None
        identity = result.identity if result is not None else None
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
        with self.lock:
            alert = alert_event(hit, self.gate.id, self.clock(), related)
            outcome = GateOutcome.of(alert, self.record(alert, hit.image))
        self.publish(outcome)
        return [outcome]

    def _look_for_qr(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        text = ""
        for reader in self._qr_readers:
            try:
                text, _, _ = reader.detectAndDecode(image)
            except cv2.error:
                continue
            if text:
                break
        if not text or not looks_like_pass(text):
            return []
        key = token_hash(text.strip())
        self._qr_quiet = {k: v for k, v in self._qr_quiet.items() if v > at}
        if key in self._qr_quiet:
            # Still held up (a slow frame, a visitor who keeps the phone raised): the same
            # showing for as long as it stays in view, not a second use once dedupe_s is over.
            self._qr_quiet[key] = at + timedelta(seconds=self.settings.dedupe_s)
            return []
        self._qr_quiet[key] = at + timedelta(seconds=self.settings.dedupe_s)
        fact = self.facts(lambda db: pass_fact(db, text))
        sighting = Sighting("qr_pass", pass_id=fact.id if fact else None)
        return [self._decide(sighting, "qr_pass", image, {}, qr=fact)]

    # -- other inputs (their own threads) -----------------------------------------------------
    def keypad_entry(self, line: str) -> GateOutcome | None:
        """A keypad line ``<resident number>*<PIN>`` (on the keypad's thread), or a bare
        ``<PIN>`` while the door waits for the PIN of a face it doubted; malformed lines are
        ignored."""
        text = line.strip()
        if text.isascii() and text.isdigit() and len(text) <= 12:
            with self.connections.held(), self.lock:
                request = self.liveness.take_pin(self.clock())
                if request is None:
                    return None  # no doubted face is waiting: a bare number means nothing
                return self._check_keypad_pin(
                    request.resident_id, text, after_spoof=request.event_id or None
                )
        number, sep, pin = text.partition("*")
        if (
            not sep
            or not (number + pin).isascii()
            or not number.isdigit()
            or not pin.isdigit()
            or len(number) > 9
        ):
            return None
        rid = int(number)
        with self.connections.held(), self.lock:  # the lock guards the PIN failure counts
            return self._check_keypad_pin(rid, pin)

    def _check_keypad_pin(self, rid: int, pin: str, after_spoof: str | None = None) -> GateOutcome:
        now_s = time.monotonic()
        recent = [t for t in self._pin_failures.get(rid, []) if now_s - t < self.settings.lockout_s]
        locked_out = len(recent) >= self.settings.max_pin_failures
        ok = not locked_out and self.facts(lambda db: check_pin(db, rid, pin))
        if not ok and not locked_out:
            recent.append(now_s)
        self._pin_failures[rid] = recent
        sighting = Sighting("pin", rid if ok else None)
        details: dict[str, Any] = {"resident_number": rid, "locked_out": locked_out}
        if after_spoof is not None:
            details["after_spoof"] = after_spoof  # the doubted face this PIN answered
        return self._decide(sighting, "pin_passage", None, details, related=after_spoof)

    def door_event(self, kind: str, details: dict[str, Any]) -> None:
        """Handler for gate_drivers.door.Door(on_event=...): every alarm becomes an event."""
        message = DOOR_MESSAGES.get(kind, kind)
        event = NewEvent(
            self.gate.id,
            cast(EventKind, kind),  # the door's kinds are event kinds (edge.events.record)
            self.clock(),
            "open" if kind in ("exit_button", "fire_alarm") else "none",
            reasons=({"code": kind, "message": message},),
            details=details,
        )
        with self.connections.held():  # on a door input's thread: for this event only
            written = self.record(event)
        self.publish(GateOutcome.of(event, written))

    # -- decide and act -----------------------------------------------------------------------
    def _decide(
        self,
        sighting: Sighting,
        kind: EventKind,
        frame: np.ndarray | None,
        details: dict[str, Any],
        qr: PassFact | None = None,
        watch: WatchHit | None = None,
        related: str | None = None,
    ) -> GateOutcome:
        """Policy on the person's facts, a pass use spent when it opens, the event (with its
        watch alert) recorded, then the lock released."""
        with self.lock:
            now = self.clock()
            s = self.settings
            details = dict(details)
            resident = self._person(sighting.resident_id, now)
            facts = Facts(resident, qr, s.schedules, s.holidays, s.zone, s.same_visit_s)
            decision = decide_person(sighting, self.gate, now, facts)
            action = decision.action
            reasons = tuple(r.as_dict() for r in decision.reasons)
            uncounted = False
            if action == "open" and qr is not None:
                spent, uncounted = spend_use(lambda: self.uses.spend(self.db, "qr", qr.id, now))
                if spent is not None and spent.spent:
                    details.update(spent.details("qr", qr.id))
                elif not uncounted:
                    action = "deny"
                    refusal = spent.refusal if spent is not None else None
                    used_up = {
                        "code": "pass_used_up",
                        "message": "QR pass has no use left",
                        "params": {},
                    }
                    reasons = (refusal or used_up,)
            visit = resident.visit if resident is not None else None
            if resident is not None and visit is not None and visit.max_uses is not None:
                details["visitor_id"] = resident.id
            if action == "open" and decision.spend_use and resident is not None:
                person_id = resident.id
                use, uncounted = spend_use(
                    lambda: self.uses.spend(self.db, "visitor", person_id, now)
                )
                if (use is None or not use.spent) and not uncounted:
                    action = "deny"
                    used_up = {
                        "code": "visitor_used_up",
                        "message": "visitor pass used up (its last use was just spent)",
                        "params": {"kind": "visitor", "object": "pass"},
                    }
                    reasons = ((use.refusal if use is not None else None) or used_up,)
                elif use is not None:
                    details["pass_use"] = use.number
                    details.update(use.details("visitor", person_id))
            if uncounted:
                reasons += (UNCOUNTED_USE,)
            event = NewEvent(
                self.gate.id,
                kind,
                now,
                action,
                subject=decision.subject,
                confidence=sighting.score,
                reasons=reasons,
                details=details,
                related_event_id=related,
            )
            alerts = [alert_event(watch, self.gate.id, now)] if watch is not None else []
            written = self.record(event, frame, linked=alerts)
            if action == "open":
                self.door.grant(sighting.credential)
            outcome = GateOutcome.of(event, written)
        self.publish(outcome)
        return outcome

    def _person(self, resident_id: int | None, now: datetime) -> ResidentFact | None:
        """The resident fact, with a visitor's pass terms when it is a visitor."""
        if not resident_id:
            return None
        since = now - timedelta(seconds=self.settings.same_visit_s)
        return self.facts(lambda db: person_fact(db, resident_id, self.gate.id, since))

    # -- the runner's hooks -------------------------------------------------------------------
    def watch_camera(self) -> None:
        """The colour camera as on every gate, and the IR camera beside it: its loss (and
        return) is a ``camera_fault`` (``camera_recovered``) alert naming the infrared camera,
        and while it is down the door takes no faces (LivenessStage.ir_camera_state)."""
        super().watch_camera()
        self.watch_ir_camera()

    def watch_ir_camera(self) -> None:
        if self.ir_camera is None:
            return
        health = self.ir_camera.health()
        state = getattr(health, "state", "unknown")
        previous, self._ir_state = self._ir_state, state
        self.liveness.ir_camera_state(state)
        event = camera_change_event(self.gate.id, previous, health, self.clock(), "infrared")
        if event is None:
            return
        self.record(event)
        log.warning("gate %s: infrared camera %s → %s", self.gate.id, previous, state)

    def capture(self, seconds: float) -> dict[str, Any]:
        """Enrolment by capture from this door's camera: up to ``seconds`` of frames, the
        largest face in each judged by the door's own liveness check (its cues, its IR camera
        and its threshold) on up to ``CAPTURE_FRAMES`` frames. The reply gives the verdict and,
        only when the capture was judged live, the frame with the largest face as a JPEG
        (base64): a photo held up to the camera must not become a template. Runs on the
        control server's thread, beside the gate loop (the nets have their own locks)."""
        stage, recogniser = self.liveness, self.recogniser
        if self.camera is None:
            raise UserError("this gate has no camera", code="no_camera")
        if recogniser is None:
            raise UserError("faces are off at this door", code="faces_off")
        if stage.checker is None:
            if stage.unavailable:
                raise UserError(
                    "a capture cannot be judged for liveness here: %(why)s",
                    {"why": stage.unavailable},
                    code="no_liveness",
                )
            raise UserError(
                "a capture cannot be judged for liveness here: liveness is off at this door",
                code="no_liveness",
            )
        if stage.ir_fault is not None:
            raise UserError(
                "the infrared camera is %(state)s: no capture is judged",
                {"state": stage.ir_fault},
                code="ir_fault",
            )
        deadline = time.monotonic() + seconds
        seq = -1
        observations: list[Observation] = []
        while len(observations) < CAPTURE_FRAMES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            frame = self.camera.wait_for_frame(seq, timeout_s=min(left, 1.0))
            if frame is None:
                continue
            seq = frame.seq
            faces = recogniser.detector.detect(frame.image)
            faces = [f for f in faces if f.width >= recogniser.min_gate_face_px]
            if not faces:
                continue
            ir = stage.ir_frames(frame.captured_at) if stage.ir_frames is not None else None
            observations.append(stage.checker.observe(frame.image, faces[0], ir))
        if len(observations) < 2:
            return {"live": False, "why": "no_face", "frames": len(observations)}
        verdict = stage.checker.judge(observations)
        reply: dict[str, Any] = {
            "live": verdict.live,
            "why": "live" if verdict.live else "not_live",
            "score": round(verdict.score, 4),
            "threshold": verdict.threshold,
            "frames": verdict.frames,
            "parts": verdict.details()["parts"],
        }
        if verdict.live:
            best = _enrolable(recogniser, observations)
            ok, data = cv2.imencode(".jpg", best.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise ValueError("the captured frame could not be encoded")
            reply["photo_jpeg_b64"] = base64.b64encode(data.tobytes()).decode("ascii")
        return reply

    def release(self, source: str) -> None:
        self.door.grant(source)

    def kind_health(self) -> dict[str, Any]:
        return {
            "templates": len(self.index),
            "watch_faces": len(self.watch.index),
            "lock": dataclasses.asdict(self.door.lock.state()),
            "door_open": self.door.is_open,
            "fire_alarm": self.door.fire_active,
            "liveness": self.liveness_health(),
        }

    def liveness_health(self) -> dict[str, Any]:
        """The liveness stage for the health page: policy, time, refusals, pause."""
        stage, stats = self.liveness, self.liveness_stats
        paused = stage.attempts.paused_until()
        now = self.clock()

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "mode": stage.settings.mode,
            "unavailable": stage.unavailable,  # why faces are off at this door, if they are
            "ir_fault": stage.ir_fault,  # the IR camera's state while it is down (faces off)
            "threshold": stage.threshold,
            "infrared": stage.checker is not None and stage.checker.ir is not None,
            "observe_ms_avg": ms(stats.observe_ms_avg),
            "observe_ms_last": ms(stats.observe_ms_last),
            "judge_ms_avg": ms(stats.judge_ms_avg),
            "judged": stats.judged,
            "refused": stats.refused,
            "faces_paused_until": paused.isoformat() if paused and paused > now else None,
            "pin_waiting": stage.pin_window.waiting(now) is not None,
            "ir_camera": None if self.ir_camera is None else _asdict(self.ir_camera.health()),
        }


def _enrolable(recogniser: FaceRecogniser, observations: list[Observation]) -> Observation:
    """The captured frame to enrol: the largest face that passes the enrolment checks
    (frontal, sharp, large), else the largest (enrolment then says what is wrong with it)."""
    ranked = sorted(observations, key=lambda o: -o.face.width)
    for observation in ranked:
        try:
            recogniser.enrolment_template(observation.image)
        except EnrolmentRefused:
            continue
        return observation
    return ranked[0]


def index_signature(db: sqlite_utils.Database) -> tuple:
    """Changes whenever templates or the residents they belong to change (see
    ``refresh_index``)."""
    return tuple(
        db.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(id), 0),"
            " (SELECT COUNT(*) || ':' || COALESCE(SUM(id), 0) FROM residents"
            "  WHERE active = 1 AND face_consent_at IS NOT NULL)"
            " FROM face_templates"
        ).fetchone()
    )


def person_fact(
    db: sqlite_utils.Database, resident_id: int, gate_id: str, since: datetime
) -> ResidentFact | None:
    """The resident fact, with a visitor's pass terms (last use at ``gate_id`` after
    ``since``) when it is a visitor."""
    fact = resident_fact(db, resident_id)
    if fact is None:
        return None
    terms = visit_terms(db, resident_id, gate_id, since)
    if terms is None:
        return fact
    label, visit = terms
    return replace(fact, label=label, visit=visit)


def _face_box(probe: Probe | None, image: np.ndarray) -> dict[str, Any]:
    """Where the face is in the frame (``face_box`` [x1, y1, x2, y2], ``frame_w``), for
    the console's face thumbnail; empty when no face was found."""
    if probe is None:
        return {}
    x, y, w, h = probe.face.box
    return {"face_box": [x, y, x + w, y + h], "frame_w": int(image.shape[1])}
