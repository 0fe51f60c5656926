"""The box as a GA/T 1400 server: the platform's Subscribes and Dispositions, and images.

Why its own small app served by ``menwei sync`` (waitress on ``[sync.gat1400] listen``),
not a console blueprint: subscriptions and dispositions are the sync process's state — a
subscription starts the fan-out and a cancel stops it in the same process that owns the
outbox cursor — and the platform is a machine with digest credentials, not a console user
with a session. A port of its own can be opened to the platform's address only.

Every request is HTTP-digest authenticated with the box's 1400 credentials (the same user
and password the box registers with; qop=auth or none, path or absolute ``uri``), except
``GET /VIID/Images/…``, which needs the HMAC signature the box put in the StoragePath. A
captured request cannot be replayed: nonces expire after ``NONCE_LIFETIME_S`` and each
nonce's count must rise (``sync.auth.NonceLedger``). Why not Flask-HTTPAuth's digest: it
keeps nonces in the Flask session cookie (a platform client keeps no cookies), passes
``verify_nonce`` the nonce alone (no nonce-count, so no replay check is possible there), and
does not compare the ``uri`` parameter with the request it authenticates.

Routes (GA/T 1400.4):

- ``POST /VIID/Subscribes`` ``SubscribeListObject``; ``PUT /VIID/Subscribes`` (same, batch);
  ``PUT /VIID/Subscribes/<id>`` ``SubscribeObject`` (OperateType 1 = cancel);
  ``DELETE /VIID/Subscribes?IDList=a,b``; ``GET /VIID/Subscribes``;
- the same four for ``/VIID/Dispositions`` (``DispositionListObject``; OperateType 1 = 撤控);
- ``GET /VIID/System/Time``; ``GET /VIID/Images/<snapshot path>?sig=…``.

Replies are ``ResponseStatusListObject`` with one ResponseStatusObject per ID (StatusCode 0,
or 4 / 8 with the reason); a request that is not JSON gets StatusCode 7.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlite_utils
from flask import Flask, Response, request, send_file
from waitress.server import create_server

from edge.config.sync import SyncConfig
from edge.db import connect, transaction, utc_now
from sync.auth import NonceLedger
from sync.gat1400.client import CONTENT_TYPE, Gat1400Protocol, image_signature_ok
from sync.gat1400.store import (
    ViidRequestError,
    apply_disposition,
    cancel_disposition,
    list_dispositions,
    list_subscriptions,
    parse_disposition,
    parse_subscription,
    save_subscription,
)

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024
MAX_NONCES = 256
NONCE_LIFETIME_S = 300.0
REALM = "menwei-viid"


class ViidServerState:
    """What the routes need; one per server."""

    def __init__(
        self,
        db_path: Path,
        users: dict[str, str],
        zone: ZoneInfo,
        allowed_hosts: set[str],
        max_subscriptions: int,
        snapshot_dir: Path | None,
        image_secret: str,
        add_face: Callable[..., int] | None = None,
        device_id: str = "",
    ) -> None:
        self.db_path = db_path
        self.users = users
        self.zone = zone
        self.allowed_hosts = allowed_hosts
        self.max_subscriptions = max_subscriptions
        self.snapshot_dir = snapshot_dir
        self.image_secret = image_secret
        self.add_face = add_face
        self.device_id = device_id
        self.nonces = NonceLedger(NONCE_LIFETIME_S, MAX_NONCES)
        self._local = threading.local()

    def db(self) -> sqlite_utils.Database:
        """One connection per server thread (a SQLite connection belongs to one thread)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.db_path)
            self._local.db = db
        return db


def _status(request_url: str, code: int, text: str, obj_id: str = "") -> dict[str, Any]:
    return {
        "RequestURL": request_url,
        "StatusCode": code,
        "StatusString": text[:200],
        "Id": obj_id,
        "LocalTime": datetime.now().strftime("%Y%m%d%H%M%S"),
    }


def _reply(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(doc, ensure_ascii=False)
    return Response(body, status=status, content_type=CONTENT_TYPE, headers=headers)


def _statuses(statuses: list[dict]) -> Response:
    return _reply({"ResponseStatusListObject": {"ResponseStatusObject": statuses}})


def _objects(doc: Any, list_name: str, item_name: str) -> list[Any]:
    """Items of ``{list_name: {item_name: [...]}}``, tolerating one object or a bare item."""
    if not isinstance(doc, dict):
        raise ViidRequestError("the body must be a JSON object")
    container = doc.get(list_name, doc)
    items = container.get(item_name) if isinstance(container, dict) else None
    if items is None:
        raise ViidRequestError(f"no {list_name}.{item_name} in the body")
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise ViidRequestError(f"{item_name} must be 1-100 objects")
    return items


def create_viid_app(state: ViidServerState) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.before_request
    def _authenticate() -> Response | None:
        if request.path.startswith("/VIID/Images/"):
            return None
        header = request.headers.get("Authorization", "")
        uris = (request.full_path.rstrip("?"), request.url, request.path)
        verdict = state.nonces.check(header, state.users, request.method, uris)
        if verdict.user is not None:
            return None
        stale = ", stale=true" if verdict.stale else ""
        nonce = state.nonces.issue()
        challenge = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5{stale}'
        return _reply(
            {"ResponseStatusObject": _status(request.path, 4, "Unauthorized")},
            401,
            {"WWW-Authenticate": challenge},
        )

    def body() -> Any:
        try:
            return json.loads(request.get_data() or b"null")
        except ValueError:
            raise ViidRequestError("the body is not JSON", 7) from None

    def handle(items: list[Any], one: Callable[[Any], str]) -> Response:
        statuses = []
        for item in items:
            obj_id = (
                str(item.get("SubscribeID") or item.get("DispositionID") or "")
                if isinstance(item, dict)
                else ""
            )
            try:
                obj_id = one(item)
                statuses.append(_status(request.path, 0, "OK", obj_id))
            except ViidRequestError as exc:
                statuses.append(_status(request.path, exc.code, str(exc), obj_id))
        return _statuses(statuses)

    def subscribe(item: Any) -> str:
        sub = parse_subscription(item, state.zone, state.allowed_hosts)
        with transaction(state.db()) as conn:
            save_subscription(conn, sub, item, utc_now(), state.max_subscriptions)
        return sub.id

    def dispose(item: Any) -> str:
        disp = parse_disposition(item, state.zone, state.allowed_hosts)
        apply_disposition(state.db(), disp, utc_now(), state.add_face)
        return disp.id

    @app.errorhandler(ViidRequestError)
    def _refused(exc: ViidRequestError) -> Response:
        return _reply({"ResponseStatusObject": _status(request.path, exc.code, str(exc))})

    @app.route("/VIID/Subscribes", methods=["POST", "PUT"])
    def subscribes() -> Response:
        return handle(_objects(body(), "SubscribeListObject", "SubscribeObject"), subscribe)

    @app.route("/VIID/Subscribes/<sub_id>", methods=["PUT"])
    def subscribe_one(sub_id: str) -> Response:
        item = _objects(body(), "SubscribeListObject", "SubscribeObject")[0]
        if isinstance(item, dict):
            item = {**item, "SubscribeID": sub_id}
        return handle([item], subscribe)

    @app.route("/VIID/Subscribes", methods=["DELETE"])
    def unsubscribe() -> Response:
        ids = [i for i in (request.args.get("IDList") or "").split(",") if i]
        if not ids:
            raise ViidRequestError("IDList is required", 4)
        return handle([{"SubscribeID": i, "OperateType": 1} for i in ids], subscribe)

    @app.route("/VIID/Subscribes", methods=["GET"])
    def subscriptions() -> Response:
        rows = list_subscriptions(state.db().conn)
        return _reply({"SubscribeListObject": {"SubscribeObject": [_sub_out(r) for r in rows]}})

    @app.route("/VIID/Dispositions", methods=["POST", "PUT"])
    def dispositions() -> Response:
        return handle(_objects(body(), "DispositionListObject", "DispositionObject"), dispose)

    @app.route("/VIID/Dispositions/<disp_id>", methods=["PUT"])
    def dispose_one(disp_id: str) -> Response:
        item = _objects(body(), "DispositionListObject", "DispositionObject")[0]
        if isinstance(item, dict):
            item = {**item, "DispositionID": disp_id}
        return handle([item], dispose)

    @app.route("/VIID/Dispositions", methods=["DELETE"])
    def undispose() -> Response:
        ids = [i for i in (request.args.get("IDList") or "").split(",") if i]
        if not ids:
            raise ViidRequestError("IDList is required", 4)

        def cancel(item: dict) -> str:
            cancel_disposition(state.db(), item["DispositionID"], utc_now())
            return str(item["DispositionID"])

        return handle([{"DispositionID": i} for i in ids], cancel)

    @app.route("/VIID/Dispositions", methods=["GET"])
    def disposition_list() -> Response:
        rows = list_dispositions(state.db().conn)
        return _reply(
            {
                "DispositionListObject": {
                    "DispositionObject": [
                        {
                            "DispositionID": r["id"],
                            "Title": r["title"],
                            "DispositionCategory": r["category"],
                            "DispositionStatus": r["status"],
                        }
                        for r in rows
                    ]
                }
            }
        )

    @app.route("/VIID/System/Time", methods=["GET"])
    def system_time() -> Response:
        now = datetime.now(state.zone)
        return _reply(
            {
                "SystemTimeObject": {
                    "VIIDServerID": state.device_id,
                    "TimeMode": "1",
                    "LocalTime": now.strftime("%Y%m%d%H%M%S"),
                    "TimeZone": str(state.zone),
                }
            }
        )

    @app.route("/VIID/Images/<path:relative>", methods=["GET"])
    def image(relative: str) -> Response:
        signature = request.args.get("sig", "")
        if state.snapshot_dir is None or not image_signature_ok(
            state.image_secret, relative, signature
        ):
            return Response("not found", 404)
        path = (state.snapshot_dir / relative).resolve()
        if not path.is_relative_to(state.snapshot_dir.resolve()) or not path.is_file():
            return Response("not found", 404)
        return send_file(path, mimetype="image/jpeg", max_age=86400)

    return app


def _sub_out(row: dict[str, Any]) -> dict[str, Any]:
    def local(value: str) -> str:
        moment = datetime.fromisoformat(value)
        return moment.strftime("%Y%m%d%H%M%S")

    return {
        "SubscribeID": row["id"],
        "Title": row["title"],
        "SubscribeDetail": row["categories"],
        "ResourceURI": row["resource_uri"],
        "ReceiveAddr": row["receive_addr"],
        "BeginTime": local(row["begin_at"]),
        "EndTime": local(row["end_at"]),
        "SubscribeStatus": row["status"],
    }


class ViidServer:
    """The app on waitress in a thread; ``start()`` / ``stop()``; ``url``."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.server = create_server(app, host=host, port=port, threads=2, ident="menwei")
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="viid-server")

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def start(self) -> ViidServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self.thread.join(5)


def start_viid_server(
    db: sqlite_utils.Database,
    config: SyncConfig,
    viid: Gat1400Protocol,
    add_face: Callable[..., int] | None,
) -> ViidServer:
    """Serve ``[sync.gat1400] listen`` for the platform, with the box's 1400 credentials."""
    options = config.gat1400
    assert options.listen is not None
    host, _, port = options.listen.rpartition(":")
    path = Path(db.execute("PRAGMA database_list").fetchone()[2])
    allowed = {(urlsplit(config.platform_url).hostname or "").lower()}
    allowed |= {h.lower() for h in options.receive_hosts}
    state = ViidServerState(
        path,
        {config.username or config.device_id: viid.password},
        viid.zone,
        allowed,
        options.max_subscriptions,
        viid.snapshot_dir,
        viid.password,
        add_face,
        config.device_id,
    )
    server = ViidServer(create_viid_app(state), host.strip("[]"), int(port)).start()
    log.info("GA/T 1400 server for the platform on %s", server.url)
    return server
