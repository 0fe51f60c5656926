"""The half both gate kinds share: camera watch, event writer, lock, manual open, health, run.

A gate kind (vehicles in edge.gates.vehicle, people in edge.gates.pedestrian) subclasses
``GateRunner`` and keeps only what differs: ``on_frame`` reads one frame, decides and acts;
``tick`` decides what time passing decides without a frame; ``release`` opens its relay;
``kind_health`` adds its devices to the health report. Whatever a kind decides goes through
``record`` — the one place an event is written, or kept in memory on a storage fault
(edge.events.writer) — and is announced through ``publish``.

The rules both kinds keep: no error in recognition, storage or a bad frame escapes ``run``
(a dead loop locks residents out), and a relay opens only after its event was recorded
(the event is the proof the opening was decided).

Threads: the loop thread (``run``), the control server's request threads (``handle``:
manual open, health) and a kind's own input threads (keypad, door inputs) all call in. Each
talks to the database through its own connection (``db``, edge.db.ThreadConnections): the
loop thread's lasts as long as ``run``, another thread's only as long as its call
(``connections.held()``). ``lock`` lets one decision happen at a time, so a manual open
never lands in the middle of a passage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import numpy as np
import sqlite_utils

from edge.db import ThreadConnections, utc_now
from edge.errors import UserError
from edge.events.record import NewEvent, camera_change_event, manual_open_event, storage_event
from edge.events.writer import STORAGE_FAULTS, EventWriter, Written
from edge.people.memory_copy import PeopleCopy, PeopleCopyError
from edge.people.uses import LocalUses, UseCounter
from edge.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)
T = TypeVar("T")
CAMERA_CHECK_S = 1.0  # how often the loop looks at the camera's health
PEOPLE_REFRESH_S = 3.0  # how often the loop asks whether the people lists changed
FRAME_WAIT_S = 0.5  # longest wait for a frame before time is allowed to decide (tick)


class FrameLike(Protocol):
    @property
    def image(self) -> np.ndarray: ...
    @property
    def seq(self) -> int: ...
    @property
    def captured_at(self) -> datetime: ...


class CameraLike(Protocol):
    """gate_drivers.camera.Camera, or a replayed recording in tests."""

    def wait_for_frame(self, after_seq: int, timeout_s: float) -> FrameLike | None: ...
    def health(self) -> Any: ...  # a dataclass with ``state`` and ``last_error``


@dataclass(frozen=True)
class GateOutcome:
    """What happened for one passage or event, for printing, the console and health."""

    event_id: str  # "" while the event waits in memory for storage to recover
    occurred_at: datetime
    kind: str
    decision: str
    subject: str | None = None
    plate: str | None = None
    reasons: tuple[dict[str, Any], ...] = ()
    alert_event_id: str | None = None  # the watchlist alert recorded with it, if any
    decide_ms: float | None = None  # from the frame (or command) to the relay

    @classmethod
    def of(cls, event: NewEvent, written: Written, started: float | None = None) -> GateOutcome:
        """The outcome of ``event`` as recorded; ``started`` a perf_counter() reading."""
        return cls(
            event_id=written.id or "",
            occurred_at=event.occurred_at,
            kind=event.kind,
            decision=event.decision,
            subject=event.subject,
            plate=event.plate,
            reasons=event.reasons,
            alert_event_id=written.linked_ids[-1] if written.linked_ids else None,
            decide_ms=None if started is None else (time.perf_counter() - started) * 1000,
        )


@dataclass
class GateStats:
    frames: int = 0
    frame_errors: int = 0
    recogniser_ms_last: float | None = None
    recogniser_ms_avg: float | None = None
    last_outcome: GateOutcome | None = None
    camera_state: str = "starting"

    def note_recogniser(self, ms: float) -> None:
        self.recogniser_ms_last = ms
        avg = self.recogniser_ms_avg
        self.recogniser_ms_avg = ms if avg is None else 0.9 * avg + 0.1 * ms


class GateRunner:
    """One gate's loop and commands; subclassed by each gate kind (see the module doc)."""

    refresh_s: float | None = None  # how often ``refresh`` runs in ``run``; None: never

    def __init__(
        self,
        gate_id: str,
        camera: CameraLike | None,
        db: sqlite_utils.Database,
        snapshots: SnapshotStore | None,
        on_outcome: Callable[[GateOutcome], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``db``: the constructing thread's connection; other threads open their own to
        the same file. ``camera`` may be None when frames are fed to ``process_frame``."""
        self.gate_id = gate_id
        self.camera = camera
        self.clock = clock  # decision time; injected by tests to cross validity windows
        self.connections = ThreadConnections(db)
        self.writer = EventWriter(
            self.connections.get, snapshots, reconnect=self.connections.close, gate_id=gate_id
        )
        self.people = PeopleCopy()  # the last good facts; its file is given by the assembly
        self.read_fault: str | None = None  # the people data could not be read from the store
        self.read_faults = 0
        self.store_state: str | None = None  # set at start-up: 'read-only', 'damaged: …'
        self.key_fault: str | None = None  # set at start-up: the PII key file is unusable
        self._read_faults_said: set[str] = set()  # logged in the current read fault
        self.on_outcome = on_outcome
        self.stats = GateStats()
        self.lock = threading.RLock()  # one decision at a time, whichever thread asks
        self.uses: UseCounter = LocalUses()  # a gate box counts at the hub instead

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection: a connection belongs to one thread."""
        return self.connections.get()

    # -- what a kind provides -------------------------------------------------------------------
    def on_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """Read one frame, decide and act; returns what was decided."""
        raise NotImplementedError

    def release(self, source: str) -> None:
        """Open the gate's relay (barrier pulse, lock release); ``source`` says why."""
        raise NotImplementedError

    def kind_health(self) -> dict[str, Any]:
        """What the kind adds to the health report (its relay, inputs, templates)."""
        return {}

    def refresh(self) -> None:
        """Re-read what may change under a running gate (every ``refresh_s`` in ``run``)."""

    def confirmed_plate(self, event: NewEvent) -> NewEvent:
        """A guard's manual open carrying the plate they confirmed (``event.plate``): the
        kind returns the event to record (a vehicle gate adds the counted pass's use it
        spends). A gate that reads no plates refuses it (UserError "no_plates": the control
        channel answers with its code, nothing is recorded)."""
        raise UserError(
            "gate %(gate)s reads no plates: nothing to confirm",
            {"gate": self.gate_id},
            code="no_plates",
        )

    def opened_by_hand(self, event: NewEvent) -> None:
        """After a manual open's relay moved: what the kind forgets or closes (a vehicle
        gate no longer waits for the car on its loop)."""

    # -- frames and time ------------------------------------------------------------------------
    def process_frame(self, image: np.ndarray, at: datetime) -> list[GateOutcome]:
        """One camera frame captured at ``at``: the kind's decisions, then what time decided."""
        self.stats.frames += 1
        return self.on_frame(image, at) + self.tick(at)

    def tick(self, at: datetime) -> list[GateOutcome]:
        """Time passed (with or without a frame): write events kept through a storage fault
        when it is time to try again. Kinds add what time decides for them."""
        self.writer.retry()
        return []

    def timed(self, read: Callable[[np.ndarray], T], image: np.ndarray) -> T:
        """``read(image)`` (the kind's recogniser), its time kept in the stats."""
        started = time.perf_counter()
        result = read(image)
        self.stats.note_recogniser((time.perf_counter() - started) * 1000)
        return result

    def refused(self, exc: Exception) -> list[GateOutcome]:
        """A frame the recogniser refused (not an image it can use): counted and logged."""
        self.stats.frame_errors += 1
        log.warning("gate %s: frame refused by the recogniser: %s", self.gate_id, exc)
        return []

    # -- the facts a decision reads -------------------------------------------------------------
    def facts(self, read: Callable[[sqlite_utils.Database], T]) -> T:
        """``read`` (a fact function of edge.people) on the store; when the store cannot be
        read (any sqlite3.DatabaseError or OSError: a damaged page, an I/O error), on the
        last good copy in memory instead, with the fault reported (health, a
        ``storage_fault`` event). The policy decides the same either way."""
        try:
            return read(self.db)
        except STORAGE_FAULTS as exc:
            self.note_read_fault(exc)
            return self.people.read(read)

    def start_people(self, copy: PeopleCopy, store: str = "the database") -> None:
        """Take ``copy`` as the gate's last good facts and fill it: from the store, or, when
        the store cannot be read, from the copy's file (the last good copy this gate
        wrote), saying which file is damaged and what to run. Then the kind's ``refresh``
        (the door's face index) reads from wherever the facts now come from."""
        self.people = copy
        try:
            copy.refresh(self.db.conn, force=True)
        except STORAGE_FAULTS as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            try:
                state = copy.load_file()
                where = (
                    f"the last good copy {copy.file}, read from the store at "
                    f"{state.loaded_at.isoformat() if state.loaded_at else 'an unknown time'}"
                )
            except PeopleCopyError as why:
                where = f"no last good copy ({why}): only the lists in memory, none at start"
            log.error(
                "gate %s: the people data in %s cannot be read (%s); deciding from %s. Stop"
                " the services and run `menwei db check`, then `menwei db recover`"
                " (docs/deploy.md, storage failures)",
                self.gate_id,
                store,
                error,
                where,
            )
            self.note_read_fault(exc)
        else:
            log.info("gate %s: people data loaded (%s)", self.gate_id, copy.state.rows)
        self.refresh()

    def refresh_people(self) -> bool:
        """Reload the lists that changed into the copy (all of them while a read fault is
        reported: a whole reload is what shows the store readable again); True if reloaded.
        Never raises a storage fault: the copy then stays as it was."""
        faulted = self.read_fault is not None
        try:
            changed = self.people.refresh(self.db.conn, force=faulted)
        except STORAGE_FAULTS as exc:
            self.note_read_fault(exc)
            return False
        if faulted:
            log.warning("gate %s: people data readable again", self.gate_id)
            self.read_fault = None
            self.record(storage_event(self.gate_id, self.clock(), "read", recovered=True))
        return changed

    def note_read_fault(self, exc: BaseException) -> None:
        """A read the store refused: counted; logged, recorded and shown once per new fault."""
        self.read_faults += 1
        message = f"{exc.__class__.__name__}: {exc}"
        if message == self.read_fault:
            return
        first = self.read_fault is None
        self.read_fault = message
        if first:
            self._read_faults_said.clear()
        if message not in self._read_faults_said and len(self._read_faults_said) < 20:
            self._read_faults_said.add(message)  # once per fault: reads of tables take turns
            log.error(
                "gate %s: people data cannot be read from the store (%s): deciding from the"
                " last good copy (%s); stop the services, run `menwei db check`, then"
                " `menwei db recover`",
                self.gate_id,
                message,
                self.people.state.source or "none loaded",
            )
        with contextlib.suppress(*STORAGE_FAULTS):
            self.connections.close()  # the next read opens afresh (a remounted disk)
        if first:
            self.record(storage_event(self.gate_id, self.clock(), "read", error=message))

    # -- recording ------------------------------------------------------------------------------
    def record(
        self, event: NewEvent, snapshot: np.ndarray | None = None, linked: Sequence[NewEvent] = ()
    ) -> Written:
        """Store ``event`` (its snapshot, its linked events) through the calling thread's
        connection, or keep it in memory on a storage fault. Never raises a storage fault."""
        with self.lock:
            return self.writer.record(event, snapshot, linked)

    def publish(self, outcome: GateOutcome) -> None:
        """Announce ``outcome`` (console feed, printing); called outside ``lock``."""
        self.stats.last_outcome = outcome
        if self.on_outcome:
            try:
                self.on_outcome(outcome)
            except Exception:  # a printing/notification bug must not stop the gate
                log.exception("gate %s: outcome callback failed", self.gate_id)

    # -- commands from the console --------------------------------------------------------------
    def manual_open(
        self,
        operator: str,
        reason: str,
        plate: str | None = None,
        related_event_id: str | None = None,
    ) -> GateOutcome:
        """A guard opens the gate by hand: recorded with who and why, then the relay opens.

        ``plate``: the plate the guard confirmed for the event ``related_event_id`` (a near
        miss or an unread car the gate asked about), stored with the opening; the kind says
        what else the opening records (``confirmed_plate``)."""
        started = time.perf_counter()
        with self.lock:
            now = self.clock()
            event = manual_open_event(self.gate_id, now, operator, reason, plate, related_event_id)
            if plate:
                event = self.confirmed_plate(event)
            written = self.record(event)
            self.release("manual")
            self.opened_by_hand(event)
            outcome = GateOutcome.of(event, written, started)
        self.publish(outcome)
        return outcome

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """A request from the control channel (edge.gates.control, already validated), on
        the control server's thread for that request: its connection lasts the request."""
        if request["cmd"] == "open":
            with self.connections.held():
                outcome = self.manual_open(
                    request["operator"],
                    request["reason"],
                    request.get("plate"),
                    request.get("related_event_id"),
                )
            return {"event_id": outcome.event_id, "ms": round(outcome.decide_ms or 0.0, 1)}
        if request["cmd"] == "capture":
            return self.capture(request["seconds"])
        return {"health": self.health()}

    def capture(self, seconds: float) -> dict[str, Any]:
        """An enrolment capture from this gate's camera (a pedestrian gate's; see there)."""
        raise UserError(
            "only a pedestrian gate's camera captures faces for enrolment", code="not_pedestrian"
        )

    def health(self) -> dict[str, Any]:
        """What the console's health page shows for this gate; no personal data."""
        camera = self.camera.health() if self.camera is not None else None
        last = self.stats.last_outcome
        return {
            "gate": self.gate_id,
            "camera": dataclasses.asdict(camera)
            if dataclasses.is_dataclass(camera) and not isinstance(camera, type)
            else None,
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
            **self.kind_health(),
            **self.writer.health(),
            "storage_fault": "; ".join(
                filter(
                    None,
                    (self.writer.fault, self._read_state(), self._start_state(), self.key_fault),
                )
            )
            or None,
            "people_copy": self.people_health(),
        }

    def _read_state(self) -> str | None:
        if self.read_fault is None:
            return None
        return f"people data unreadable, deciding from the last good copy: {self.read_fault}"

    def people_health(self) -> dict[str, Any]:
        """Where the facts come from: the copy's source, age and size, and read faults."""
        state = self.people.state
        return {
            "source": state.source,
            "loaded_at": state.loaded_at.isoformat() if state.loaded_at else None,
            "rows": state.rows,
            "file": None if self.people.file is None else str(self.people.file),
            "file_error": self.people.file_error,
            "read_fault": self.read_fault,
            "read_faults": self.read_faults,
        }

    def _start_state(self) -> str | None:
        """What start-up found wrong with the store, until writes show it cleared (damage
        found by the check stays until a restart on a mended database)."""
        state = self.store_state
        if state and not state.startswith("damaged") and self.writer.stored:
            return None
        return state

    # -- the loop -------------------------------------------------------------------------------
    def watch_camera(self) -> None:
        """Record a camera going down or coming back, once per change."""
        assert self.camera is not None
        health = self.camera.health()
        state = getattr(health, "state", "unknown")
        previous, self.stats.camera_state = self.stats.camera_state, state
        event = camera_change_event(self.gate_id, previous, health, self.clock())
        if event is None:
            return
        self.record(event)
        log.warning("gate %s: camera %s → %s", self.gate_id, previous, state)

    def run(self, stop: threading.Event, on_idle: Callable[[], None] | None = None) -> None:
        """Process frames until ``stop`` is set; survives every per-frame error.

        Calls ``on_idle`` each iteration (the systemd watchdog's heartbeat)."""
        if self.camera is None:
            raise ValueError(f"gate {self.gate_id}: run() needs a camera")
        last_seq = -1
        next_camera_check = next_refresh = 0.0
        next_people = time.monotonic() + PEOPLE_REFRESH_S  # loaded by the assembly at start
        try:
            while not stop.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_camera_check:
                        next_camera_check = now + CAMERA_CHECK_S
                        self.watch_camera()
                    if now >= next_people:
                        next_people = now + PEOPLE_REFRESH_S
                        self.refresh_people()
                    if self.refresh_s is not None and now >= next_refresh:
                        next_refresh = now + self.refresh_s
                        self.refresh()
                    frame = self.camera.wait_for_frame(last_seq, timeout_s=FRAME_WAIT_S)
                    if frame is None:
                        self.tick(self.clock())
                    else:
                        last_seq = frame.seq
                        self.process_frame(frame.image, frame.captured_at)
                    if on_idle:
                        on_idle()
                except Exception:  # the loop must survive any one frame, event or bug
                    self.stats.frame_errors += 1
                    log.exception("gate %s: error in gate loop (continuing)", self.gate_id)
                    stop.wait(0.2)
        finally:
            self.connections.close()  # the loop thread's own connection ends with it
