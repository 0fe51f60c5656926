"""The box's side of a VIID session and the uplink adapter the worker drives.

Session (per identity: the box's DeviceID, and each gate's APE when ``register_apes``):

- ``POST /VIID/System/Register`` ``{"RegisterObject": {"DeviceID": …}}`` with HTTP digest
  (``requests``' HTTPDigestAuth: qop=auth or none, quoted values, nonce counting); with
  ``digest_uri = "auto"`` a second 401 makes the box try the absolute-URL ``uri`` form once
  and keep whichever the platform accepted;
- ``POST /VIID/System/Keepalive`` every ``keepalive_s``; a failed keepalive or any 401
  means the platform forgot us: register again before sending anything;
- ``GET /VIID/System/Time`` every ``time_sync_s``: the skew against the platform goes into
  health (the box's clock is NTP's business; object times are the box's own);
- ``POST /VIID/System/UnRegister`` on a clean stop.

A registration the platform refuses for good (HTTP 400/403/404/405, StatusCode 4-8) is a
:class:`RegistrationRefusedError`: rows stay pending, health says why, and the worker backs
off to its maximum instead of looking like an outage.

Replies: every ResponseStatus is mapped by :func:`sync.gat1400.codes.action_for`; one status
for the whole request (no Id, or the DeviceID, NotificationID or request URL as Id) stands
for every object in it. Every request is ``application/VIID+JSON;charset=UTF-8`` with
``User-Identify: <DeviceID>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from PIL import Image as PILImage

from edge.config.sync import SyncConfig
from edge.db import utc_now
from edge.store.outbox import OutboxRow
from sync.auth import ViidDigestAuth
from sync.gat1400 import codes
from sync.gat1400.objects import (
    FACE_KINDS,
    VEHICLE_KINDS,
    Ape,
    Image,
    disposition_notification,
    face,
    motor_vehicle,
    subscribe_notification,
)
from sync.gat1400.store import NOTIFY_TOPIC, dispositions_for_alert, subscription_target
from sync.protocol import BatchRejectedError, BatchResult, PlatformUnavailableError, load_snapshot
from sync.transport import Response, Transport

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/VIID+JSON;charset=UTF-8"
REFUSED_HTTP = {400, 403, 404, 405}
UNSUPPORTED_HTTP = {404, 405, 501}
PATHS = {
    "vehicle": ("/VIID/MotorVehicles", "MotorVehicleListObject", "MotorVehicleObject"),
    "face": ("/VIID/Faces", "FaceListObject", "FaceObject"),
    "disposition": (
        "/VIID/DispositionNotifications",
        "DispositionNotificationListObject",
        "DispositionNotificationObject",
    ),
    "subscription": (
        "/VIID/SubscribeNotifications",
        "SubscribeNotificationListObject",
        "SubscribeNotificationObject",
    ),
}


class RegistrationRefusedError(PlatformUnavailableError):
    """The platform refuses this device for good (wrong URL, unknown DeviceID, bad request)."""


def _status_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip().lstrip("-")
        if digits.isascii() and digits.isdigit():  # '²' and '٣' are digits to isdigit()
            return int(value.strip())
    return None


def parse_status_reply(body: bytes) -> list[dict[str, Any]]:
    """Every ResponseStatusObject in a reply as ``{"id", "code", "text"}``; tolerant of shape
    (a list object or one status, a number or a string code, a ``ResponseStatus`` key).

    Raises ValueError when the body holds no status object with a readable StatusCode.
    """
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("reply is not a JSON object")
    container = doc.get("ResponseStatusListObject", doc)
    objects = None
    if isinstance(container, dict):
        objects = container.get("ResponseStatusObject", container.get("ResponseStatus"))
    if objects is None:
        raise ValueError("no ResponseStatusObject in reply")
    if isinstance(objects, dict):
        objects = [objects]
    if not isinstance(objects, list) or not objects:
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


def parse_time_reply(body: bytes, zone: ZoneInfo) -> datetime:
    """The platform's clock from ``/VIID/System/Time``: ``SystemTimeObject.LocalTime`` as
    ``yyyyMMddHHmmss`` (in its TimeZone, else the site's) or as epoch milliseconds/seconds
    (number or digit string); a bare number or ``{"LocalTime": …}`` is taken too."""
    doc = json.loads(body)
    obj = doc.get("SystemTimeObject", doc) if isinstance(doc, dict) else doc
    value = obj.get("LocalTime", obj.get("Time")) if isinstance(obj, dict) else obj
    if isinstance(value, bool) or value is None:
        raise ValueError("no LocalTime in the time reply")
    text = str(value).strip()
    ascii_digits = text.isascii() and text.isdigit()  # '²' and '٣' are digits to isdigit()
    if isinstance(value, (int, float)) or (ascii_digits and len(text) in (10, 13)):
        number = float(text)
        return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    if len(text) == 14 and ascii_digits:
        tz_name = obj.get("TimeZone") if isinstance(obj, dict) else None
        try:
            tz = ZoneInfo(tz_name) if isinstance(tz_name, str) and "/" in tz_name else zone
        except (ValueError, KeyError):
            tz = zone
        # whole seconds: the platform's clock is somewhere in that second, its middle on average
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=tz) + timedelta(seconds=0.5)
    raise ValueError(f"LocalTime {text[:20]!r} is neither yyyyMMddHHmmss nor epoch time")


@dataclass
class Identity:
    """One registered DeviceID (the box or an APE) and its session state."""

    device_id: str
    auth: ViidDigestAuth
    registered: bool = False
    last_keepalive: float = 0.0


@dataclass
class Health:
    registrations: int = 0
    last_refusal: str | None = None
    clock_skew_s: float | None = None
    time_checked_at: str | None = None
    digest_uri: str = "path"
    not_carried: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Gat1400Protocol:
    """Registration, keepalive, time and uploads to one VIID platform."""

    def __init__(
        self,
        transport: Transport,
        config: SyncConfig,
        password: str,
        zone: ZoneInfo,
        db: sqlite_utils.Database | None = None,
        snapshot_dir: Path | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        self.transport = transport
        self.config = config
        self.options = config.gat1400
        self.device_id = config.device_id
        self.password = password
        self.zone = zone
        self.db = db
        self.snapshot_dir = snapshot_dir
        self.clock = clock
        self.org = self.options.org_code or self.device_id[:12]
        self.apes = {
            a.gate: Ape(a.gate, a.ape_id, a.tollgate_id, a.lane_no, a.direction)
            for a in self.options.apes
        }
        self.absolute_uri = self.options.digest_uri == "absolute"
        self.health = Health(digest_uri="absolute" if self.absolute_uri else "path")
        username = config.username or self.device_id
        ids = [self.device_id]
        if self.options.register_apes:
            ids += [a.ape_id for a in self.options.apes if a.ape_id != self.device_id]
        # every identity signs in with the box's account (one user and password per box)
        self.identities = [
            Identity(i, ViidDigestAuth(username, password, self.absolute_uri)) for i in ids
        ]
        self._next_time_sync = 0.0
        self.next_expiry = 0.0  # subscriptions' expiry check (sync.service)

    @property
    def registered(self) -> bool:
        return all(identity.registered for identity in self.identities)

    # -- plumbing ----------------------------------------------------------------------------
    def _headers(self, device_id: str | None = None) -> dict[str, str]:
        return {
            "Content-Type": CONTENT_TYPE,
            "Accept": "application/VIID+JSON, application/json",
            "User-Identify": device_id or self.device_id,
        }

    def _request(
        self, method: str, url: str, doc: Any, identity: Identity | None = None
    ) -> Response:
        identity = identity or self.identities[0]
        body = (
            None
            if doc is None
            else json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        )
        return self.transport.request_url(
            method, url, body, self._headers(identity.device_id), identity.auth
        )

    def _url(self, path: str) -> str:
        return self.transport.url_for(path)

    @staticmethod
    def _statuses(reply: Response, what: str) -> list[dict[str, Any]]:
        try:
            return parse_status_reply(reply.body)
        except ValueError as exc:
            raise PlatformUnavailableError(f"{what}: unusable reply: {exc}"[:300]) from None

    # -- session -----------------------------------------------------------------------------
    def register(self, identity: Identity | None = None) -> None:
        identity = identity or self.identities[0]
        path = "/VIID/System/Register"
        doc = {"RegisterObject": {"DeviceID": identity.device_id}}
        reply = self._request("POST", self._url(path), doc, identity)
        if reply.status == 401 and self.options.digest_uri == "auto":
            for other in self.identities:
                other.auth.absolute_uri = not other.auth.absolute_uri
            retry = self._request("POST", self._url(path), doc, identity)
            if retry.status == 401:  # neither form: the credentials are wrong; go back
                for other in self.identities:
                    other.auth.absolute_uri = not other.auth.absolute_uri
            else:
                reply = retry
                self.health.digest_uri = "absolute" if identity.auth.absolute_uri else "path"
                log.info("VIID platform takes the digest uri as %s", self.health.digest_uri)
        if reply.status == 401:
            raise PlatformUnavailableError(
                f"register {identity.device_id}: HTTP 401 (credentials refused)"
            )
        if reply.status in REFUSED_HTTP:
            self._refused(f"register {identity.device_id}: HTTP {reply.status}")
        if reply.status != 200:
            raise PlatformUnavailableError(f"register {identity.device_id}: HTTP {reply.status}")
        status = self._statuses(reply, "register")[0]
        action = codes.action_for(status["code"], status["text"], 0)
        if action == "dead":
            self._refused(f"register {identity.device_id}: StatusCode {status['code']}")
        if action == "retry":
            raise PlatformUnavailableError(f"register: StatusCode {status['code']}")
        identity.registered = True
        identity.last_keepalive = self.clock()
        self.health.registrations += 1
        self.health.last_refusal = None
        log.info("registered with the VIID platform as device %s", identity.device_id)

    def _refused(self, why: str) -> None:
        message = f"{why} — the platform refuses this device; check platform_url and device_id"
        self.health.last_refusal = message
        raise RegistrationRefusedError(message)

    def keepalive(self, identity: Identity) -> None:
        doc = {"KeepaliveObject": {"DeviceID": identity.device_id}}
        try:
            reply = self._request("POST", self._url("/VIID/System/Keepalive"), doc, identity)
            if reply.status != 200:
                raise PlatformUnavailableError(f"keepalive: HTTP {reply.status}")
            status = self._statuses(reply, "keepalive")[0]
            if status["code"] != 0:
                raise PlatformUnavailableError(f"keepalive: StatusCode {status['code']}")
        except Exception:  # the session is in doubt (a restarted platform forgot everyone)
            for other in self.identities:
                other.registered = False
            raise
        identity.last_keepalive = self.clock()

    def sync_time(self) -> float:
        """Read the platform's clock; returns (and keeps for health) platform − box, s."""
        sent = time.time()
        reply = self._request("GET", self._url("/VIID/System/Time"), None)
        received = time.time()
        if reply.status != 200:
            raise PlatformUnavailableError(f"time: HTTP {reply.status}")
        try:
            platform = parse_time_reply(reply.body, self.zone)
        except (ValueError, TypeError, AttributeError) as exc:
            raise PlatformUnavailableError(f"time: unusable reply: {exc}"[:300]) from None
        skew = platform.timestamp() - (sent + received) / 2
        self.health.clock_skew_s = round(skew, 1)
        self.health.time_checked_at = utc_now().isoformat()
        if abs(skew) > self.options.max_skew_s:
            log.warning("the box's clock is %.1f s off the VIID platform's", -skew)
        return skew

    def tick(self) -> None:
        """Register whoever is not, keep alive, read the time when due."""
        now = self.clock()
        for identity in self.identities:
            if not identity.registered:
                self.register(identity)
            elif now - identity.last_keepalive >= self.config.keepalive_s:
                self.keepalive(identity)
        if self.options.time_sync_s and now >= self._next_time_sync:
            self._next_time_sync = now + self.options.time_sync_s
            try:
                self.sync_time()
            except PlatformUnavailableError as exc:  # a platform without the endpoint
                log.info("VIID time not read: %s", exc)

    def unregister(self) -> None:
        """Tell the platform we are going (clean stop); never raises."""
        for identity in self.identities:
            if not identity.registered:
                continue
            doc = {"UnRegisterObject": {"DeviceID": identity.device_id}}
            try:
                self._request("POST", self._url("/VIID/System/UnRegister"), doc, identity)
            except Exception as exc:  # stopping anyway: a failed goodbye changes nothing
                log.info("unregister %s failed: %s", identity.device_id, exc)
            identity.registered = False

    def close(self) -> None:
        self.unregister()
        self.transport.close()

    def status(self) -> dict[str, Any]:
        """Session health for the status file."""
        skew = self.health.clock_skew_s
        return {
            "registered": {i.device_id: i.registered for i in self.identities},
            "registrations": self.health.registrations,
            "refused": self.health.last_refusal,
            "clock_skew_s": skew,
            "clock_checked_at": self.health.time_checked_at,
            "clock_alarm": skew is not None and abs(skew) > self.options.max_skew_s,
            "digest_uri": self.health.digest_uri,
            "not_carried": self.health.not_carried,
        }

    # -- images ------------------------------------------------------------------------------
    def image_url(self, relative: str) -> str:
        signature = hmac.new(self.password.encode(), relative.encode(), "sha256").hexdigest()
        return f"{self.options.public_url}/VIID/Images/{relative}?sig={signature[:32]}"

    def _image(self, event: dict[str, Any]) -> Image | None:
        relative = event.get("snapshot_path")
        if not relative or self.snapshot_dir is None:
            return None
        path = (self.snapshot_dir / relative).resolve()
        if not path.is_relative_to(self.snapshot_dir.resolve()):
            return None
        try:
            with PILImage.open(path) as picture:
                width, height = picture.size
        except (OSError, ValueError):
            return None  # retention removed it, or it is not an image
        if self.options.images == "url":
            return Image(None, self.image_url(relative), width, height)
        snap = load_snapshot(self.snapshot_dir, relative, self.config.snapshot_max_bytes)
        if snap is None or snap.data_b64 is None:
            return None
        return Image(snap.data_b64, None, width, height)

    # -- uploads -----------------------------------------------------------------------------
    def ape_for(self, gate_id: Any) -> Ape:
        """The gate's APE, or the box itself when the gate has none configured."""
        return self.apes.get(str(gate_id)) or Ape(str(gate_id), self.device_id)

    def passage_object(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event.get("kind")
        ape = self.ape_for(event.get("gate_id"))
        if kind in VEHICLE_KINDS:
            return motor_vehicle(event, ape, self.zone, self._image(event))
        if kind in FACE_KINDS:
            return face(event, ape, self.zone, self._image(event))
        return None

    def _passage_of(self, alert: dict[str, Any]) -> dict[str, Any] | None:
        related = alert.get("related_event_id")
        if not related or self.db is None:
            return None
        row = self.db.execute("SELECT * FROM events WHERE id = ?", (related,)).fetchone()
        if row is None:
            return None
        names = [d[0] for d in self.db.execute("SELECT * FROM events LIMIT 0").description]
        event = dict(zip(names, row, strict=True))
        event["details"] = json.loads(event.get("details") or "{}")
        return self.passage_object(event)

    def send(self, rows: list[OutboxRow]) -> BatchResult:
        self.tick()
        result: BatchResult = {}
        # destination URL -> kind -> [(row, object id, object)]
        groups: dict[tuple[str, str], list[tuple[OutboxRow, str, dict]]] = {}

        def add(url: str, kind: str, row: OutboxRow, obj_id: str, obj: dict) -> None:
            groups.setdefault((url, kind), []).append((row, obj_id, obj))

        for row in rows:
            payload = json.loads(row.payload)
            if row.topic == "event":
                self._route_event(row, payload, add, result)
            elif row.topic == NOTIFY_TOPIC:
                self._route_notification(row, payload, add, result)
            else:
                result[row.key] = f"GA/T 1400 has no object for {row.topic} rows"
        outcomes: dict[str, list[str | None]] = {}
        for (url, kind), items in groups.items():
            for key, outcome in self._upload(url, kind, items).items():
                outcomes.setdefault(key, []).append(outcome)
        for key, results in outcomes.items():
            refusals = [r for r in results if r is not None]
            result[key] = refusals[0] if refusals else None
        return {row.key: result[row.key] for row in rows}

    def _not_carried(self, row: OutboxRow, result: BatchResult) -> None:
        self.health.not_carried += 1
        result[row.key] = None

    def _route_event(self, row: OutboxRow, event: dict, add: Any, result: BatchResult) -> None:
        kind = event.get("kind")
        if kind in VEHICLE_KINDS or kind in FACE_KINDS:
            if not self.options.direct_upload:
                result[row.key] = None  # subscriptions carry it (sync.gat1400.store.fan_out)
                return
            obj = self.passage_object(event)
            assert obj is not None
            vehicle = kind in VEHICLE_KINDS
            obj_id = obj["MotorVehicleID" if vehicle else "FaceID"]
            path = PATHS["vehicle" if vehicle else "face"][0]
            add(self._url(path), "vehicle" if vehicle else "face", row, obj_id, obj)
            return
        if kind == "watchlist_alert" and self.db is not None:
            hits = dispositions_for_alert(self.db.conn, event)
            if not hits:  # a local watch entry: the community's own list, not a 布控
                self._not_carried(row, result)
                return
            ape = self.ape_for(event.get("gate_id"))
            passage = self._passage_of(event)
            for disp_id, title, addr in hits:
                obj = disposition_notification(
                    event, ape, self.zone, disp_id, title, self.org, passage
                )
                url = addr or self._url(PATHS["disposition"][0])
                add(url, "disposition", row, obj["NotificationID"], obj)
            return
        self._not_carried(row, result)  # manual opens, door alarms: the box's own records

    def _route_notification(
        self, row: OutboxRow, payload: dict, add: Any, result: BatchResult
    ) -> None:
        sub_id = str(payload.get("subscription"))
        target = subscription_target(self.db.conn, sub_id) if self.db is not None else None
        if target is None or target[2] != 0:
            result[row.key] = None  # cancelled or expired: honoured, not sent
            return
        event = payload["event"]
        obj = self.passage_object(event)
        if obj is None:
            result[row.key] = None
            return
        note = subscribe_notification(sub_id, target[1], event, obj, self.org, self.zone)
        add(target[0], "subscription", row, note["NotificationID"], note)

    def _upload(
        self, url: str, kind: str, items: list[tuple[OutboxRow, str, dict]]
    ) -> dict[str, str | None]:
        _, list_name, item_name = PATHS[kind]
        doc = {list_name: {item_name: [obj for _, _, obj in items]}}
        reply = self._request("POST", url, doc)
        where = url.removeprefix(self.transport.base_url)
        if reply.status == 401:
            for identity in self.identities:
                identity.registered = False
            raise PlatformUnavailableError(f"{where}: HTTP 401 (not registered)")
        if reply.status in (400, 413, 422):
            if len(items) == 1:
                return {items[0][0].key: f"{where}: HTTP {reply.status}"}
            raise BatchRejectedError(f"{where}: HTTP {reply.status}")
        if reply.status in UNSUPPORTED_HTTP:
            reason = f"the platform does not take {where} (HTTP {reply.status})"
            return {row.key: reason for row, _, _ in items}
        if reply.status != 200:
            raise PlatformUnavailableError(f"{where}: HTTP {reply.status}")
        statuses = self._statuses(reply, where)
        by_id = {s["id"]: s for s in statuses if s["id"]}
        whole = statuses[0] if len(statuses) == 1 else None
        outcome: dict[str, str | None] = {}
        retry = None
        for row, obj_id, _ in items:
            status = by_id.get(obj_id)
            if status is None:
                if whole is None:
                    raise PlatformUnavailableError(f"{where}: no status for object {obj_id}")
                status = whole  # one status for the whole request (any Id but ours)
            action = codes.action_for(status["code"], status["text"], row.attempts)
            text = f"StatusCode {status['code']} {status['text']}"[:500]
            if action == "deliver":
                outcome[row.key] = None
            elif action == "retry":
                retry = text
            elif status is whole and len(items) > 1:
                raise BatchRejectedError(text)  # split until the bad object stands alone
            else:
                outcome[row.key] = text
        if retry is not None:
            raise PlatformUnavailableError(f"{where}: {retry}")
        return outcome


def image_signature_ok(secret: str, relative: str, signature: str) -> bool:
    expected = hmac.new(secret.encode(), relative.encode(), "sha256").hexdigest()[:32]
    return hmac.compare_digest(expected, signature)
