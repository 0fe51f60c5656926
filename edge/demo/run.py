"""``menwei demo``: a pedestrian door and a vehicle gate on any machine, in about a minute.

A demo community (households, resident and visitor vehicles, a watchlist entry) goes into
a fresh local database. First a pedestrian door runs its story (edge.demo.pedestrian) while
a scripted procession of cars is drawn into a folder of frames; then the real camera driver
replays those, and the real plate reader, voter, policy, event store and a barrier on
gpiozero's MockFactory pins do the rest. Finally every event goes to the reference district
platform. Each decision is printed with its reasons, exactly as it is stored in the event log.

This module is the orchestrator and the vehicle part; the config both gates are built from
is edge.demo.config, and each decision is told by edge.demo.narration.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import sqlite_utils
from gpiozero.pins.mock import MockFactory

from edge.config import MenweiConfig
from edge.config.sync import SyncConfig
from edge.db import ThreadConnections, utc_now
from edge.demo.config import FPS, OPEN_PIN, VEHICLE_GATE, demo_config
from edge.demo.door_script import STALL_S
from edge.demo.narration import describe_outcome, told
from edge.demo.pedestrian import run_pedestrian_demo
from edge.gates.assembly import vehicle_gate
from edge.gates.runner import GateOutcome
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch
from edge.plates.synth import render_empty_scene, render_scene
from edge.store.open import open_store
from edge.store.outbox import counts
from edge.vocabulary import N_
from sync.reference_platform import ReferencePlatform
from sync.service import build_protocol, run_sync


@dataclass(frozen=True)
class DemoCar:
    """One car of the procession; ``colour`` None draws its plate in its real colour."""

    plate: str
    story: str
    colour: str | None = None
    blur: float = 0.0
    brightness: float = 1.0


PROCESSION = (
    DemoCar("皖A12345", N_("resident of 3-1-402 comes home")),
    DemoCar("沪C0L876", N_("a stranger's car")),
    DemoCar("粤BD12345", N_("a visitor with a pass for today")),
    DemoCar("苏E99999", N_("a van whose pass ended yesterday"), "yellow"),
    DemoCar("京A88888", N_("a watchlisted car")),
    DemoCar(
        "皖A1234S",
        N_(
            "one stroke from the resident's plate: not opened, the guard is asked "
            "'possibly 皖A12345?' on the live page"
        ),
    ),
    DemoCar("浙B54321", N_("a plate too dirty to read"), blur=9.0, brightness=0.5),
    DemoCar(
        "皖A12345",
        N_("the resident again within 30 s: the same passage, so no new event"),
    ),
)


def seed_community(db) -> None:
    """Enrol the demo community's vehicles and watchlist through the normal library calls."""
    now = utc_now()
    add_vehicle(db, VehicleInput("皖A12345", "resident", "3-1-402"))
    add_vehicle(
        db,
        VehicleInput(
            "粤BD12345",
            "visitor",
            "5-2-1101",
            now - timedelta(hours=1),
            now + timedelta(hours=8),
            "访客通行证",
        ),
    )
    add_vehicle(
        db,
        VehicleInput(
            "苏E99999",
            "temporary",
            "2-1-203",
            now - timedelta(days=3),
            now - timedelta(days=1),
            "装修面包车",
        ),
    )
    add_watch(db, "京A88888", "被盗车辆（演示）")


CAR_FRAMES = 6
GAP_FRAMES = 10


def render_frames(folder: Path, procession: tuple[DemoCar, ...] = PROCESSION) -> int:
    """Write the procession as numbered JPEG frames: each car approaches, then an empty lane.

    Car ``n`` starts at frame ``n * (CAR_FRAMES + GAP_FRAMES)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    index = 0

    def write(image) -> None:
        nonlocal index
        cv2.imwrite(str(folder / f"{index:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        index += 1

    for number, car in enumerate(procession):
        for step in range(
            CAR_FRAMES
        ):  # the car rolls towards the camera: the plate grows and drops
            write(
                render_scene(
                    car.plate,
                    car.colour,
                    size=(1280, 720),
                    plate_width=230 + 12 * step,
                    centre=(0.5, 0.55 + 0.015 * step),
                    tilt_deg=1.5 - 0.5 * step,
                    blur=car.blur,
                    brightness=car.brightness,
                    noise=3.0,
                    seed=number * 10 + step,
                )
            )
        for step in range(GAP_FRAMES):  # empty lane long enough for the vote window to close
            write(render_empty_scene(size=(1280, 720), seed=number * 10 + step))
    return index


def deliver_to_reference_platform(db, data_dir: Path, zone: ZoneInfo, echo) -> int:
    """Send the demo's outbox to the reference district platform on 127.0.0.1.

    The same sync worker `menwei sync` runs, over real HTTP with HMAC signatures, to the
    reference platform the sync tests use; returns how many rows the platform holds.
    """
    secret_file = data_dir / "district.secret"
    secret_file.write_bytes(b"demo-district-secret\n")
    os.chmod(secret_file, 0o600)
    with ReferencePlatform(data_dir / "district.db", secret=b"demo-district-secret") as platform:
        config = SyncConfig(
            platform_url=platform.url,
            device_id="demo-box",
            secret_file=secret_file,
            downlink=False,
            idle_poll_s=0.1,
            backoff_initial_s=0.2,
            status_file=data_dir / "sync-status.json",
        )
        protocol = build_protocol(config, data_dir / "snapshots", zone)
        stop = threading.Event()
        connections = ThreadConnections(db)  # the worker thread writes through its own

        def sync_worker() -> None:
            try:
                run_sync(connections.get(), config, protocol, stop)
            finally:
                connections.close()

        worker = threading.Thread(target=sync_worker, name="demo-sync", daemon=True)
        worker.start()
        deadline = time.monotonic() + 30
        while counts(db.conn)["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        worker.join(timeout=10)
        held = platform.count()
        state = counts(db.conn)
    echo("\n" + told(
        "District sync: %(delivered)s events delivered to the reference platform at %(url)s"
        " (%(held)s held there, %(pending)s pending, %(dead)s dead)",
        delivered=state["delivered"], url=platform.url, held=held, pending=state["pending"],
        dead=state["dead"],
    ))  # fmt: skip
    return held


def run_vehicle_gate(
    config: MenweiConfig,
    db: sqlite_utils.Database,
    factory: MockFactory,
    total: int,
    echo: Callable[[str], None],
    fps: float,
) -> list[GateOutcome]:
    """Replay the rendered procession through the vehicle gate, announcing each car."""
    echo(
        "\n"
        + told(
            "Vehicles: resident 皖A12345 (3-1-402), visitor 粤BD12345 (pass today), "
            "temporary 苏E99999 (pass ended), watchlist 京A88888"
        )
    )
    echo(told(
        "Gate %(gate)s: camera replays %(total)s frames at %(fps)s fps; barrier relay on mock"
        " GPIO%(pin)s", gate=VEHICLE_GATE, total=total, fps=f"{fps:g}", pin=OPEN_PIN,
    ) + "\n")  # fmt: skip
    outcomes: list[GateOutcome] = []

    def show(outcome: GateOutcome) -> None:
        outcomes.append(outcome)
        echo(describe_outcome(outcome, config.site.zone))

    stop = threading.Event()
    with vehicle_gate(
        config, VEHICLE_GATE, stop, db=db, pin_factory=factory, on_outcome=show
    ) as gate:
        announced, last_seen, progressed = -1, -1, time.monotonic()
        while True:  # the replay waits for the gate on a slow machine: end on a stuck replay
            frame = gate.camera.latest()
            seen = frame.seq if frame is not None else -1
            if seen > last_seen:
                last_seen, progressed = seen, time.monotonic()
            elif time.monotonic() - progressed > STALL_S:
                break
            car = seen // (CAR_FRAMES + GAP_FRAMES)
            if seen >= 0 and car > announced and car < len(PROCESSION):
                announced = car
                echo(f"  [{car + 1}/{len(PROCESSION)}] {told(PROCESSION[car].story)}")
            if seen >= total - 1:
                break
            time.sleep(0.05)
        time.sleep(config.recognition.plates.vote_window_s + 0.5)
        stop.set()
    return outcomes


def run_demo(
    data_dir: Path,
    fresh: bool = True,
    echo: Callable[[str], None] = print,
    fps: float = FPS,
    faces: Path | None = None,
    pin_factory: MockFactory | None = None,
) -> int:
    """Run the door's story, then the procession of cars, through real gates; returns an
    exit code. The door goes first because the cars' frames take a while to draw: they are
    drawn meanwhile, on another thread.

    ``faces``: a folder of labelled face photos (default: the fixtures beside the checkout,
    when present; see edge.demo.faces). ``pin_factory``: a MockFactory to read the pins from
    afterwards (tests); by default a fresh one.
    """
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    config = demo_config(data_dir, fps)
    db = open_store(config)
    if fresh:
        seed_community(db)
    echo(told(
        "Menwei demo — data in %(folder)s/ (database %(db)s, snapshots/, frames/, door-frames/)",
        folder=data_dir, db=config.storage.database.name,
    ))  # fmt: skip
    factory = pin_factory or MockFactory()  # always mock pins: the demo drives the inputs
    frames = data_dir / "frames"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-render") as pool:
        rendering = None
        if not frames.exists() or not any(frames.iterdir()):
            echo(told("Drawing the procession of cars in the background; the door goes first."))
            rendering = pool.submit(render_frames, frames)
        door = run_pedestrian_demo(config, db, factory, faces, echo, fps)
        if rendering is not None and not rendering.done():
            echo("\n" + told("(the cars' frames are still being drawn ...)"))
        total = rendering.result() if rendering else len(list(frames.glob("*.jpg")))
    outcomes = run_vehicle_gate(config, db, factory, total, echo, fps)
    deliver_to_reference_platform(db, data_dir, config.site.zone, echo)
    opened = sum(o.decision == "open" for o in outcomes)
    door_opened = sum(o.decision == "open" for o in door)
    echo("\n" + told(
        "Pedestrian gate: %(door)s events (%(door_opened)s opened by a face, PIN or pass);"
        " vehicle gate: %(cars)s decisions (%(opened)s opened). Inspect them with:",
        door=len(door), door_opened=door_opened, cars=len(outcomes), opened=opened,
    ) + f"\n  menwei events -c {data_dir / 'menwei.toml'}")  # fmt: skip
    return 0 if outcomes and door else 1
