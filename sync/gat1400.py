"""GA/T 1400 (公安视频图像信息应用系统, "视图库"/VIID) adapter, device side.

What a VIID platform expects of a collection device, as implemented by the open projects
we learned from (haoxianrui/gat1400 on the device side, xiezhihui98/GAT1400 on the server):

- ``POST /VIID/System/Register`` with ``{"RegisterObject": {"DeviceID": ...}}``, answered
  first with 401 and a ``WWW-Authenticate: Digest`` challenge, then with the digest;
- ``POST /VIID/System/Keepalive`` about every 50 s; a failed keepalive or any 401 means the
  platform forgot us, so we register again before sending anything else;
- every request carries ``User-Identify: <20-digit DeviceID>``;
- vehicles go to ``POST /VIID/MotorVehicles`` as ``MotorVehicleListObject``, faces to
  ``POST /VIID/Faces`` as ``FaceListObject``;
- replies are ``ResponseStatusListObject`` / ``ResponseStatusObject`` whose ``StatusCode``
  some platforms send as a number and others as a string, sometimes one object instead of
  a list — :func:`parse_status_reply` accepts all of these;
- times are local ``yyyyMMddHHmmss`` (the site's zone).

Idempotency: the object ID (48 digits) is derived from the DeviceID, the event time and
the outbox sequence number, so a resent row has the same ID and the platform dedupes it.
Rows VIID cannot carry (registrations, camera faults) are refused per row and dead-lettered
with that reason: visible to the operator, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.db import parse_iso
from sync.auth import digest_authorization, parse_digest_header
from sync.outbox import OutboxRow
from sync.protocol import (
    BatchRejectedError,
    BatchResult,
    PlatformUnavailableError,
    load_snapshot,
)
from sync.transport import Transport

log = logging.getLogger(__name__)

VEHICLE_KINDS = {"vehicle_passage", "plate_unread", "watchlist_alert", "manual_open"}
FACE_PREFIXES = ("face", "pedestrian")
#: GA/T 1400 colour codes (1 black, 2 white, 5 blue, 6 yellow, 9 green, 99 other)
PLATE_COLOURS = {"black": "1", "white": "2", "blue": "5", "yellow": "6", "green": "9"}
#: StatusCode values that mean "this content is invalid" (retrying cannot help)
INVALID_CODES = {4, 5, 6, 7, 8}


def viid_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%d%H%M%S")


def object_ids(device_id: str, row: OutboxRow, type_code: str, zone: ZoneInfo) -> tuple[str, str]:
    """(SourceID 41 digits, object ID 48 digits), stable for one outbox row."""
    moment = parse_iso(row.created_at)
    assert moment is not None
    source = f"{device_id}02{viid_time(moment, zone)}{row.seq % 100000:05d}"
    return source, f"{source}{type_code}00001"


def _status_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_status_reply(body: bytes) -> list[dict[str, Any]]:
    """Every ResponseStatusObject in a reply as ``{"id", "code", "text"}``; tolerant of shape.

    Raises ValueError when the body holds no status object with a readable StatusCode.
    """
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("reply is not a JSON object")
    container = doc.get("ResponseStatusListObject", doc)
    objects = container.get("ResponseStatusObject") if isinstance(container, dict) else None
    if objects is None:
        raise ValueError("no ResponseStatusObject in reply")
    if isinstance(objects, dict):
        objects = [objects]
    if not isinstance(objects, list):
        raise ValueError("ResponseStatusObject is neither an object nor a list")
    statuses = []
    for obj in objects:
        code = _status_code(obj.get("StatusCode")) if isinstance(obj, dict) else None
        if code is None:
            raise ValueError("StatusCode missing or not a number")
        statuses.append(
            {"id": str(obj.get("Id") or ""), "code": code, "text": str(obj.get("StatusString", ""))}
        )
    return statuses


class Gat1400Protocol:
    """Registration, keepalive and uploads to one VIID platform."""

    def __init__(
        self,
        transport: Transport,
        device_id: str,
        username: str,
        password: str,
        zone: ZoneInfo,
        keepalive_s: float = 50.0,
        snapshot_dir: Path | None = None,
        snapshot_max_bytes: int = 256 * 1024,
        clock: Any = time.monotonic,
    ) -> None:
        self.transport = transport
        self.device_id = device_id
        self.username = username
        self.password = password
        self.zone = zone
        self.keepalive_s = keepalive_s
        self.snapshot_dir = snapshot_dir
        self.snapshot_max_bytes = snapshot_max_bytes
        self.clock = clock
        self.registered = False
        self.registrations = 0
        self._last_keepalive = 0.0

    # -- session ---------------------------------------------------------------------------
    def _post(self, path: str, doc: dict[str, Any], authorization: str | None = None):  # type: ignore[no-untyped-def]
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "User-Identify": self.device_id,
        }
        if authorization:
            headers["Authorization"] = authorization
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        return self.transport.request("POST", path, body, headers)

    def register(self) -> None:
        path = "/VIID/System/Register"
        doc = {"RegisterObject": {"DeviceID": self.device_id}}
        reply = self._post(path, doc)
        if reply.status == 401:
            challenge = parse_digest_header(reply.headers.get("www-authenticate", ""))
            if not challenge.get("nonce"):
                raise PlatformUnavailableError("register: 401 without a digest challenge")
            uri = self.transport.prefix + path
            auth = digest_authorization(challenge, self.username, self.password, "POST", uri)
            reply = self._post(path, doc, auth)
        self._expect_ok(reply, "register")
        self.registered = True
        self.registrations += 1
        self._last_keepalive = self.clock()
        log.info("registered with the VIID platform as device %s", self.device_id)

    def _expect_ok(self, reply: Any, what: str) -> None:
        if reply.status == 401:
            self.registered = False
            raise PlatformUnavailableError(f"{what}: HTTP 401 (not registered)")
        if reply.status != 200:
            raise PlatformUnavailableError(f"{what}: HTTP {reply.status}")
        try:
            statuses = parse_status_reply(reply.body)
        except ValueError as exc:
            raise PlatformUnavailableError(f"{what}: unusable reply: {exc}") from None
        if statuses[0]["code"] != 0:
            raise PlatformUnavailableError(
                f"{what}: StatusCode {statuses[0]['code']} {statuses[0]['text']}"[:300]
            )

    def tick(self) -> None:
        """Register when needed, keep alive every ``keepalive_s``; a failure re-registers."""
        if not self.registered:
            self.register()
            return
        if self.clock() - self._last_keepalive < self.keepalive_s:
            return
        try:
            reply = self._post(
                "/VIID/System/Keepalive", {"KeepaliveObject": {"DeviceID": self.device_id}}
            )
            self._expect_ok(reply, "keepalive")
        except PlatformUnavailableError:
            self.registered = False
            raise
        self._last_keepalive = self.clock()

    def close(self) -> None:
        self.transport.close()

    # -- uploads ---------------------------------------------------------------------------
    def _subimage(self, payload: dict[str, Any], source: str, shot: str, type_code: str) -> dict:
        snap = load_snapshot(
            self.snapshot_dir, payload.get("snapshot_path"), self.snapshot_max_bytes
        )
        if snap is None or snap.data_b64 is None:
            return {}
        info = {
            "ImageID": source,
            "EventSort": 4,
            "DeviceID": self.device_id,
            "StoragePath": "",
            "Type": type_code,
            "FileFormat": "Jpeg",
            "ShotTime": shot,
            "Data": snap.data_b64,
        }
        return {"SubImageList": {"SubImageInfoObject": [info]}}

    def _vehicle(self, row: OutboxRow, payload: dict[str, Any]) -> tuple[str, dict]:
        source, object_id = object_ids(self.device_id, row, "02", self.zone)
        occurred = parse_iso(payload.get("occurred_at")) or parse_iso(row.created_at)
        assert occurred is not None
        shot = viid_time(occurred, self.zone)
        plate = payload.get("plate")
        colour = (payload.get("details") or {}).get("colour")
        obj = {
            "MotorVehicleID": object_id,
            "InfoKind": 1,
            "SourceID": source,
            "DeviceID": self.device_id,
            "PassTime": shot,
            "HasPlate": "1" if plate else "0",
            "PlateNo": plate or "无车牌",
            "PlateColor": PLATE_COLOURS.get(str(colour), "99"),
            **self._subimage(payload, source, shot, "01"),
        }
        return object_id, obj

    def _face(self, row: OutboxRow, payload: dict[str, Any]) -> tuple[str, dict]:
        source, object_id = object_ids(self.device_id, row, "06", self.zone)
        occurred = parse_iso(payload.get("occurred_at")) or parse_iso(row.created_at)
        assert occurred is not None
        shot = viid_time(occurred, self.zone)
        obj = {
            "FaceID": object_id,
            "InfoKind": 1,
            "SourceID": source,
            "DeviceID": self.device_id,
            "ShotTime": shot,
            **self._subimage(payload, source, shot, "11"),
        }
        return object_id, obj

    def send(self, rows: list[OutboxRow]) -> BatchResult:
        self.tick()
        result: BatchResult = {}
        groups: dict[str, list[tuple[str, str, dict]]] = {"vehicles": [], "faces": []}
        for row in rows:
            payload = json.loads(row.payload)
            kind = str(payload.get("kind", ""))
            if row.topic == "event" and kind in VEHICLE_KINDS:
                groups["vehicles"].append((row.key, *self._vehicle(row, payload)))
            elif row.topic == "event" and kind.startswith(FACE_PREFIXES):
                groups["faces"].append((row.key, *self._face(row, payload)))
            else:
                result[row.key] = (
                    f"GA/T 1400 carries vehicles and faces only, not {row.topic}/{kind}"
                )
        if groups["vehicles"]:
            result.update(
                self._upload(
                    "/VIID/MotorVehicles",
                    "MotorVehicleListObject",
                    "MotorVehicleObject",
                    groups["vehicles"],
                )
            )
        if groups["faces"]:
            result.update(
                self._upload("/VIID/Faces", "FaceListObject", "FaceObject", groups["faces"])
            )
        return {row.key: result[row.key] for row in rows}

    def _upload(
        self, path: str, list_name: str, item_name: str, items: list[tuple[str, str, dict]]
    ) -> BatchResult:
        reply = self._post(path, {list_name: {item_name: [obj for _, _, obj in items]}})
        if reply.status == 401:
            self.registered = False
            raise PlatformUnavailableError(f"{path}: HTTP 401 (not registered)")
        if reply.status in (400, 422):
            raise BatchRejectedError(f"{path}: HTTP {reply.status}")
        if reply.status != 200:
            raise PlatformUnavailableError(f"{path}: HTTP {reply.status}")
        try:
            statuses = parse_status_reply(reply.body)
        except ValueError as exc:
            raise PlatformUnavailableError(f"{path}: unusable reply: {exc}") from None
        by_id = {s["id"]: s for s in statuses if s["id"]}
        result: BatchResult = {}
        for key, object_id, _ in items:
            status = by_id.get(object_id)
            if status is None:
                if len(statuses) == 1 and not statuses[0]["id"]:
                    status = statuses[0]  # one status for the whole request
                else:
                    raise PlatformUnavailableError(f"{path}: no status for object {object_id}")
            if status["code"] == 0:
                result[key] = None
            elif status["code"] in INVALID_CODES:
                if len(items) > 1 and status is statuses[0] and not status["id"]:
                    raise BatchRejectedError(f"StatusCode {status['code']} {status['text']}")
                result[key] = f"StatusCode {status['code']} {status['text']}"[:500]
            else:
                raise PlatformUnavailableError(f"{path}: StatusCode {status['code']}")
        return result
