"""Builds a running gate (vehicle or pedestrian) from the validated config: the one place
config meets hardware.

Keeping construction here keeps the gate loop free of config parsing and the drivers free
of policy; tests build the same pieces by hand around MockFactory pins.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from edge.config import GateConfig, MenweiConfig
from edge.config.pedestrian import DoorInputConfig
from edge.events.spool import EventSpool, MiB
from edge.faces.configured import face_recogniser
from edge.faces.liveness.checker import LivenessChecker
from edge.faces.liveness.infrared import IrGeometry
from edge.faces.liveness.stage import LivenessStage, StageSettings, ir_frame_near
from edge.faces.models import FaceModelError
from edge.faces.recogniser import FaceRecogniser
from edge.gates.control import GateControlServer, socket_path
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.runner import GateOutcome, GateRunner
from edge.gates.vehicle import VehicleGateLoop
from edge.people.memory_copy import PeopleCopy
from edge.people.uses import LocalUses, UseCounter
from edge.pii import PiiKeyError, PiiVault
from edge.plates.reader import PlateReader, PlateReaderSettings
from edge.plates.voting import PlateVoter
from edge.policy import person, vehicle
from edge.policy.person import Schedule
from edge.policy.vehicle import PolicySettings
from edge.store.open import open_gate_store, pii_vault, snapshot_store
from gate_drivers.barrier import Barrier
from gate_drivers.camera import Camera
from gate_drivers.door import Door, DoorLock
from gate_drivers.inputs import DebouncedInput, VehicleLoop
from gate_drivers.keypad import LineKeypad
from gate_drivers.pins import make_pin_factory
from sync.community.uses import HubUses
from sync.secret import read_secret

log = logging.getLogger(__name__)


def plate_reader(config: MenweiConfig, gate: GateConfig) -> PlateReader:
    plates = config.recognition.plates
    return PlateReader(
        PlateReaderSettings(
            roi=gate.roi,
            detector_model=plates.detector_model,
            recogniser_model=plates.recogniser_model,
            detector_input_long_side=plates.detector_input_long_side,
            detector_min_score=plates.detector_min_score,
            min_confidence=plates.min_confidence,
            threads=plates.threads,
            corroborate=plates.corroborate,
            sure_confidence=plates.sure_confidence,
            fallback=plates.fallback,
        )
    )


def plate_voter(config: MenweiConfig) -> PlateVoter:
    plates = config.recognition.plates
    return PlateVoter(
        plates.min_votes, plates.vote_window_s, plates.dedupe_window_s, plates.agree_share
    )


def _camera(gate: GateConfig) -> Camera:
    """The gate's camera (not started). Built before any relay is claimed, so a malformed
    source fails while nothing has been touched."""
    return Camera(
        gate.camera.source,
        read_timeout_s=gate.camera.read_timeout_s,
        backoff_max_s=gate.camera.backoff_max_s,
        replay_fps=gate.camera.replay_fps,
        replay_every_frame=gate.camera.replay_every_frame,
    )


def _ir_camera(gate: GateConfig) -> Camera | None:
    """The door's near-infrared camera (not started), if it has one."""
    ir = gate.camera_ir
    if ir is None:
        return None
    return Camera(
        ir.source,
        read_timeout_s=ir.read_timeout_s,
        backoff_max_s=ir.backoff_max_s,
        replay_fps=ir.replay_fps,
    )


@dataclass
class RunningGate:
    loop: VehicleGateLoop
    camera: Camera
    barrier: Barrier
    presence: VehicleLoop | None
    thread: threading.Thread


def use_counter(config: MenweiConfig) -> UseCounter:
    """Where this box counts pass uses: here, or at the hub when it is a gate box."""
    community = config.community
    if community.role != "gate":
        return LocalUses()
    assert community.hub_url is not None and community.box_id is not None  # validated
    return HubUses(
        community.hub_url,
        community.box_id,
        read_secret(community.key_file),
        community.counted_offline,
        community.spend_timeout_s,
        community.ca_file,
    )


@contextlib.contextmanager
def _running_loop(
    config: MenweiConfig,
    gate_id: str,
    loop: GateRunner,
    camera: Camera,
    stop: threading.Event,
    on_idle: Callable[[], None] | None,
    store_state: str | None = None,
    vault: PiiVault | None = None,
) -> Iterator[threading.Thread]:
    """The part both gate kinds share: spool, control socket, camera and loop thread.

    The spool file is taken in first: events a stop during a storage fault left there are
    written by the loop's first retry, before its first decision is stored. Then the
    gate's last good copy of the people data is loaded (edge.people.memory_copy: from the
    store, or from its file beside the spool, sealed with ``vault``, when the store cannot
    be read).

    On exit (normal or not) the loop is told to stop and the socket closed first, so no
    web command reaches a loop that is going away; the caller then puts its relays at rest.
    Any stop leaves ``stop`` set, so a caller's other threads see the gate is gone.
    """
    control = None
    thread = None
    loop.store_state = store_state
    storage = config.storage
    spool = EventSpool(storage.spool_path / f"{gate_id}.spool", storage.spool_reserve_mb * MiB)
    loop.writer.use_spool(spool)
    loop.start_people(
        PeopleCopy(storage.spool_path / f"{gate_id}.people", vault),
        str(storage.database_path),
    )
    try:
        loop.uses = use_counter(config)
        try:
            control = GateControlServer(socket_path(storage.run_dir, gate_id), loop.handle)
        except OSError as exc:  # a read-only or full data disk: the gate still runs
            log.error(
                "gate %s: no control socket in %s (%s): manual open and status from the"
                " console are unavailable until restart",
                gate_id,
                storage.run_dir,
                exc,
            )
        camera.start()
        thread = threading.Thread(
            target=loop.run, args=(stop, on_idle), name=f"gate-{gate_id}", daemon=True
        )
        thread.start()
        yield thread
    finally:
        stop.set()
        if control is not None:
            control.close()
        camera.stop()
        if thread is not None:
            thread.join(timeout=5)
        spool.close()


def _vault_if_any(config: MenweiConfig) -> PiiVault | None:
    """The PII vault a vehicle gate seals its copy file with; None (no file, said once)
    on a box without the key: plates and households are personal data."""
    try:
        return pii_vault(config)
    except PiiKeyError as exc:
        log.warning("no last good copy file of the people data without the PII key: %s", exc)
        return None


def _door_vault(config: MenweiConfig, gate_id: str) -> tuple[PiiVault | None, str | None]:
    """The vault a door reads face templates with, or None and what is wrong with the key:
    PIN hashes and QR passes are not sealed with it, so the door still opens by them (faces
    off, strangers refused as ever) rather than not running at all."""
    try:
        return pii_vault(config), None
    except PiiKeyError as exc:
        log.error(
            "gate %s: the PII key is unusable, faces are off: the door opens by PIN and QR"
            " pass only; restore the key file from its backup (mode 600), then restart the"
            " gate: %s",
            gate_id,
            exc,
        )
        return None, f"PII key unusable (faces off): {exc.render()}"


@contextlib.contextmanager
def vehicle_gate(
    config: MenweiConfig,
    gate_id: str,
    stop: threading.Event,
    db: sqlite_utils.Database | None = None,
    pin_factory: object | None = None,
    reader: PlateReader | None = None,
    on_outcome: Callable[[GateOutcome], None] | None = None,
    on_idle: Callable[[], None] | None = None,
) -> Iterator[RunningGate]:
    """Start one vehicle gate in a thread; on exit stop it and put relays in their safe state."""
    gate = config.gate(gate_id)
    if gate.kind != "vehicle":
        raise ValueError(f"gate {gate_id!r} is a {gate.kind} gate; use pedestrian_gate()")
    assert gate.barrier is not None  # guaranteed by GateConfig validation
    db, store_state = (db, None) if db else open_gate_store(config)
    factory = pin_factory or make_pin_factory(config.hardware.pin_factory)
    camera = _camera(gate)  # built first: a malformed source fails before any relay is claimed
    barrier = Barrier(
        gate.barrier.open_pin,
        gate.barrier.close_pin,
        pulse_s=gate.barrier.pulse_s,
        active_high=gate.barrier.active_high,
        pin_factory=factory,
    )
    presence = None
    try:
        if gate.loop:
            presence = VehicleLoop(
                gate.loop.pin,
                pin_factory=factory,
                active_low=gate.loop.active_low,
                debounce_s=gate.loop.debounce_s,
            )
        loop = VehicleGateLoop(
            vehicle.GateFacts(gate.id, gate.kind),
            camera,
            barrier,
            reader or plate_reader(config, gate),
            plate_voter(config),
            db,
            snapshot_store(config),
            PolicySettings(config.policy.unknown_vehicle),
            presence=presence,
            require_presence=bool(gate.loop and gate.loop.require_presence),
            unread_after_s=config.recognition.plates.vote_window_s,
            unread_dedupe_s=config.recognition.plates.dedupe_window_s,
            on_outcome=on_outcome,
            waiting_after_s=gate.loop.waiting_after_s if gate.loop else 8.0,
            fallback_every_s=gate.loop.fallback_every_s if gate.loop else 1.0,
        )
        vault = _vault_if_any(config)
        with _running_loop(
            config, gate.id, loop, camera, stop, on_idle, store_state, vault
        ) as thread:
            yield RunningGate(loop, camera, barrier, presence, thread)
    finally:
        if presence is not None:
            presence.close()
        barrier.close()
        log.info("gate %s stopped; relays in safe state", gate_id)


# -- pedestrian gates ---------------------------------------------------------------------------
def pedestrian_settings(config: MenweiConfig, gate: GateConfig) -> PedestrianSettings:
    faces = config.recognition.faces
    schedules = tuple(
        (name, Schedule(s.days, s.start, s.end, s.holidays))
        for name, s in config.access.schedules.items()
    )
    return PedestrianSettings(
        match_threshold=faces.match_threshold,
        margin=faces.margin,
        frames_to_agree=faces.frames_to_agree,
        agree_window_s=faces.agree_window_s,
        dedupe_s=faces.dedupe_s,
        max_pin_failures=gate.keypad.max_pin_failures if gate.keypad else 5,
        lockout_s=gate.keypad.lockout_s if gate.keypad else 300.0,
        schedules=schedules,
        holidays=frozenset(config.access.holidays),
        zone=config.site.timezone,
    )


def liveness_stage(
    config: MenweiConfig,
    gate: GateConfig,
    recogniser: FaceRecogniser,
    ir_camera: Camera | None,
    checker: LivenessChecker | None = None,
) -> LivenessStage:
    """The door's liveness stage from ``[recognition.liveness]`` and its ``[gates.liveness]``
    and ``[gates.camera_ir]``. The models are opened (and SHA-256 checked) here: a missing or
    altered file is logged with the file named and the door takes no faces (PIN and QR passes
    still open it, as on a door without faces); the health page says why."""
    site, door = config.recognition.liveness, gate.door_liveness
    settings = StageSettings(
        mode=door.mode,
        pin_s=door.pin_s,
        learn_every_s=site.learn_every_s,
        ir_max_skew_s=gate.camera_ir.max_skew_s if gate.camera_ir else 0.5,
        repeat_window_s=site.repeat_window_s,
        repeat_count=site.repeat_count,
        slow_s=site.slow_s,
        max_slow_s=site.max_slow_s,
    )
    if door.mode == "off":
        return LivenessStage(settings, None)
    ir = None
    if gate.camera_ir is not None:
        ir = IrGeometry(np.asarray(gate.camera_ir.colour_to_ir), gate.camera_ir.tolerance)
    if checker is None or (ir is not None and checker.ir is None):
        try:  # the colour camera's detector also finds faces in the IR frames (same thread)
            checker = LivenessChecker(site.threshold, ir, recogniser.detector if ir else None)
        except FaceModelError as exc:
            log.error(
                "gate %s: liveness model unusable, faces do not open this door until it is"
                " fixed (PIN and QR passes still do): %s",
                gate.id,
                exc,
            )
            return LivenessStage(settings, None, unavailable=str(exc))
    frames = ir_frame_near(ir_camera.latest, settings.ir_max_skew_s) if ir_camera else None
    return LivenessStage(settings, checker, frames)


def _door_input(
    spec: DoorInputConfig | None, factory: object, name: str, opened: list[DebouncedInput]
) -> DebouncedInput | None:
    if spec is None:
        return None
    device = DebouncedInput(
        spec.pin,
        factory,
        active_low=spec.active_low,
        debounce_s=spec.debounce_s,
        name=name,
        normally_closed=spec.normally_closed,
    )
    opened.append(device)
    return device


class _DoorEvents:
    """The Door's event handler, connected to the loop once the loop exists.

    The Door must exist before the loop (the loop grants through it), but it can report an
    event while being built — a fire alarm already active at start-up, or a cut fire wire —
    so events before that moment are kept and recorded as soon as the loop is there.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: PedestrianGateLoop | None = None
        self._early: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, details: dict[str, Any]) -> None:
        with self._lock:
            loop = self._loop
            if loop is None:
                self._early.append((kind, details))
                return
        loop.door_event(kind, details)

    def deliver_to(self, loop: PedestrianGateLoop) -> None:
        with self._lock:
            early, self._early = self._early, []
            self._loop = loop
        for kind, details in early:
            loop.door_event(kind, details)


@dataclass
class RunningPedestrianGate:
    loop: PedestrianGateLoop
    camera: Camera
    door: Door
    keypad: LineKeypad | None
    thread: threading.Thread
    ir_camera: Camera | None = None


@contextlib.contextmanager
def pedestrian_gate(
    config: MenweiConfig,
    gate_id: str,
    stop: threading.Event,
    db: sqlite_utils.Database | None = None,
    pin_factory: object | None = None,
    on_outcome: Callable[[GateOutcome], None] | None = None,
    on_idle: Callable[[], None] | None = None,
    recogniser: FaceRecogniser | None = None,
    liveness: LivenessChecker | None = None,
) -> Iterator[RunningPedestrianGate]:
    """Start one pedestrian gate in a thread; on exit stop it and de-energise the lock relay.

    The lock relay goes to rest when the gate stops, whatever the reason: a fail-safe lock
    (maglock) is then released, a fail-secure strike locked, exactly as on a power cut.
    ``liveness``: an already opened checker (tests and the demo share one; its threshold
    is then its own).
    """
    gate = config.gate(gate_id)
    if gate.kind != "pedestrian":
        raise ValueError(f"gate {gate_id!r} is a {gate.kind} gate; use vehicle_gate()")
    assert gate.lock is not None  # guaranteed by GateConfig validation
    vault, key_fault = _door_vault(config, gate_id)
    if gate.faces and vault is not None:
        recogniser = recogniser or face_recogniser(config.recognition.faces)
        ir_camera = _ir_camera(gate)
        stage = liveness_stage(config, gate, recogniser, ir_camera, liveness)  # models checked
    else:  # a PIN and QR pass door: no face models at all
        recogniser, ir_camera = None, None
        stage = LivenessStage(StageSettings(mode="off"), None)
    db, store_state = (db, None) if db else open_gate_store(config)
    factory = pin_factory or make_pin_factory(config.hardware.pin_factory)
    camera = _camera(gate)
    lock = DoorLock(
        gate.lock.relay_pin,
        gate.lock.fail_mode,
        gate.lock.release_s,
        active_high=gate.lock.active_high,
        pin_factory=factory,
    )
    inputs: list[DebouncedInput] = []
    door = None
    keypad = None
    try:
        spec = gate.door
        door_events = _DoorEvents()
        door = Door(
            lock,
            door_events,
            contact=_door_input(spec.contact if spec else None, factory, "door contact", inputs),
            exit_button=_door_input(
                spec.exit_button if spec else None, factory, "exit button", inputs
            ),
            fire_alarm=_door_input(
                spec.fire_alarm if spec else None, factory, "fire alarm", inputs
            ),
            held_open_s=spec.held_open_s if spec else 30.0,
        )
        loop = PedestrianGateLoop(
            person.GateFacts(gate.id, gate.kind, tuple(gate.access.items())),
            door,
            recogniser,
            db,
            vault,
            snapshot_store(config),
            pedestrian_settings(config, gate),
            on_outcome=on_outcome,
            camera=camera,
            liveness=stage,
            ir_camera=ir_camera,
        )
        loop.key_fault = key_fault
        door_events.deliver_to(loop)
        if gate.keypad is not None:
            keypad = LineKeypad(gate.keypad.source, loop.keypad_entry, name=f"keypad-{gate.id}")
        if ir_camera is not None:
            ir_camera.start()
        with _running_loop(
            config, gate.id, loop, camera, stop, on_idle, store_state, vault
        ) as thread:
            yield RunningPedestrianGate(loop, camera, door, keypad, thread, ir_camera)
    finally:
        if ir_camera is not None:
            ir_camera.stop()
        if keypad is not None:
            keypad.close()
        if door is not None:
            door.close()  # closes the inputs and puts the lock relay at rest
        else:
            for device in inputs:
                device.close()
            lock.close()
        log.info("gate %s stopped; lock relay at rest", gate_id)
