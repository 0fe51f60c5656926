"""A VIID platform simulator: a real HTTP server on 127.0.0.1 that behaves like one of
several GA/T 1400 server implementations, for the conformance suite, the demo and bench.

Each profile is written from the message definitions of GA/T 1400.4 and the variants open
server implementations show (docs/sync-protocol.md lists them):

- ``standard``: digest with qop=auth over the path, ``ResponseStatusListObject`` with one
  integer-coded status per object, ``SystemTimeObject.LocalTime`` as yyyyMMddHHmmss, and
  only ``application/VIID+JSON`` bodies (415 otherwise);
- ``legacy``: RFC 2069 digest (no qop) hashed over the *absolute* URL, one
  ``ResponseStatusObject`` for the whole request with a string code and the DeviceID as
  Id, the time as epoch milliseconds, any JSON content type;
- ``subscriber``: takes data only through subscriptions — it refuses direct object
  uploads (405) and instead subscribes on the box (``subscribe()``) and receives
  ``SubscribeNotifications``, answering ``{"ResponseStatus": …}`` per NotificationID.

It stores every object once by its ID in SQLite (dedupe, as a platform must) and counts
receipts, and can misbehave: outage (503), random 500s, dropped connections after storing
(the ack is lost), StatusCodes per object ID, busy (StatusCode 2) answers, slow answers,
forgetting registrations (a restart). Never listens anywhere but loopback.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from sync.auth import check_digest

ZONE = ZoneInfo("Asia/Shanghai")
MAX_BODY = 64 * 1024 * 1024
OBJECT_LISTS = {
    "/VIID/MotorVehicles": ("MotorVehicleListObject", "MotorVehicleObject", "MotorVehicleID"),
    "/VIID/Faces": ("FaceListObject", "FaceObject", "FaceID"),
    "/VIID/DispositionNotifications": (
        "DispositionNotificationListObject",
        "DispositionNotificationObject",
        "NotificationID",
    ),
    "/VIID/SubscribeNotifications": (
        "SubscribeNotificationListObject",
        "SubscribeNotificationObject",
        "NotificationID",
    ),
}


@dataclass(frozen=True)
class Profile:
    name: str
    qop: bool
    digest_uri: str  # "path" | "absolute"
    single_status: bool
    string_codes: bool
    time_shape: str  # "local" | "epoch_ms"
    direct: bool  # accepts POST /VIID/MotorVehicles and /VIID/Faces
    status_key: str  # "list" | "ResponseStatus"
    strict_content_type: bool


PROFILES = {
    "standard": Profile("standard", True, "path", False, False, "local", True, "list", True),
    "legacy": Profile("legacy", False, "absolute", True, True, "epoch_ms", True, "list", False),
    "subscriber": Profile(
        "subscriber", True, "path", False, False, "local", False, "ResponseStatus", True
    ),
}


@dataclass
class Faults:
    outage: bool = False
    error_rate: float = 0.0  # 500 before storing
    drop_rate: float = 0.0  # store, then drop the connection (the ack is lost)
    busy_rate: float = 0.0  # 200 with StatusCode 2 for every object, nothing stored
    slow_s: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)  # object ID -> StatusCode to answer
    register_http: int | None = None  # answer Register with this HTTP status
    clock_offset_s: float = 0.0  # the platform's clock runs this far ahead


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-reply (a killed box, a timeout) is normal here."""


class ViidSimulator:
    """``with ViidSimulator("standard", users) as platform:`` → ``platform.url``."""

    def __init__(
        self,
        profile: str = "standard",
        users: dict[str, str] | None = None,
        db_path: Path | str = ":memory:",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.profile = PROFILES[profile]
        self.users = users or {}
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, path TEXT, device TEXT,"
            " body TEXT, times INTEGER)"
        )
        self.nonces: set[str] = set()
        self.registered: set[str] = set()
        self.registrations: list[str] = []
        self.unregistrations: list[str] = []
        self.keepalives = 0
        self.time_requests = 0
        self.receipts = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ViidSimulator:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.db.close()

    def __enter__(self) -> ViidSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what it holds -------------------------------------------------------------------
    def ids(self, path: str | None = None) -> list[str]:
        where, args = ("WHERE path = ?", (path,)) if path else ("", ())
        with self.lock:
            rows = self.db.execute(f"SELECT id FROM objects {where} ORDER BY id", args)
            return [r[0] for r in rows]

    def count(self, path: str | None = None) -> int:
        return len(self.ids(path))

    def object(self, obj_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM objects WHERE id = ?", (obj_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def objects(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT body FROM objects WHERE path = ? ORDER BY id", (path,))
            return [json.loads(r[0]) for r in rows]

    def duplicates(self) -> int:
        """Receipts of objects already held (resends the platform deduplicated)."""
        with self.lock:
            return self.db.execute("SELECT COALESCE(SUM(times - 1), 0) FROM objects").fetchone()[0]

    def _store(self, path: str, device: str, items: list[tuple[str, dict]]) -> None:
        with self.lock:
            self.db.execute("BEGIN")
            for obj_id, body in items:
                self.receipts += 1
                self.db.execute(
                    "INSERT INTO objects VALUES (?, ?, ?, ?, 1)"
                    " ON CONFLICT(id) DO UPDATE SET times = times + 1",
                    (obj_id, path, device, json.dumps(body, ensure_ascii=False)),
                )
            self.db.execute("COMMIT")

    # -- the platform as a client of the box's 1400 server -------------------------------
    def call_box(
        self, box_url: str, method: str, path: str, doc: Any, user: str, password: str
    ) -> dict[str, Any]:
        """One request to the box's server, digest-authenticated as a platform would."""
        reply = requests.request(
            method,
            box_url + path,
            json=doc,
            auth=requests.auth.HTTPDigestAuth(user, password),
            headers={"Content-Type": "application/VIID+JSON"},
            timeout=10,
        )
        reply.raise_for_status()
        return reply.json()

    def subscribe(
        self,
        box_url: str,
        user: str,
        password: str,
        subscribe_id: str,
        categories: str = "12,13",
        resources: str = "",
        minutes: float = 60,
        begin_offset_s: float = -60,
    ) -> dict[str, Any]:
        now = time.time()
        obj = {
            "SubscribeID": subscribe_id,
            "Title": f"simulator {self.profile.name}",
            "SubscribeDetail": categories,
            "ResourceURI": resources,
            "ApplicantName": "simulator",
            "ApplicantOrg": "county",
            "BeginTime": _local(now + begin_offset_s),
            "EndTime": _local(now + minutes * 60),
            "ReceiveAddr": f"{self.url}/VIID/SubscribeNotifications",
            "OperateType": 0,
        }
        doc = {"SubscribeListObject": {"SubscribeObject": [obj]}}
        return self.call_box(box_url, "POST", "/VIID/Subscribes", doc, user, password)


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZONE).strftime("%Y%m%d%H%M%S")


def _handler(platform: ViidSimulator) -> type[BaseHTTPRequestHandler]:
    profile = platform.profile

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/VIID+JSON;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _status(self, code: int, text: str, obj_id: str = "") -> dict[str, Any]:
            return {
                "RequestURL": self.path,
                "StatusCode": str(code) if profile.string_codes else code,
                "StatusString": text,
                "Id": obj_id,
                "LocalTime": _local(time.time()),
            }

        def _statuses(self, statuses: list[dict]) -> None:
            if profile.status_key == "ResponseStatus":
                self._reply(200, {"ResponseStatus": statuses})
            else:
                self._reply(200, {"ResponseStatusListObject": {"ResponseStatusObject": statuses}})

        def _roll(self, rate: float) -> bool:
            return rate > 0 and platform.rng.random() < rate

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length", "0")
            return self.rfile.read(int(length)) if length.isascii() and length.isdigit() else b""

        def _challenge(self) -> None:
            nonce = os.urandom(12).hex()
            platform.nonces.add(nonce)
            qop = ' qop="auth",' if profile.qop else ""
            challenge = f'Digest realm="viid",{qop} nonce="{nonce}", algorithm=MD5'
            self._reply(
                401,
                {"ResponseStatusObject": self._status(4, "Unauthorized")},
                {"WWW-Authenticate": challenge},
            )

        def _authenticated(self) -> bool:
            uri = (
                self.path if profile.digest_uri == "path" else f"http://{platform.host}{self.path}"
            )
            auth = self.headers.get("Authorization", "")
            return bool(
                auth
                and check_digest(
                    auth, platform.users, self.command, platform.nonces, (uri,), profile.qop
                )
            )

        def do_GET(self) -> None:
            platform.requests.append(("GET", self.path, dict(self.headers)))
            if platform.faults.outage:
                self._reply(503, {"error": "outage"})
                return
            if self.path == "/VIID/System/Time":
                platform.time_requests += 1
                now = time.time() + platform.faults.clock_offset_s
                if profile.time_shape == "epoch_ms":
                    self._reply(200, {"SystemTimeObject": {"LocalTime": int(now * 1000)}})
                else:
                    obj = {
                        "VIIDServerID": "34010000005030000001",
                        "TimeMode": "1",
                        "LocalTime": _local(now),
                        "TimeZone": "Asia/Shanghai",
                    }
                    self._reply(200, {"SystemTimeObject": obj})
                return
            self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            headers = dict(self.headers)
            platform.requests.append(("POST", self.path, headers))
            faults = platform.faults
            if faults.slow_s:
                time.sleep(faults.slow_s)
            if faults.outage:
                self._reply(503, {"error": "outage"})
                return
            if profile.strict_content_type and not self.headers.get(
                "Content-Type", ""
            ).lower().startswith("application/viid+json"):
                self._reply(415, {"error": "Content-Type must be application/VIID+JSON"})
                return
            identity = self.headers.get("User-Identify", "")
            if self.path == "/VIID/System/Register":
                if faults.register_http:
                    self._reply(faults.register_http, {"error": "refused"})
                    return
                if not self._authenticated():
                    self._challenge()
                    return
                device = json.loads(body)["RegisterObject"]["DeviceID"]
                platform.registered.add(device)
                platform.registrations.append(device)
                self._reply(200, {"ResponseStatusObject": self._status(0, "OK", device)})
                return
            if self.path == "/VIID/System/UnRegister":
                device = json.loads(body)["UnRegisterObject"]["DeviceID"]
                platform.registered.discard(device)
                platform.unregistrations.append(device)
                self._reply(200, {"ResponseStatusObject": self._status(0, "OK", device)})
                return
            if identity not in platform.registered:
                self._challenge()
                return
            if self.path == "/VIID/System/Keepalive":
                platform.keepalives += 1
                device = json.loads(body)["KeepaliveObject"]["DeviceID"]
                if device not in platform.registered:
                    self._challenge()
                    return
                self._reply(200, {"ResponseStatusObject": self._status(0, "OK", device)})
                return
            if self.path not in OBJECT_LISTS:
                self._reply(404, {"error": "not found"})
                return
            if not profile.direct and self.path in ("/VIID/MotorVehicles", "/VIID/Faces"):
                self._reply(405, {"error": "this platform takes data by subscription only"})
                return
            if self._roll(faults.error_rate):
                self._reply(500, {"error": "injected"})
                return
            self._objects(identity, body)

        def _objects(self, identity: str, body: bytes) -> None:
            list_name, item_name, id_name = OBJECT_LISTS[self.path]
            try:
                items = json.loads(body)[list_name][item_name]
                ids = [str(item[id_name]) for item in items]
            except (ValueError, KeyError, TypeError):
                self._reply(200, {"ResponseStatusObject": self._status(8, "Invalid JSON Content")})
                return
            faults = platform.faults
            if self._roll(faults.busy_rate):
                self._statuses([self._status(2, "Device Busy", i) for i in ids])
                return
            codes = {i: faults.codes.get(i, 0) for i in ids}
            good = [(i, item) for i, item in zip(ids, items, strict=True) if codes[i] == 0]
            platform._store(self.path, identity, good)
            if self._roll(faults.drop_rate):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if profile.single_status:
                worst = next((c for c in codes.values() if c), 0)
                self._reply(200, {"ResponseStatusObject": self._status(worst, "", identity)})
                return
            self._statuses(
                [self._status(codes[i], "" if not codes[i] else "refused", i) for i in ids]
            )

    return Handler
