"""Golden GA/T 1400 messages: each object the box builds, checked field by field.

The golden files (tests/golden/gat1400/) were written from GA/T 1400.3/1400.4's message
definitions and reviewed by hand; a change to any field, its type or its presence fails
here with the field's name. Regenerate only on purpose: ``MENWEI_WRITE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ulid import ULID

from sync.gat1400.objects import (
    Ape,
    Image,
    disposition_notification,
    face,
    motor_vehicle,
    subscribe_notification,
)


def ulid_at(iso: str, tail: int) -> str:
    """A box event ID for that moment, with a fixed random part (deterministic golden)."""
    millis = int(datetime.fromisoformat(iso).timestamp() * 1000)
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + bytes([tail]) * 10))


GOLDEN = Path(__file__).parent / "golden" / "gat1400"
ZONE = ZoneInfo("Asia/Shanghai")
APE = Ape("g1", "34010000001190000011", "34010000001210000001", 2, "3")
IMAGE = Image("/9j/4AAQSkZJRg==", None, 1280, 720)
URL_IMAGE = Image(None, "https://box.example/VIID/Images/2026/05/01/x.jpg?sig=ab", 1280, 720)
PASSAGE = {
    "id": ulid_at("2026-05-01T08:00:00.000+00:00", 1),
    "occurred_at": "2026-05-01T08:00:00.000+00:00",
    "gate_id": "g1",
    "kind": "vehicle_passage",
    "plate": "皖A12345",
    "confidence": 0.9731,
    "details": {"colour": "blue", "first_seen": "2026-05-01T07:59:58+00:00",
                "plate_box": [412, 508, 596, 560]},
}  # fmt: skip
UNREAD = {
    **PASSAGE,
    "id": ulid_at("2026-05-01T08:00:00.000+00:00", 2),
    "kind": "plate_unread",
    "plate": None,
    "details": {},
}
FACE = {
    "id": ulid_at("2026-05-01T08:00:00.002+00:00", 3),
    "occurred_at": "2026-05-01T08:00:00.002+00:00",
    "gate_id": "g1",
    "kind": "face_passage",
    "details": {"face_box": [600, 200, 700, 330]},
}
ALERT = {
    "id": ulid_at("2026-05-01T08:00:00.000+00:00", 4),
    "occurred_at": "2026-05-01T08:00:00.000+00:00",
    "gate_id": "g1",
    "kind": "watchlist_alert",
    "plate": "皖A12345",
    "related_event_id": PASSAGE["id"],
    "details": {"watch_ids": [7]},
}


def built() -> dict[str, dict]:
    vehicle = motor_vehicle(PASSAGE, APE, ZONE, IMAGE)
    return {
        "motor_vehicle": vehicle,
        "motor_vehicle_url_image": motor_vehicle(PASSAGE, APE, ZONE, URL_IMAGE),
        "motor_vehicle_unread": motor_vehicle(UNREAD, APE, ZONE, None),
        "face": face(FACE, APE, ZONE, IMAGE),
        "disposition_notification": disposition_notification(
            ALERT, APE, ZONE, "340100000000012026050108000000001", "stolen car", "340100000000",
            motor_vehicle(PASSAGE, APE, ZONE, None),
        ),
        "subscribe_notification": subscribe_notification(
            "340100000000022026050100000000001", "county", PASSAGE,
            motor_vehicle(PASSAGE, APE, ZONE, None), "340100000000", ZONE,
        ),
    }  # fmt: skip


def _fields(value, path=""):
    """Every leaf as path → (type name, value), so a mismatch names its field."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _fields(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _fields(item, f"{path}[{index}]")
    else:
        yield path, (type(value).__name__, value)


@pytest.mark.parametrize("name", sorted(built()))
def test_message_matches_golden_field_by_field(name):
    message = built()[name]
    path = GOLDEN / f"{name}.json"
    if os.environ.get("MENWEI_WRITE_GOLDEN"):
        path.write_text(json.dumps(message, ensure_ascii=False, indent=1) + "\n", "utf-8")
    golden = dict(_fields(json.loads(path.read_text("utf-8"))))
    actual = dict(_fields(message))
    assert sorted(actual) == sorted(golden), "fields added or missing"
    for field, expected in golden.items():
        assert actual[field] == expected, field


def test_golden_ids_have_the_standard_lengths():
    vehicle = json.loads((GOLDEN / "motor_vehicle.json").read_text("utf-8"))
    assert len(vehicle["MotorVehicleID"]) == 48 and len(vehicle["SourceID"]) == 41
    assert vehicle["MotorVehicleID"].startswith(vehicle["SourceID"])
    assert vehicle["MotorVehicleID"][20:22] == "02" and vehicle["MotorVehicleID"][41:43] == "02"
    assert vehicle["MotorVehicleID"][22:36] == vehicle["PassTime"]  # the event's own time
    assert isinstance(vehicle["HasPlate"], bool) and isinstance(vehicle["LaneNo"], int)
    note = json.loads((GOLDEN / "disposition_notification.json").read_text("utf-8"))
    assert len(note["NotificationID"]) == 33
    assert note["CntObjectID"] == vehicle["MotorVehicleID"]
    faces = json.loads((GOLDEN / "face.json").read_text("utf-8"))
    assert faces["FaceID"][41:43] == "06"
    assert faces["SubImageList"]["SubImageInfoObject"][0]["Type"] == "14"


@pytest.mark.parametrize(
    ("plate", "colour", "plate_class", "plate_color"),
    [
        ("皖A12345", "blue", "02", "5"),
        ("皖A12345", "yellow", "01", "6"),
        ("沪AD12345", "green", "52", "9"),  # small new-energy
        ("沪A12345D", "yellow", "51", "6"),  # large new-energy (yellow-green), read as yellow
        ("沪A12345D", "green", "51", "9"),
        ("京A1234警", "white", "23", "2"),
        ("粤Z1234港", "black", "26", "1"),
        ("沪A1234领", "black", "04", "1"),
        ("使014578", "black", "03", "1"),
        ("粤B1234学", "yellow", "16", "6"),
        ("沪A1234挂", "yellow", "15", "6"),
        ("VA12345", "white", "32", "2"),
        ("WJ京1234X", "white", "31", "2"),
        ("皖A12345", "unknown", "99", "99"),  # the reader could not tell the colour
    ],
)
def test_plate_colour_and_class_are_what_the_reader_found(plate, colour, plate_class, plate_color):
    """PlateColor is the plate background the reader measured (ColorType), PlateClass the
    GA 24.7 class from the plate's form and colour; VehicleColor is 99 (unknown) for an
    event without the gate's body-colour estimate."""
    event = {**PASSAGE, "plate": plate, "details": {**PASSAGE["details"], "colour": colour}}
    vehicle = motor_vehicle(event, APE, ZONE, None)
    assert (vehicle["PlateClass"], vehicle["PlateColor"]) == (plate_class, plate_color)
    assert vehicle["VehicleColor"] == "99" and vehicle["PlateNo"] == plate
