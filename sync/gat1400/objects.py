"""Gate events → GA/T 1400 objects, as pure functions of the event and the gate's APE.

Which event becomes what (docs/sync-protocol.md has the full table):

- ``vehicle_passage`` / ``plate_unread`` → **MotorVehicle** (an unread plate is a plate the
  camera saw and could not read: HasPlate true, PlateNo "未识别" — not "无车牌");
- ``face_passage`` / ``face_unknown`` → **Face** (the whole frame as a scene image, 14);
- ``watchlist_alert`` → **DispositionNotification** linked to the passage's object
  (CntObjectID), only for watch entries that came from a platform disposition;
- everything else (manual opens, door and fire alarms, PIN/QR passages, camera faults) is
  the box's own access-control record, not 视频图像信息: not sent over 1400.

IDs are pure functions of the event, so a resent row carries the same IDs and the platform
dedupes it: SourceID (41) = APE DeviceID (20) + "02" + the event's local time (14) + a serial
(5) made of the event's milliseconds and two digits of its ULID; object ID (48) = SourceID +
object type (2) + "00001". The time is the event's ``occurred_at`` (a ULID carries it too,
which is how an alert finds its passage's IDs), never the outbox row's time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ulid import ULID

from edge.db import parse_iso
from sync.gat1400 import codes

VEHICLE_KINDS = ("vehicle_passage", "plate_unread")
FACE_KINDS = ("face_passage", "face_unknown")
UNREAD_PLATE = "未识别"


@dataclass(frozen=True)
class Ape:
    """A gate as the platform knows it (from ``[[sync.gat1400.apes]]``)."""

    gate: str
    ape_id: str
    tollgate_id: str | None = None
    lane_no: int = 1
    direction: str = "9"


@dataclass(frozen=True)
class Image:
    """A snapshot as it travels: inline base64 or a URL the platform fetches, with size."""

    data_b64: str | None
    url: str | None
    width: int
    height: int


def viid_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%d%H%M%S")


def event_time(event_id: str) -> datetime:
    """The moment a box event ID (a ULID made from ``occurred_at``) was made for."""
    return ULID.from_str(event_id).datetime


def _serial(moment: datetime, salt: str) -> str:
    digest = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:4], "big")
    return f"{moment.microsecond // 1000:03d}{digest % 100:02d}"


def source_id(ape_id: str, event_id: str, zone: ZoneInfo, moment: datetime | None = None) -> str:
    """41 digits: the image's basic ID, stable for one event (``moment``: its occurred_at,
    which its ULID also carries to the millisecond)."""
    moment = moment or event_time(event_id)
    return f"{ape_id}02{viid_time(moment, zone)}{_serial(moment, event_id)}"


def object_id(ape_id: str, event_id: str, type_code: str, zone: ZoneInfo) -> str:
    """48 digits: SourceID + object type + 00001."""
    return f"{source_id(ape_id, event_id, zone)}{type_code}00001"


def short_id(org: str, sub_type: str, moment: datetime, salt: str, zone: ZoneInfo) -> str:
    """33 digits: organisation (12) + sub-type (2) + time (14) + serial (5)."""
    return f"{org}{sub_type}{viid_time(moment, zone)}{_serial(moment, salt)}"


def _box(value: Any) -> dict[str, int]:
    """``[x1, y1, x2, y2]`` → LeftTopX/Y, RightBtmX/Y; nothing when absent or malformed."""
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        return {}
    try:
        x1, y1, x2, y2 = (max(0, round(float(v))) for v in value)
    except (TypeError, ValueError):
        return {}
    if x2 <= x1 or y2 <= y1:
        return {}
    return {"LeftTopX": x1, "LeftTopY": y1, "RightBtmX": x2, "RightBtmY": y2}


def sub_image(
    image: Image | None, image_id: str, device: str, type_code: str, sort: int, shot: str
) -> dict[str, Any]:
    """``SubImageList`` with one SubImageInfoObject, or nothing without an image."""
    if image is None:
        return {}
    info: dict[str, Any] = {
        "ImageID": image_id,
        "EventSort": sort,
        "DeviceID": device,
        "StoragePath": image.url or "",
        "Type": type_code,
        "FileFormat": "Jpeg",
        "ShotTime": shot,
        "Width": image.width,
        "Height": image.height,
    }
    if image.data_b64 is not None:
        info["Data"] = image.data_b64
    return {"SubImageList": {"SubImageInfoObject": [info]}}


def _occurred(event: dict[str, Any]) -> datetime:
    moment = parse_iso(event.get("occurred_at")) or event_time(str(event["id"]))
    return moment


def motor_vehicle(
    event: dict[str, Any], ape: Ape, zone: ZoneInfo, image: Image | None
) -> dict[str, Any]:
    """The MotorVehicleObject of a vehicle passage or an unread plate."""
    event_id = str(event["id"])
    source = source_id(ape.ape_id, event_id, zone, _occurred(event))
    details = event.get("details") or {}
    pass_time = viid_time(_occurred(event), zone)
    first_seen = parse_iso(details.get("first_seen"))
    plate = event.get("plate") or None
    colour = details.get("colour")
    unread = event.get("kind") == "plate_unread" or not plate
    obj: dict[str, Any] = {
        "MotorVehicleID": f"{source}{codes.OBJECT_MOTOR_VEHICLE}00001",
        "InfoKind": codes.INFO_KIND_AUTO,
        "SourceID": source,
        "DeviceID": ape.ape_id,
    }
    if ape.tollgate_id:
        obj["TollgateID"] = ape.tollgate_id
    if image is not None and image.url:
        obj["StorageUrl1"] = image.url
    obj.update(_box(details.get("plate_box")))
    obj.update(
        {
            "AppearTime": viid_time(first_seen, zone) if first_seen else pass_time,
            "DisappearTime": pass_time,
            "PassTime": pass_time,
            "LaneNo": ape.lane_no,
            "Direction": ape.direction,
            "HasPlate": True,
            "PlateClass": codes.PLATE_CLASS_OTHER if unread else codes.plate_class(plate, colour),
            "PlateColor": codes.plate_colour(colour),
            "PlateNo": UNREAD_PLATE if unread else plate,
            "VehicleColor": codes.vehicle_colour(details.get("body_colour")),
        }
    )
    confidence = event.get("confidence")
    if isinstance(confidence, (int, float)) and not unread:
        obj["PlateReliability"] = str(max(0, min(100, round(confidence * 100))))
    obj.update(
        sub_image(
            image, source, ape.ape_id, codes.IMAGE_VEHICLE, codes.EVENT_PASS_VEHICLE, pass_time
        )
    )
    return obj


def face(event: dict[str, Any], ape: Ape, zone: ZoneInfo, image: Image | None) -> dict[str, Any]:
    """The FaceObject of a pedestrian face passage (resident or unknown)."""
    event_id = str(event["id"])
    source = source_id(ape.ape_id, event_id, zone, _occurred(event))
    details = event.get("details") or {}
    shot = viid_time(_occurred(event), zone)
    obj: dict[str, Any] = {
        "FaceID": f"{source}{codes.OBJECT_FACE}00001",
        "InfoKind": codes.INFO_KIND_AUTO,
        "SourceID": source,
        "DeviceID": ape.ape_id,
        **_box(details.get("face_box")),
        "LocationMarkTime": shot,
        "FaceAppearTime": shot,
        "FaceDisAppearTime": shot,
        "IsDriver": False,
        "IsForeigner": False,
        "IsSuspectedTerrorist": False,
        "IsCriminalInvolved": False,
        "IsDetainees": False,
        "IsVictim": False,
        "IsSuspiciousPerson": False,
    }
    obj.update(
        sub_image(image, source, ape.ape_id, codes.IMAGE_SCENE, codes.EVENT_FACE_DETECT, shot)
    )
    return obj


def passage_object_id(alert: dict[str, Any], ape: Ape, zone: ZoneInfo) -> str | None:
    """The 48-digit ID of the passage an alert belongs to (CntObjectID), or None."""
    related = alert.get("related_event_id")
    if not related:
        return None
    kind = codes.OBJECT_MOTOR_VEHICLE if alert.get("plate") else codes.OBJECT_FACE
    return object_id(ape.ape_id, str(related), kind, zone)


def disposition_notification(
    alert: dict[str, Any],
    ape: Ape,
    zone: ZoneInfo,
    disposition_id: str,
    title: str,
    org: str,
    passage: dict[str, Any] | None,
) -> dict[str, Any]:
    """A DispositionNotificationObject (布控告警) for one watchlist hit.

    ``passage`` is the hit's passage object (MotorVehicle or Face) when the box has it;
    CntObjectID names it either way, so the platform links the alarm to what it holds.
    """
    moment = _occurred(alert)
    obj: dict[str, Any] = {
        "NotificationID": short_id(
            org, codes.ID_DISPOSITION_NOTIFICATION, moment, f"{alert['id']}|{disposition_id}", zone
        ),
        "DispositionID": disposition_id,
        "Title": title,
        "TriggerTime": viid_time(moment, zone),
        "CntObjectID": passage_object_id(alert, ape, zone) or "",
    }
    if passage is not None:
        obj["MotorVehicleObject" if "MotorVehicleID" in passage else "FaceObject"] = passage
    return obj


def subscribe_notification(
    subscription_id: str,
    title: str,
    event: dict[str, Any],
    obj: dict[str, Any],
    org: str,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """A SubscribeNotificationObject carrying one object (vehicle or face) of ``event``."""
    moment = _occurred(event)
    vehicle = "MotorVehicleID" in obj
    return {
        "NotificationID": short_id(
            org,
            codes.ID_SUBSCRIBE_NOTIFICATION,
            moment,
            f"{event['id']}|{subscription_id}",
            zone,
        ),
        "SubscribeID": subscription_id,
        "Title": title,
        "TriggerTime": viid_time(moment, zone),
        "InfoIDs": obj["MotorVehicleID" if vehicle else "FaceID"],
        ("MotorVehicleObjectList" if vehicle else "FaceObjectList"): {
            ("MotorVehicleObject" if vehicle else "FaceObject"): [obj]
        },
    }
