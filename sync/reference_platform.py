"""A reference district platform: a real HTTP server on 127.0.0.1 for tests and the demo.

It speaks the JSON protocol (GA/T 1400 has its own: sync.gat1400.simulator), stores what
it receives in its own SQLite file deduplicated by key, serves downlink lists with ETags,
and can be told to misbehave the ways real platforms do: total outage, random 5xx,
timeouts, connections dropped after the rows were stored (the ack is lost, the box must
resend), slow answers, and invalid-row rejections (whole batch 422, or per row). Faults are
set in Python (``platform.faults``) or over HTTP (``POST /_control``), so a test can flip
them while a sync subprocess is running.

Never listens anywhere but loopback.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sqlite3
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sync.auth import verify

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Faults:
    outage: bool = False  # every request: 503
    error_rate: float = 0.0  # random 500 before storing
    timeout_rate: float = 0.0  # hang (longer than the client waits), then drop, before storing
    drop_rate: float = 0.0  # store, then drop the connection without answering
    slow_s: float = 0.0  # delay every answer
    hang_s: float = 3.0  # how long a "timeout" hangs
    invalid_keys: set[str] = field(default_factory=set)  # rows the platform refuses
    reject_mode: str = "batch"  # "batch": 422 for the whole batch; "row": per-row rejected
    garbage_rate: float = 0.0  # 200 with a body that is not a usable reply


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-reply (a killed box, a timeout) is normal here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ReferencePlatform:
    """Start with ``with ReferencePlatform(db_path) as platform:``; ``platform.url``."""

    def __init__(
        self,
        db_path: Path | str = ":memory:",
        secret: bytes = b"reference-secret",
        auth_mode: str = "hmac",
        port: int = 0,
        seed: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.secret = secret
        self.auth_mode = auth_mode
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS received (key TEXT PRIMARY KEY, device TEXT,"
            " topic TEXT, body TEXT, has_snapshot INTEGER, first_at REAL, times INTEGER);"
            "CREATE TABLE IF NOT EXISTS requests (n INTEGER);"
        )
        self.lists: dict[str, tuple[str, bytes, int]] = {}  # name -> (etag, body, status)
        self.receipts = 0  # rows received including duplicates
        self.server = _QuietServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        if tls is not None:  # HTTPS, to test certificate verification and a custom CA
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ReferencePlatform:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.db.close()

    def __enter__(self) -> ReferencePlatform:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what the platform holds ---------------------------------------------------------
    def keys(self) -> list[str]:
        with self.lock:
            return [k for (k,) in self.db.execute("SELECT key FROM received ORDER BY key")]

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM received").fetchone()[0]

    def item(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM received WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_list(self, name: str, items: list[dict], version: str) -> None:
        body = json.dumps({"version": version, "items": items}, ensure_ascii=False).encode()
        self.lists[name] = (f'"{version}"', body, 200)

    def set_raw_list(self, name: str, body: bytes, etag: str = '"raw"', status: int = 200) -> None:
        """Serve exactly these bytes (malformed JSON, huge bodies) for a bad-input test."""
        self.lists[name] = (etag, body, status)

    def _store(self, device: str, items: list[tuple[str, str, dict, bool]]) -> dict[str, str]:
        """Insert new keys, count duplicates; returns key → 'accepted' | 'duplicate'."""
        statuses = {}
        with self.lock:
            self.db.execute("BEGIN")
            for key, topic, body, has_snapshot in items:
                self.receipts += 1
                cursor = self.db.execute(
                    "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key)"
                    " DO UPDATE SET times = times + 1",
                    (
                        key,
                        device,
                        topic,
                        json.dumps(body, ensure_ascii=False),
                        has_snapshot,
                        time.time(),
                    ),
                )
                fresh = self.db.execute(
                    "SELECT times FROM received WHERE key = ?", (key,)
                ).fetchone()
                statuses[key] = "accepted" if fresh[0] == 1 else "duplicate"
                del cursor
            self.db.execute("COMMIT")
        return statuses


def _handler(platform: ReferencePlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:  # quiet: tests read state, not logs
            pass

        def setup(self) -> None:
            super().setup()
            # headers and body are written separately: without this, Nagle + delayed ACK
            # add ~40 ms to every reply on a kept-alive connection
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        # -- plumbing --------------------------------------------------------------------
        def _reply(
            self,
            status: int,
            doc: Any = None,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
        ) -> None:
            body = (
                raw
                if raw is not None
                else (b"" if doc is None else json.dumps(doc, ensure_ascii=False).encode())
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.shutdown(2)

        def _body(self) -> bytes | None:
            length = self.headers.get("Content-Length", "0")
            if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
                # the body is never read, so this connection cannot carry another request
                self.close_connection = True
                self._reply(413, {"error": "body missing or too large"}, {"Connection": "close"})
                return None
            return self.rfile.read(int(length))

        def _roll(self, rate: float) -> bool:
            return rate > 0 and platform.rng.random() < rate

        def _pre_faults(self) -> bool:
            """Faults that hit before anything is stored; True when the request is done."""
            faults = platform.faults
            if faults.slow_s:
                time.sleep(faults.slow_s)
            if faults.outage:
                self._reply(503, {"error": "outage"})
                return True
            if self._roll(faults.error_rate):
                self._reply(500, {"error": "injected failure"})
                return True
            if self._roll(faults.timeout_rate):
                time.sleep(faults.hang_s)
                self._drop()
                return True
            return False

        # -- routes ----------------------------------------------------------------------
        def do_GET(self) -> None:
            if self._pre_faults():
                return
            if self.path.startswith("/api/v1/lists/"):
                name = self.path.rsplit("/", 1)[-1]
                headers = {k.lower(): v for k, v in self.headers.items()}
                if (
                    why := verify(
                        platform.auth_mode, platform.secret, headers, "GET", self.path, b""
                    )
                ) is not None:
                    self._reply(401, {"error": why})
                    return
                if name not in platform.lists:
                    self._reply(404, {"error": f"no list {name}"})
                    return
                etag, body, status = platform.lists[name]
                if headers.get("if-none-match") == etag:
                    self._reply(304, raw=b"", headers={"ETag": etag})
                    return
                self._reply(status, raw=body, headers={"ETag": etag})
                return
            self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                return
            if self.path == "/_control":
                self._control(body)
                return
            if self._pre_faults():
                return
            if self.path == "/api/v1/uplink":
                self._uplink(body)
            else:
                self._reply(404, {"error": "not found"})

        def _control(self, body: bytes) -> None:
            doc = json.loads(body)
            for name, value in doc.items():
                if not hasattr(platform.faults, name):
                    self._reply(400, {"error": f"unknown fault {name}"})
                    return
                setattr(platform.faults, name, set(value) if name == "invalid_keys" else value)
            self._reply(200, {"ok": True})

        def _finish_store(self, reply: Any) -> None:
            if self._roll(platform.faults.drop_rate):
                self._drop()  # stored, but the box never hears so: it must resend
                return
            if self._roll(platform.faults.garbage_rate):
                self._reply(200, raw=b'{"results": "not a list"')
                return
            self._reply(200, reply)

        def _uplink(self, body: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            if (
                why := verify(platform.auth_mode, platform.secret, headers, "POST", self.path, body)
            ) is not None:
                self._reply(401, {"error": why})
                return
            try:
                doc = json.loads(body)
                items = doc["items"]
                rows = [
                    (
                        i["key"],
                        i["topic"],
                        i["payload"],
                        bool((i.get("snapshot") or {}).get("data_b64")),
                    )
                    for i in items
                ]
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, {"error": f"malformed batch: {exc}"})
                return
            bad = [key for key, *_ in rows if key in platform.faults.invalid_keys]
            if bad and platform.faults.reject_mode == "batch":
                self._reply(422, {"error": "batch contains an invalid item"})
                return
            good = [row for row in rows if row[0] not in platform.faults.invalid_keys]
            stored = platform._store(doc.get("device_id", ""), good)
            results = [
                {"key": key, "status": "rejected", "reason": "plate field invalid (reference)"}
                if key in platform.faults.invalid_keys
                else {"key": key, "status": stored[key]}
                for key, *_ in rows
            ]
            self._finish_store({"results": results})

    return Handler


def main() -> None:  # pragma: no cover - manual use: python -m sync.reference_platform
    import argparse

    parser = argparse.ArgumentParser(description="Run the reference district platform on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8440)
    parser.add_argument("--db", default="reference-platform.db")
    parser.add_argument("--secret-file", type=Path, required=True)
    args = parser.parse_args()
    secret = args.secret_file.read_bytes().strip()
    with ReferencePlatform(args.db, secret=secret, port=args.port) as platform:
        print(f"reference platform on {platform.url}; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
