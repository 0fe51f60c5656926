"""The local channel from the web console (or the CLI) to a running gate process.

The hardware has one owner — the gate process — so a guard's "open" from the console is a
request to that process, not a second program toggling the same pins. Each gate listens on
a Unix socket in ``<data_dir>/run/gate-<id>.sock`` (mode 0660: the web service runs as the
same user; nothing on the network can reach it). One request per connection, one line of
JSON each way, so a client never waits on another's slow request.

Requests: ``{"cmd": "open", "operator": "...", "reason": "..."}`` — with, when a guard
confirms a plate the gate asked about, ``"plate"`` and ``"related_event_id"`` (the passage
it corrects) — ``{"cmd": "health"}``, and ``{"cmd": "capture", "seconds": 1-10}`` (a pedestrian
gate: a few seconds of its camera judged for liveness as at the door, for enrolment; the
reply carries the best frame, as a base64 JPEG, only when the capture was judged live).
Replies: ``{"ok": true, ...}`` or ``{"ok": false, "code": "...", "error": "..."}``. A bad
request gets a clear error and changes nothing. ``code`` is what the console and the command
line word in the reader's language (``edge.vocabulary.GATE_REPLIES``); ``error`` is the
English detail, a diagnostic for logs and support, never the message a guard reads. A gate
that cannot be reached raises :class:`GateUnreachableError`, which carries a code too.
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

from edge.errors import MenweiError, UserError
from edge.plates.grammar import is_valid_plate

log = logging.getLogger(__name__)
_EVENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID

MAX_REQUEST_BYTES = 4096
CAPTURE_S = 4.0  # how long an enrolment capture watches the door camera by default
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class GateUnreachableError(MenweiError, RuntimeError):
    """The gate process is not running (``code`` "not_running"), did not answer in time
    ("no_answer") or answered with something unreadable ("bad_reply"); ``str()`` is the
    English detail."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(detail)


def _refusal(code: str, message: str) -> UserError:
    return UserError(message, code=code)


def socket_path(run_dir: Path, gate_id: str) -> Path:
    return run_dir / f"gate-{gate_id}.sock"


def validate_request(request: object) -> dict[str, Any]:
    """The request as a dict, or UserError (a ValueError) whose code says what is wrong."""
    if not isinstance(request, dict):
        raise _refusal("bad_request", "request must be a JSON object")
    command = request.get("cmd")
    if command == "health":
        return {"cmd": "health"}
    if command == "capture":
        seconds = request.get("seconds", CAPTURE_S)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise _refusal("seconds", "seconds must be a number")
        if not 1 <= seconds <= 10:
            raise _refusal("seconds", "seconds must be between 1 and 10")
        return {"cmd": "capture", "seconds": float(seconds)}
    if command != "open":
        raise _refusal(
            "unknown_command",
            f"unknown command {command!r}; expected 'open', 'health' or 'capture'",
        )
    operator, reason = request.get("operator"), request.get("reason")
    if not isinstance(operator, str) or not 1 <= len(operator.strip()) <= 64:
        raise _refusal("operator", "operator must be 1-64 characters")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 200:
        raise _refusal("reason", "a reason (1-200 characters) is required to open a gate by hand")
    valid = {"cmd": "open", "operator": operator.strip(), "reason": reason.strip()}
    plate, related = request.get("plate"), request.get("related_event_id")
    if plate is not None:
        if not isinstance(plate, str) or not is_valid_plate(plate):
            raise _refusal("plate", "plate must be a plate in the plate grammar")
        valid["plate"] = plate
    if related is not None:
        if not isinstance(related, str) or not _EVENT_ID.match(related):
            raise _refusal("related_event", "related_event_id must be an event id")
        valid["related_event_id"] = related
    return valid


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        try:
            if len(line) > MAX_REQUEST_BYTES:
                raise _refusal("request_too_large", "request too large")
            try:
                parsed = json.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise _refusal("bad_request", f"request is not one line of JSON: {exc}") from None
            request = validate_request(parsed)
            reply = {"ok": True, **self.server.handler(request)}
        except UserError as exc:  # the request, or what the gate refuses: say which, by code
            reply = {"ok": False, "code": exc.code, "error": str(exc)}
        except Exception as exc:  # the gate must answer, and must survive a handler bug
            log.exception("gate control: request failed")
            reply = {"ok": False, "code": "gate_error", "error": f"gate error: {exc!r}"[:300]}
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
        detail = f"gate {gate_id} is not running (no {path})"
        raise GateUnreachableError("not_running", detail) from None
    except (TimeoutError, OSError) as exc:
        raise GateUnreachableError("no_answer", f"gate {gate_id} did not answer: {exc}") from None
    try:
        answer = json.loads(reply.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        detail = f"gate {gate_id} sent an unreadable reply: {reply[:80]!r}"
        raise GateUnreachableError("bad_reply", detail) from None
    return answer


def gate_forwarder(
    run_dir: Path, timeout_s: float = 2.0
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """What a gate box's hub link does with a command from the hub's console (sync.community.
    link): ask that gate's own socket, exactly as a console on this box would. A gate that is
    not running is an answer (``not_running``), not an exception."""

    def forward(gate_id: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return send_gate_command(run_dir, gate_id, request, timeout_s)
        except GateUnreachableError as exc:
            return {"ok": False, "code": exc.code, "error": str(exc), "not_running": True}

    return forward
