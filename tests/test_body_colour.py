"""The car body's colour, estimated around the plate (edge.plates.body_colour), on generated
gate-camera frames of cars painted in each colour, at several plate sizes, positions and
angles; "unknown" at night and on an infrared (monochrome) picture; sent to the district
as GA/T 1400's VehicleColor (99 when unknown), and written by the gate with the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.db import connect
from edge.events.record import recent_events
from edge.gates.vehicle import VehicleGateLoop
from edge.people.vehicles import VehicleInput, add_vehicle
from edge.plates.body_colour import UNKNOWN, body_colour
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import GateFacts
from edge.store.snapshots import SnapshotStore
from edge.vocabulary import Vocabulary
from gate_drivers.barrier import Barrier
from sync.gat1400 import codes
from sync.gat1400.objects import Ape, motor_vehicle

synth = pytest.importorskip("edge.plates.synth")
PAINTS = {  # BGR paint: the colour GA/T 1400 would call it
    "black": (30, 30, 32),
    "white": (235, 235, 235),
    "grey": (120, 122, 125),
    "red": (40, 40, 190),
    "orange": (20, 120, 235),
    "yellow": (30, 200, 230),
    "brown": (30, 60, 100),
    "green": (50, 140, 40),
    "cyan": (180, 170, 40),
    "blue": (150, 80, 30),
    "purple": (120, 40, 100),
    "pink": (170, 120, 240),
}
VIEWS = [  # plate width, plate centre, perspective
    (260, (0.5, 0.62), 0.0),
    (180, (0.35, 0.6), 0.3),
    (120, (0.65, 0.7), -0.25),
    (90, (0.5, 0.55), 0.0),
]


def scene(paint, seed=0, **kwargs):
    frame, corners = synth.render_scene_with_corners("皖A12345", seed=seed, paint=paint, **kwargs)
    xs, ys = corners[:, 0], corners[:, 1]
    return frame, [round(xs.min()), round(ys.min()), round(xs.max()), round(ys.max())]


@pytest.mark.parametrize("name", sorted(PAINTS))
def test_each_paint_reads_as_its_colour_from_every_view(name):
    for seed in range(2):
        for width, centre, perspective in VIEWS:
            frame, box = scene(PAINTS[name], seed, plate_width=width, centre=centre,
                               perspective=perspective, noise=4.0)  # fmt: skip
            assert body_colour(frame, box) == name, (seed, width, centre, perspective)


@pytest.mark.parametrize("name", ["white", "red", "black", "blue"])
def test_night_and_infrared_pictures_say_unknown(name):
    night, box = scene(PAINTS[name], 1, brightness=0.3)
    assert body_colour(night, box) == UNKNOWN
    day, box = scene(PAINTS[name], 1)
    infrared = cv2.cvtColor(cv2.cvtColor(day, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert body_colour(infrared, box) == UNKNOWN


def test_no_clear_winner_and_odd_input_say_unknown():
    frame, box = scene(PAINTS["red"])
    x1, y1, x2, y2 = box
    w = x2 - x1
    rng = np.random.default_rng(0)  # confetti over the car's body: no colour has a share
    patch = frame[y1 - w : y2, x1 - w : x2 + w]
    patch[:] = rng.integers(0, 256, patch.shape, dtype=np.uint8)
    assert body_colour(frame, box) == UNKNOWN
    assert body_colour(frame, None) == UNKNOWN
    assert body_colour(frame, [10, 10, 5, 5]) == UNKNOWN  # an empty box
    assert body_colour(frame, [5000, 5000, 5100, 5050]) == UNKNOWN  # outside the picture
    assert body_colour(frame[..., 0], box) == UNKNOWN  # not a colour picture


@pytest.mark.parametrize(
    ("estimate", "code"),
    [(name, codes.BODY_COLOURS[name]) for name in PAINTS]
    + [("unknown", "99"), (None, "99"), ("silver", "99"), (3, "99")],
)
def test_vehicle_color_is_the_estimate_as_gat1400_codes_it(estimate, code):
    event = {
        "id": "01JDA3Q6Z8G2ZP9Q3X4Y5Z6A7B", "kind": "vehicle_passage", "plate": "皖A12345",
        "occurred_at": "2026-11-22T08:00:00+00:00",
        "details": {"colour": "blue", "body_colour": estimate},
    }  # fmt: skip
    ape = Ape("north", "34010000001190000001")
    assert motor_vehicle(event, ape, ZoneInfo("Asia/Shanghai"), None)["VehicleColor"] == code
    assert sorted(codes.BODY_COLOURS.values(), key=int) == [str(n) for n in range(1, 13)]


def test_the_gate_writes_its_estimate_with_the_passage(tmp_path):
    db = connect(tmp_path / "menwei.db")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput("皖A12345", "resident", "3-1-402"))
    factory = MockFactory()
    barrier = Barrier(17, pulse_s=0.05, active_high=True, pin_factory=factory)
    loop = VehicleGateLoop(GateFacts("north", "vehicle"), None, barrier, PlateReader(),
                           PlateVoter(min_votes=2, vote_window_s=1.5, dedupe_window_s=30), db,
                           SnapshotStore(tmp_path / "snapshots", ZoneInfo("UTC")))  # fmt: skip
    start = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    try:
        for i in range(4):
            frame = synth.render_scene("皖A12345", seed=i, paint=PAINTS["red"])
            loop.process_frame(frame, start + timedelta(milliseconds=200 * i))
        loop.tick(start + timedelta(seconds=5))
        [event] = recent_events(db)
        assert event["decision"] == "open" and event["details"]["body_colour"] == "red"
    finally:
        barrier.close()
        factory.reset()
        db.conn.close()


def test_the_event_page_reads_the_estimate_in_zh():
    zh = Vocabulary.for_language("zh", ZoneInfo("Asia/Shanghai"))
    assert zh.detail("body_colour", "red") == ("车身颜色（估计）", "红")
    assert zh.detail("body_colour", "unknown") == ("车身颜色（估计）", "无法判断")
