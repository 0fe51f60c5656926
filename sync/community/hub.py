"""`menwei hub serve`: the hub's HTTP(S) server for its gate boxes.

Routes (all JSON; every one but enrolment signed with the box's key, sync.auth):

- ``POST /community/v1/enrol`` ``{"box_id", "code"}`` → ``{"key"}``: spends a one-time code;
- ``GET /community/v1/changes?since=N&epoch=E&wait=S`` → the list changes after N in order
  (or a full snapshot), held open up to S seconds until there is one — the push that puts
  a revocation on every connected gate box within about a second (long-poll: plain HTTP
  through any proxy, no broker to run, and a box that reconnects asks for exactly what it
  missed);
- ``POST /community/v1/spend`` ``{"kind", "id"}`` → ``{"spent", "use"}``: a counted pass's
  use, spent here so two boxes cannot both spend the last;
- ``POST /api/v1/uplink``: the box's outbox, exactly as a district receives it;
- ``POST /community/v1/commands`` ``{"gates", "wait"}`` → ``{"commands"}``: the box says
  which gates it runs, and the request waits up to ``wait`` seconds for a command for one
  of them (a guard's open at the hub's console, sync.community.commands);
- ``POST /community/v1/commands/result`` ``{"id", "reply"}``: the gate's answer to one;
- ``POST /community/v1/prompts`` ``{"items", "closed"}``: the box's new questions for the
  guard, and those it has closed itself since (the hub's card drops them).

Changes and commands are written by other processes (the console, the district sync, the
CLI), so there is no in-process signal to wait on. A watcher thread asks SQLite every
``POLL_S`` whether any other connection has committed since it last looked (``PRAGMA
data_version``, answered from the connection's own state: no query, no file read) and
only then reads the newest change and command numbers (one indexed MAX each) and wakes the
waiting requests. A guard waits at the gate for a command, so the console also wakes the
watcher at once when it writes one (sync.community.commands.wake_hub: one datagram to the
hub's wake socket), and the relay moves within 300 ms of the click on a LAN; a lost
datagram (hub restarting) costs at most ``POLL_S``. Idle, the hub makes ten cheap checks
a second instead of the fifty MAX queries it made when it polled for commands.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import sqlite3
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlite_utils

from edge.db import connect, transaction, utc_now
from edge.pii import PiiVault
from sync.auth import verify
from sync.community.boxes import BoxError, box_key, box_scope, enrol, note_contact
from sync.community.commands import (
    bind_wake_socket,
    check_gates,
    close_prompts,
    finish_command,
    newest_command,
    report_gates,
    store_prompts,
    take_commands,
    wait_for_wake,
    wake_hub,
)
from sync.community.ingest import RowRefused, spend_at_hub, store_events
from sync.community.lists import (
    EPOCH_STATE,
    ROLE_STATE,
    changes_since,
    current_version,
    list_versions,
    needs_snapshot,
    prune,
    snapshot,
)
from sync.state import get_state, set_state

log = logging.getLogger(__name__)

POLL_S = 0.1
MAX_BODY = 64 * 1024 * 1024
MAX_WAIT_S = 60.0
MAX_ENROL_BODY = 4096
PRUNE_EVERY_S = 3600.0


def become_hub(db: sqlite_utils.Database) -> str:
    """Switch the change-log triggers on and return the log's epoch (made once)."""
    with transaction(db) as conn:
        set_state(conn, ROLE_STATE, "hub")
        epoch = get_state(conn, EPOCH_STATE)
        if epoch is None:
            epoch = utc_now().strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)
            set_state(conn, EPOCH_STATE, epoch)
    return epoch


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A gate box that hangs up mid-reply (killed, timed out) is normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


class HubServer:
    """``with HubServer(...) as hub:`` serves until the block ends; ``hub.url``."""

    def __init__(
        self,
        db_path: Path,
        vault: PiiVault,
        snapshot_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        code_ttl_s: int = 86400,
    ) -> None:
        self.db_path = db_path
        self.vault = vault
        self.snapshot_dir = snapshot_dir
        self.code_ttl_s = code_ttl_s
        db = connect(db_path)
        self.epoch = become_hub(db)
        self.version = current_version(db.conn)
        self.command = newest_command(db.conn)
        db.conn.close()
        self.changed = threading.Condition()
        self.commanded = threading.Condition()
        self.pollers: dict[str, object] = {}  # box id → its newest command poll
        self.stopping = threading.Event()
        self.local = threading.local()
        self.server = _Server((host, port), _handler(self))
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def db(self) -> sqlite_utils.Database:
        """This request thread's connection (a connection belongs to one thread)."""
        db = getattr(self.local, "db", None)
        if db is None:
            db = self.local.db = connect(self.db_path, apply_migrations=False)
        return db

    def start(self) -> HubServer:
        for target in (self.server.serve_forever, self._watch):
            thread = threading.Thread(target=target, daemon=True, name="hub")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        wake_hub(self.db_path)  # the watcher stops waiting at once
        for condition in (self.changed, self.commanded):
            with condition:
                condition.notify_all()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:  # the watcher lets go of its wake socket before a new
            thread.join(10)  # hub on the same database binds it
        self._threads.clear()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _watch(self) -> None:
        db = connect(self.db_path, apply_migrations=False)
        wake = bind_wake_socket(self.db_path)
        next_prune = 0.0
        seen_data = None
        try:
            while not self.stopping.is_set():
                woken = wait_for_wake(wake, POLL_S) if wake is not None else False
                if not woken:
                    self.stopping.wait(0 if wake is not None else POLL_S)
                try:
                    data = db.conn.execute("PRAGMA data_version").fetchone()[0]
                    if data == seen_data and not woken:
                        continue  # nobody else has committed anything since the last look
                    seen_data = data
                    command, version = newest_command(db.conn), current_version(db.conn)
                except Exception as exc:  # a busy or faulted store: keep watching
                    log.warning("hub: cannot read the commands and changes: %s", exc)
                    seen_data = None
                    continue
                if command != self.command:
                    with self.commanded:
                        self.command = command
                        self.commanded.notify_all()
                if version != self.version:
                    with self.changed:
                        self.version = version
                        self.changed.notify_all()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                    try:
                        prune(db)
                    except Exception as exc:  # a busy or faulted store: prune next time
                        log.warning("hub: change log not pruned: %s", exc)
        finally:
            if wake is not None:
                wake.close()
            db.conn.close()

    def wait_for_command(self, seen: int, deadline: float) -> None:
        """Until a command newer than ``seen`` is written, or the monotonic deadline."""
        with self.commanded:
            while self.command <= seen and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.commanded.wait(left)

    def wait_for(self, since: int, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        with self.changed:
            while self.version <= since and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.changed.wait(left)


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:  # no per-request lines: boxes poll often
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, doc: Any) -> None:
            body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self, limit: int = MAX_BODY) -> bytes | None:
            length = self.headers.get("Content-Length", "0")
            if not (length.isascii() and length.isdigit()) or int(length) > limit:
                self._reply(413, {"error": "body missing or too large"})
                return None
            return self.rfile.read(int(length))

        def _box(self, method: str, body: bytes) -> str | None:
            """The authenticated box's id, or None after answering 401."""
            headers = {k.lower(): v for k, v in self.headers.items()}
            box_id = headers.get("x-menwei-device", "")
            key = box_key(hub.db().conn, hub.vault, box_id) if box_id else None
            why = "unknown or revoked box" if key is None else None
            if key is not None:
                why = verify("hmac", key, headers, method, self.path, body)
            if why is not None:
                self._reply(401, {"error": why})
                return None
            return box_id

        def _contact(self, box_id: str, **values: Any) -> None:
            stamp = _count(self.headers.get("X-Menwei-Timestamp", ""))
            skew = None if stamp is None else time.time() - stamp
            try:
                note_contact(
                    hub.db(), box_id, utc_now(), self.client_address[0], skew_s=skew, **values
                )
            except sqlite3.OperationalError as exc:  # busy: health can wait for the next poll
                log.info("hub: contact of %s not noted: %s", box_id, exc)

        def handle_one_request(self) -> None:
            """A busy or faulted store answers 503 (the box keeps its rows and retries)
            instead of dropping the connection."""
            try:
                super().handle_one_request()
            except sqlite3.Error as exc:
                log.warning("hub: store error while serving %s: %s", self.path, exc)
                with contextlib.suppress(OSError):
                    self._reply(503, {"error": "the hub's store is busy; retry"})
                self.close_connection = True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/community/v1/changes":
                self._reply(404, {"error": "not found"})
                return
            box_id = self._box("GET", b"")
            if box_id is None:
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            since, backlog = _count(query.get("since", "0")), _count(query.get("backlog", "0"))
            wait_s = _count(query.get("wait", "0").partition(".")[0])
            if since is None or backlog is None or wait_s is None:
                self._reply(400, {"error": "since, wait and backlog must be whole numbers"})
                return
            wait_s = min(wait_s, int(MAX_WAIT_S))
            self._contact(box_id, version=max(since, 0), backlog=backlog)
            _groups, floor = box_scope(hub.db().conn, box_id)
            if not needs_snapshot(hub.db().conn, since, query.get("epoch"), floor):
                hub.wait_for(since, wait_s)
            self._reply(200, self._changes(box_id, since, query.get("epoch")))

        def _changes(self, box_id: str, since: int, epoch: str | None) -> dict[str, Any]:
            conn = hub.db().conn
            conn.execute("BEGIN")  # one read snapshot (WAL): rows and log agree, no lock taken
            try:
                return self._read_changes(conn, box_id, since, epoch)
            finally:
                conn.execute("COMMIT")

        def _read_changes(
            self, conn: sqlite3.Connection, box_id: str, since: int, epoch: str | None
        ) -> dict[str, Any]:
            groups, floor = box_scope(conn, box_id)
            version = current_version(conn)
            doc: dict[str, Any] = {
                "epoch": hub.epoch,
                "version": version,
                "versions": list_versions(conn),
            }
            if needs_snapshot(conn, since, epoch, floor):
                doc["snapshot"] = snapshot(conn, hub.vault, groups)
                return doc
            changes, more = changes_since(conn, since, hub.vault, groups=groups)
            if changes and more:
                doc["version"] = changes[-1].seq
            doc["more"] = more
            doc["changes"] = [
                {"seq": c.seq, "list": c.list, "id": c.id, "row": c.row} for c in changes
            ]
            return doc

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path == "/community/v1/enrol":  # unauthenticated: a small body only
                body = self._body(MAX_ENROL_BODY)
                if body is not None:
                    self._enrol(body)
                return
            if path not in (
                "/community/v1/spend",
                "/api/v1/uplink",
                "/community/v1/commands",
                "/community/v1/commands/result",
                "/community/v1/prompts",
            ):
                self._reply(404, {"error": "not found"})
                self.close_connection = True
                return
            device = self.headers.get("X-Menwei-Device", "")
            if not device or box_key(hub.db().conn, hub.vault, device) is None:
                self._reply(401, {"error": "unknown or revoked box"})  # body never read
                self.close_connection = True
                return
            body = self._body()
            if body is None:
                return
            box_id = self._box("POST", body)
            if box_id is None:
                return
            try:
                doc = json.loads(body)
                if not isinstance(doc, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self._reply(400, {"error": f"not a JSON object: {exc}"})
                return
            if path == "/community/v1/spend":
                self._spend(doc)
            elif path == "/community/v1/commands":
                self._commands(box_id, doc)
            elif path == "/community/v1/commands/result":
                self._command_result(box_id, doc)
            elif path == "/community/v1/prompts":
                try:
                    results = store_prompts(hub.db(), box_id, doc.get("items", []))
                    closed = close_prompts(hub.db(), box_id, doc.get("closed", []), utc_now())
                except ValueError as exc:
                    self._reply(400, {"error": str(exc)})
                    return
                self._reply(200, {"results": results, "closed": closed})
            else:
                self._uplink(box_id, doc)

        def _enrol(self, body: bytes) -> None:
            try:
                doc = json.loads(body)
                box_id, code = doc["box_id"], doc["code"]
                if not isinstance(box_id, str) or not isinstance(code, str):
                    raise TypeError("box_id and code must be text")
                key = enrol(hub.db(), hub.vault, box_id, code, utc_now())
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, {"error": f"malformed enrolment: {exc}"})
                return
            except BoxError as exc:
                log.warning("hub: refused an enrolment from %s: %s", self.client_address[0], exc)
                self._reply(403, {"error": str(exc)})
                return
            log.info("hub: box %s enrolled from %s", box_id, self.client_address[0])
            self._reply(200, {"key": key.decode("ascii"), "epoch": hub.epoch})

        def _spend(self, doc: dict[str, Any]) -> None:
            kind, item = doc.get("kind"), doc.get("id")
            if (
                kind not in ("qr", "visitor", "vehicle")
                or not isinstance(item, int)
                or isinstance(item, bool)
                or not 0 < item < 2**63
            ):
                self._reply(400, {"error": "kind must be qr, visitor or vehicle; id an integer"})
                return
            spent, use = spend_at_hub(hub.db(), kind, item, utc_now())
            self._reply(200, {"spent": spent, "use": use})

        def _commands(self, box_id: str, doc: dict[str, Any]) -> None:
            wait = doc.get("wait", 0)
            try:
                gates = check_gates(doc.get("gates", []))
                if not isinstance(wait, int | float) or isinstance(wait, bool) or wait < 0:
                    raise ValueError("wait must be a number of seconds")
            except ValueError as exc:
                self._reply(400, {"error": str(exc)})
                return
            refused = report_gates(hub.db(), box_id, gates)
            for why in refused:
                log.warning("hub: box %s reports a gate it cannot have: %s", box_id, why)
            self._contact(box_id)
            deadline = time.monotonic() + min(float(wait), MAX_WAIT_S)
            token = object()  # a newer poll of the same box (a restarted link) supersedes
            hub.pollers[box_id] = token  # this one: it must not take commands for a dead peer
            commands: list[dict[str, Any]] = []
            while hub.pollers.get(box_id) is token:
                seen = hub.command
                commands = take_commands(hub.db(), box_id, utc_now())
                if commands or time.monotonic() >= deadline or hub.stopping.is_set():
                    break
                hub.wait_for_command(seen, deadline)
            self._reply(200, {"commands": commands, "refused_gates": refused})

        def _command_result(self, box_id: str, doc: dict[str, Any]) -> None:
            command_id, reply = doc.get("id"), doc.get("reply")
            if not isinstance(command_id, int) or isinstance(command_id, bool):
                self._reply(400, {"error": "id must be an integer"})
                return
            if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
                self._reply(400, {"error": "reply must be an object with ok"})
                return
            kept = finish_command(hub.db(), box_id, command_id, reply, utc_now())
            self._reply(200, {"kept": kept})

        def _uplink(self, box_id: str, doc: dict[str, Any]) -> None:
            items = doc.get("items")
            if not isinstance(items, list) or doc.get("device_id") != box_id:
                self._reply(400, {"error": "items missing or device_id is not the signer"})
                return
            try:
                results = store_events(hub.db(), box_id, items, hub.snapshot_dir, utc_now())
            except RowRefused as exc:
                self._reply(422, {"error": str(exc)})
                return
            self._contact(box_id)
            self._reply(200, {"results": results})

    return Handler


def _count(text: str) -> int | None:
    """A whole number of ASCII digits (``int()`` also takes '٣' and ' 3'), else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """The hub's server-side TLS (1.2 or newer) from PEM files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context
