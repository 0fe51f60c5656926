"""The local channel from the web console (or the CLI) to a running gate process.

The hardware has one owner — the gate process — so a guard's "open" from the console is a
request to that process, not a second program toggling the same pins. Each gate listens on
a Unix socket in ``<data_dir>/run/gate-<id>.sock`` (mode 0660: the web service runs as the
same user; nothing on the network can reach it). One request per connection, one line of
JSON each way, so a client never waits on another's slow request.

Requests: ``{"cmd": "open", "operator": "...", "reason": "..."}`` — with, when a guard
confirms a plate the gate asked about, ``"plate"`` and ``"related_event_id"`` (the passage
it corrects) — and ``{"cmd": "health"}``.
Replies: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. A bad request gets a
clear error and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.plates.grammar import is_valid_plate

log = logging.getLogger(__name__)
_EVENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID

MAX_REQUEST_BYTES = 4096
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class GateUnreachableError(RuntimeError):
    """The gate process is not running or did not answer in time."""


def socket_path(run_dir: Path, gate_id: str) -> Path:
    return run_dir / f"gate-{gate_id}.sock"


def validate_request(request: object) -> dict[str, Any]:
    """The request as a dict, or ValueError with a message for the operator."""
    if not isinstance(request, dict):
        raise ValueError("request must be a JSON object")
    command = request.get("cmd")
    if command == "health":
        return {"cmd": "health"}
    if command != "open":
        raise ValueError(f"unknown command {command!r}; expected 'open' or 'health'")
    operator, reason = request.get("operator"), request.get("reason")
    if not isinstance(operator, str) or not 1 <= len(operator.strip()) <= 64:
        raise ValueError("operator must be 1-64 characters")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 200:
        raise ValueError("a reason (1-200 characters) is required to open a gate by hand")
    valid = {"cmd": "open", "operator": operator.strip(), "reason": reason.strip()}
    plate, related = request.get("plate"), request.get("related_event_id")
    if plate is not None:
        if not isinstance(plate, str) or not is_valid_plate(plate):
            raise ValueError("plate must be a plate in the plate grammar")
        valid["plate"] = plate
    if related is not None:
        if not isinstance(related, str) or not _EVENT_ID.match(related):
            raise ValueError("related_event_id must be an event id")
        valid["related_event_id"] = related
    return valid


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        try:
            if len(line) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
            request = validate_request(json.loads(line.decode("utf-8")))
            reply = {"ok": True, **self.server.handler(request)}
        except (ValueError, UnicodeDecodeError) as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # the gate must answer, and must survive a handler bug
            log.exception("gate control: request failed")
            reply = {"ok": False, "error": f"gate error: {exc.__class__.__name__}"}
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(reply, ensure_ascii=False, default=str).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The socket server, carrying the gate's request handler to every connection."""

    daemon_threads = True

    def __init__(self, path: str, handler: Handler) -> None:
        super().__init__(path, _RequestHandler)
        self.handler = handler


class GateControlServer:
    """Serves requests for one gate on its socket until :meth:`close`."""

    def __init__(self, path: Path, handler: Handler) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left over from a crash: we are the gate's one owner
        self.path = path
        self._server = _Server(str(path), handler)
        os.chmod(path, 0o660)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gate-control", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def send_gate_command(
    run_dir: Path, gate_id: str, request: dict[str, Any], timeout_s: float = 2.0
) -> dict[str, Any]:
    """Send one request to the gate process and return its reply."""
    path = socket_path(run_dir, gate_id)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise GateUnreachableError(f"gate {gate_id} is not running (no {path})") from None
    except (TimeoutError, OSError) as exc:
        raise GateUnreachableError(f"gate {gate_id} did not answer: {exc}") from None
    try:
        return json.loads(reply.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise GateUnreachableError(f"gate {gate_id} sent an unreadable reply") from None
