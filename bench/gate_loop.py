"""Benchmark: one camera frame through a whole gate loop, against its recogniser alone.

Run: .venv/bin/python -P bench/gate_loop.py [--cars N] [--repeats N]
(``-P``: keep bench/ off the import path, where bench/sync.py would hide the sync package.)

What the gate adds around recognition (the runner's stats and tick, the voter, the policy's
facts, the event with its snapshot and outbox row, the relay) is timed per frame as the
difference between ``process_frame`` and the recogniser on the same frames in the same run:

1. Vehicle gate (real plate reader, real SQLite file, mock relay): a procession of enrolled
   cars, three frames each (the second decides: the event with its JPEG snapshot is written
   before the barrier opens). Baseline: ``PlateReader.read`` on the same frames.

Baseline and loop are timed frame by frame in turn, so a change of load hits both alike.
2. Pedestrian gate (real YuNet + SFace, real SQLite file, mock lock): an enrolled resident
   and a stranger from the fixture photos as 640x480 frames, three frames each in turn.
   Baseline: ``FaceRecogniser.probe`` and the QR look (what the loop reads in every frame).
   Skipped with the reason when the fixture faces are absent.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from gpiozero.pins.mock import MockFactory

from edge.db import connect
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.vehicle import VehicleGateLoop
from edge.people.resident_faces import enrol_faces
from edge.people.residents import add_resident
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.pii import PiiVault
from edge.plates.reader import PlateReader
from edge.plates.synth import render_scene
from edge.plates.voting import PlateVoter
from edge.policy import person as person_policy
from edge.policy import vehicle as vehicle_policy
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.door import Door, DoorLock

FACES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "faces"
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PROVINCES = "皖苏浙沪京粤鲁豫"


def machine() -> str:
    model = "unknown CPU"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def describe(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return (
        f"  {label:<44} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms  (n={len(ms)})"
    )


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def vehicle(folder: Path, cars: int) -> None:
    db = connect(folder / "vehicle.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    plates = [f"{PROVINCES[i % len(PROVINCES)]}A{10000 + i * 37:05d}" for i in range(cars)]
    for plate in plates:
        add_vehicle(db, VehicleInput(plate, "resident", "3-1-402"))
    frames = [[render_scene(p, seed=s) for s in range(3)] for p in plates]
    factory = MockFactory()
    barrier = Barrier(17, pulse_s=0.01, active_high=True, pin_factory=factory)
    reader = PlateReader()
    loop = VehicleGateLoop(
        vehicle_policy.GateFacts("north", "vehicle"),
        None,
        barrier,
        reader,
        PlateVoter(),
        db,
        SnapshotStore(folder / "snapshots", ZoneInfo("Asia/Shanghai")),
    )
    baseline = PlateReader()  # its own instance: a reader belongs to one gate
    baseline.read(frames[0][0])  # warm-up
    reader.read(frames[0][0])
    alone, plain, deciding, decisions = [], [], [], []
    for n, car in enumerate(frames):  # interleaved, so a change of load hits both alike
        for i, image in enumerate(car):
            at = T0 + timedelta(seconds=10 * n, milliseconds=100 * i)
            alone.append(timed(lambda image=image: baseline.read(image)))
            before = len(decisions)
            ms = timed(lambda image=image, at=at: decisions.extend(loop.process_frame(image, at)))
            (deciding if len(decisions) > before else plain).append(ms)
    barrier.close()
    opened = sum(o.decision == "open" for o in decisions)
    print(f"Vehicle gate: {cars} enrolled cars x 3 frames 1280x720, {opened} opened")
    print(describe("PlateReader.read alone (baseline)", alone))
    print(describe("process_frame, frames deciding nothing", plain))
    print(describe("process_frame, frame deciding (event+JPEG)", deciding))
    overhead = statistics.median(plain) - statistics.median(alone)
    print(f"  loop overhead on a frame deciding nothing (median difference): {overhead:+.2f} ms")
    decide = [o.decide_ms for o in decisions if o.decide_ms is not None]
    if decide:
        print(describe("frame start -> barrier open (decide_ms)", decide))


def gate_frame(photo: np.ndarray) -> np.ndarray:
    """The photo as a 640x480 door-camera frame (scaled to fit, grey around it)."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    scale = min(640 / photo.shape[1], 480 / photo.shape[0])
    w, h = int(photo.shape[1] * scale), int(photo.shape[0] * scale)
    frame[(480 - h) // 2 : (480 - h) // 2 + h, (640 - w) // 2 : (640 - w) // 2 + w] = cv2.resize(
        photo, (w, h)
    )
    return frame


def pedestrian(folder: Path, repeats: int) -> None:
    if not (FACES / "fr_obama.jpg").is_file():
        print(f"Pedestrian gate: skipped, fixture faces not found at {FACES}")
        return
    recogniser = FaceRecogniser()
    db = connect(folder / "door.db")
    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    vault = PiiVault(bytes(range(32)))
    rid = add_resident(db, vault, "Resident", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    enrol_faces(db, vault, recogniser, rid, photos, "bench", consent=True)
    factory = MockFactory()
    lock = DoorLock(23, "fail_safe", 0.05, active_high=True, pin_factory=factory)
    door = Door(lock, lambda kind, details: None)
    gate = person_policy.GateFacts("east", "pedestrian", (("residents", "always"),))
    loop = PedestrianGateLoop(gate, door, recogniser, db, vault, None, PedestrianSettings())
    images = [gate_frame(read_image_file(FACES / n)) for n in ("fr_obama1.jpg", "fr_biden.jpg")]
    qr = cv2.QRCodeDetector()

    def reads_alone(image: np.ndarray) -> None:  # what the loop reads in every frame
        recogniser.probe(image)
        qr.detectAndDecode(image)

    reads_alone(images[0])  # warm-up
    loop.process_frame(images[0], T0)
    alone, through, outcomes = [], [], []
    for k in range(repeats):  # a person stands 3 frames, then the next one
        image = images[k // 3 % 2]
        at = T0 + timedelta(seconds=1 + 0.3 * k)
        alone.append(timed(lambda image=image: reads_alone(image)))
        through.append(
            timed(lambda image=image, at=at: outcomes.extend(loop.process_frame(image, at)))
        )
    door.close()
    print(f"Pedestrian gate: {repeats} frames 640x480 (resident, stranger), {len(outcomes)} events")
    print(describe("probe + QR look alone (baseline)", alone))
    print(describe("process_frame", through))
    overhead = statistics.median(through) - statistics.median(alone)
    print(f"  loop overhead per frame (median difference): {overhead:+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cars", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        vehicle(Path(folder), args.cars)
        pedestrian(Path(folder), args.repeats)
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
