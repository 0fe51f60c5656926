"""Builds a running gate from the validated config: the one place config meets hardware.

Keeping construction here keeps the gate loop free of config parsing and the drivers free
of policy; tests build the same pieces by hand around MockFactory pins.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.config import GateConfig, MenweiConfig
from edge.gate_control import GateControlServer, socket_path
from edge.gate_loop import GateOutcome, VehicleGateLoop
from edge.plates.reader import PlateReader, PlateReaderSettings
from edge.plates.voting import PlateVoter
from edge.policy import GateFacts, PolicySettings
from edge.store import open_store, snapshot_store
from gate_drivers.barrier import Barrier
from gate_drivers.camera import Camera
from gate_drivers.inputs import VehicleLoop
from gate_drivers.pins import make_pin_factory

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
        )
    )


def plate_voter(config: MenweiConfig) -> PlateVoter:
    plates = config.recognition.plates
    return PlateVoter(plates.min_votes, plates.vote_window_s, plates.dedupe_window_s)


def run_dir(config: MenweiConfig) -> Path:
    """Where gate processes put their control sockets (inside the writable data folder)."""
    return config.storage.data_dir / "run"


def _handle_command(loop: VehicleGateLoop, request: dict[str, Any]) -> dict[str, Any]:
    """Requests from the local control channel (already validated by gate_control)."""
    if request["cmd"] == "open":
        outcome = loop.manual_open(request["operator"], request["reason"])
        return {"event_id": outcome.event_id, "ms": round(outcome.decide_ms or 0.0, 1)}
    return {"health": loop.health()}


@dataclass
class RunningGate:
    loop: VehicleGateLoop
    camera: Camera
    barrier: Barrier
    presence: VehicleLoop | None
    thread: threading.Thread


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
        raise ValueError(f"gate {gate_id!r} is a {gate.kind} gate; only vehicle gates run so far")
    assert gate.barrier is not None  # guaranteed by GateConfig validation
    db = db or open_store(config)
    factory = pin_factory or make_pin_factory(config.hardware.pin_factory)
    barrier = Barrier(
        gate.barrier.open_pin,
        gate.barrier.close_pin,
        pulse_s=gate.barrier.pulse_s,
        active_high=gate.barrier.active_high,
        pin_factory=factory,
    )
    presence = None
    camera = None
    control = None
    try:
        if gate.loop:
            presence = VehicleLoop(
                gate.loop.pin,
                pin_factory=factory,
                active_low=gate.loop.active_low,
                debounce_s=gate.loop.debounce_s,
            )
        camera = Camera(
            gate.camera.source,
            read_timeout_s=gate.camera.read_timeout_s,
            backoff_max_s=gate.camera.backoff_max_s,
            replay_fps=gate.camera.replay_fps,
        )
        loop = VehicleGateLoop(
            GateFacts(gate.id, gate.kind),
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
        )
        control = GateControlServer(
            socket_path(run_dir(config), gate.id), partial(_handle_command, loop)
        )
        camera.start()
        thread = threading.Thread(
            target=loop.run, args=(stop, on_idle), name=f"gate-{gate.id}", daemon=True
        )
        thread.start()
        yield RunningGate(loop, camera, barrier, presence, thread)
    finally:
        stop.set()
        if control is not None:
            control.close()
        if camera is not None:
            camera.stop()
        if "thread" in locals():
            thread.join(timeout=5)
        if presence is not None:
            presence.close()
        barrier.close_device()
        log.info("gate %s stopped; relays in safe state", gate_id)
