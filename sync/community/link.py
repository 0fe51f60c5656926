"""`menwei hub link`: a gate box's link to its hub — lists down, events up, pass uses.

Three loops, each with its own connection and HTTP session:

- **down**: long-polls ``/community/v1/changes`` with the version the box holds; each
  reply is validated whole and applied with its version in one transaction
  (sync.community.lists), then the next poll starts at once. A box days behind pages
  through the log; a box the hub cannot serve a delta to gets a full snapshot.
- **up**: the outbox to the hub by the district uplink's own worker and JSON protocol
  (sync.uplink, sync.json_protocol): acknowledged or kept, backoff with jitter, bad rows
  dead-lettered, exactly once after dedupe whatever is killed when;
- **commands**: long-polls ``/community/v1/commands``, saying which gates this box runs;
  a guard's open at the hub's console arrives here and goes to the gate's own control
  socket (``forward``: edge.gates.control, given by the command line), whose answer goes
  back to the hub (sync.community.commands). The up loop also sends the gates' open
  questions for the guard (plate near misses, unread cars), so a guard at the hub sees and
  answers them.

When the hub cannot be reached both loops back off and retry for as long as it takes;
the gates go on deciding on the lists they hold, events queue in the outbox, and the
status file says since when the hub has been out of reach.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlite_utils

from edge.config.community import CommunityConfig
from edge.db import connect, iso, transaction, utc_now
from edge.errors import UserError
from edge.pii import PiiVault
from edge.store.outbox import counts
from sync.auth import auth_headers
from sync.community.commands import MAX_PROMPTS, prompts_closed, prompts_to_send
from sync.community.lists import ListsInvalidError, apply_reply, held_version, parse_reply
from sync.json_protocol import JsonProtocol
from sync.secret import read_secret
from sync.state import get_state, set_state
from sync.status import write_status_file
from sync.transport import Response, Transport, TransportError
from sync.uplink import Backoff, UplinkWorker

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 256 * 1024 * 1024  # a full snapshot of a large community
BACKOFF_MAX_S = 10.0  # one hub on the LAN: a box back within seconds of the hub
UPLINK_BATCH = 100  # with snapshots up to 256 KiB: at most ~35 MB a request
PROMPTS_SENT = "community.prompts_sent"  # sync_state: the last question sent to the hub
PROMPTS_CLOSED = "community.prompts_closed"  # sync_state: young questions told closed
PROMPT_AGE = timedelta(minutes=5)  # edge.store.prompts.PROMPT_TTL: older ones are moot
# (gate id, request) → the gate's reply {"ok": ..., ...}; never raises for an absent gate
Forward = Callable[[str, dict[str, Any]], dict[str, Any]]


class HubUnavailableError(TransportError):
    """The hub answered, but not with something usable (5xx, 401, garbage)."""


class HubClient:
    """Signed requests from one gate box to its hub over one session (one thread)."""

    def __init__(
        self,
        hub_url: str,
        box_id: str,
        key: bytes,
        ca_file: Path | None = None,
        timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.transport = Transport(
            hub_url, timeout_s, read_timeout_s, MAX_REPLY_BYTES, ca_file=ca_file
        )
        self.box_id = box_id
        self.key = key

    def request(self, method: str, path: str, doc: Any = None) -> Any:
        """Send, and return the JSON of a 200 reply; TransportError for anything else."""
        body = b"" if doc is None else json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        full_path = self.transport.prefix + path
        headers.update(auth_headers("hmac", self.key, self.box_id, method, full_path, body))
        reply: Response = self.transport.request(method, path, body or None, headers)
        if reply.status != 200:
            raise HubUnavailableError(f"hub answered HTTP {reply.status}: {reply.body[:200]!r}")
        try:
            return json.loads(reply.body)
        except ValueError as exc:
            raise HubUnavailableError(f"hub reply is not JSON: {exc}") from None

    def changes(self, since: int, epoch: str | None, wait_s: float, backlog: int) -> Any:
        query: dict[str, str | int] = {"since": since, "wait": int(wait_s), "backlog": backlog}
        if epoch:
            query["epoch"] = epoch
        return self.request("GET", "/community/v1/changes?" + urlencode(query))

    def close(self) -> None:
        self.transport.close()


class JoinError(UserError):
    code = "community_join"


def join(hub_url: str, box_id: str, code: str, key_file: Path, ca_file: Path | None = None) -> None:
    """Enrol this box at the hub with its one-time code and keep the key it returns."""
    transport = Transport(hub_url, 10.0, 30.0, 64 * 1024, ca_file=ca_file)
    body = json.dumps({"box_id": box_id, "code": code}).encode()
    try:
        reply = transport.request(
            "POST", "/community/v1/enrol", body, {"Content-Type": "application/json"}
        )
    except TransportError as exc:
        raise JoinError(
            "cannot reach the hub at %(url)s: %(error)s", {"url": hub_url, "error": exc}
        ) from None
    finally:
        transport.close()
    if reply.status != 200:
        raise JoinError(
            "the hub refused the enrolment: %(reply)s",
            {"reply": reply.body[:200].decode(errors="replace")},
        )
    key = json.loads(reply.body).get("key")
    if not isinstance(key, str) or len(key) < 32:
        raise JoinError("the hub's reply holds no key")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    partial = key_file.with_suffix(".part")
    partial.write_text(key + "\n")
    partial.chmod(0o600)
    partial.replace(key_file)


@dataclass
class LinkStatus:
    """What the status file and `menwei hub status` on a gate box show."""

    hub_url: str
    box_id: str
    down: str = "starting"
    up: str = "starting"
    last_contact_at: str | None = None
    unreachable_since: str | None = None
    last_error: str | None = None
    version: int = 0
    applied_at: str | None = None
    applied: int = 0
    commands: str = "starting"
    commands_done: int = 0

    def contact(self) -> None:
        self.last_contact_at = iso(utc_now())
        self.unreachable_since = None

    def failed(self, error: str) -> None:
        self.last_error = error[:300]
        self.unreachable_since = self.unreachable_since or iso(utc_now())


def pull_once(db: sqlite_utils.Database, client: HubClient, vault: PiiVault, wait_s: float) -> bool:
    """One long-poll and its apply; True when the hub said more is waiting.
    Raises TransportError (hub out of reach) or ListsInvalidError (nothing applied)."""
    since, epoch = held_version(db.conn)
    backlog = counts(db.conn)["pending"]
    document = client.changes(since, epoch, wait_s, backlog)
    new_epoch, version, is_snapshot, changes, more = parse_reply(document)
    if is_snapshot or changes:
        apply_reply(db, vault, new_epoch, version, is_snapshot, changes)
        log.info(
            "hub link: applied %s of %d row(s), version %d",
            "a snapshot" if is_snapshot else "changes",
            len(changes),
            version,
        )
    return more


class HubLink:
    """Runs the down and up loops until ``stop`` is set."""

    def __init__(
        self,
        db_path: Path,
        config: CommunityConfig,
        vault: PiiVault,
        snapshot_dir: Path | None,
        stop: threading.Event,
        gates: tuple[tuple[str, str, str], ...] = (),
        forward: Forward | None = None,
    ) -> None:
        if config.hub_url is None or config.box_id is None:
            raise UserError('[community] role = "gate" needs hub_url and box_id')
        self.db_path = db_path
        self.config = config
        self.vault = vault
        self.snapshot_dir = snapshot_dir
        self.stop = stop
        self.key = read_secret(config.key_file)
        self.status = LinkStatus(config.hub_url, config.box_id)
        self.lock = threading.Lock()
        self.gates = gates  # (id, name, kind) of each gate this box runs
        self.forward = forward

    def run(self) -> None:
        loops = [threading.Thread(target=self._down, name="hub-down", daemon=True)]
        if self.forward is not None:
            loops.append(threading.Thread(target=self._commands, name="hub-cmd", daemon=True))
        for loop in loops:
            loop.start()
        try:
            self._up()
        finally:
            self.stop.set()
            for loop in loops:
                loop.join(timeout=self.config.wait_s + 15)
            self._write_status(stopped=True)

    def _client(self, read_timeout_s: float) -> HubClient:
        assert self.config.hub_url is not None and self.config.box_id is not None
        return HubClient(
            self.config.hub_url,
            self.config.box_id,
            self.key,
            self.config.ca_file,
            read_timeout_s=read_timeout_s,
        )

    def _down(self) -> None:
        db = connect(self.db_path, apply_migrations=False)
        client = self._client(self.config.wait_s + 15)
        backoff = Backoff(0.5, BACKOFF_MAX_S)
        more = True
        try:
            while not self.stop.is_set():
                try:
                    more = pull_once(db, client, self.vault, 0 if more else self.config.wait_s)
                    with self.lock:
                        self.status.contact()
                        self.status.down = "connected"
                        self.status.version = held_version(db.conn)[0]
                    backoff.reset()
                except (TransportError, ListsInvalidError) as exc:
                    with self.lock:
                        self.status.down = (
                            "unreachable" if isinstance(exc, TransportError) else "refused"
                        )
                        self.status.failed(str(exc))
                    log.warning("hub link: lists not updated, deciding on the held ones: %s", exc)
                    more = True
                    self.stop.wait(backoff.next_delay())
                except Exception as exc:  # a storage fault: keep the link alive, retry
                    log.exception("hub link: lists not applied: %s", exc)
                    self.stop.wait(backoff.next_delay())
        finally:
            client.close()
            db.conn.close()

    def _commands(self) -> None:
        """Wait at the hub for commands for this box's gates; each goes to its gate."""
        assert self.forward is not None
        wait = int(self.config.wait_s)  # the hub answers at once when a command comes
        client = self._client(wait + 15)
        backoff = Backoff(0.5, BACKOFF_MAX_S)
        gates = [{"id": i, "name": n, "kind": k} for i, n, k in self.gates]
        ours = {i for i, _n, _k in self.gates}
        try:
            while not self.stop.is_set():
                try:
                    doc = client.request(
                        "POST", "/community/v1/commands", {"gates": gates, "wait": wait}
                    )
                    commands = doc.get("commands") if isinstance(doc, dict) else None
                    if not isinstance(commands, list):
                        raise HubUnavailableError("the hub's commands reply holds no list")
                    with self.lock:
                        self.status.commands = "connected"
                    backoff.reset()
                    for command in commands:
                        reply = self._run_command(command, ours)
                        if reply is not None:
                            client.request("POST", "/community/v1/commands/result", reply)
                except TransportError as exc:
                    with self.lock:
                        self.status.commands = "unreachable"
                    log.warning("hub link: commands not received: %s", exc)
                    self.stop.wait(backoff.next_delay())
        finally:
            client.close()

    def _run_command(self, command: Any, ours: set[str]) -> dict[str, Any] | None:
        """The result to send for one command (None for one too malformed to answer)."""
        assert self.forward is not None
        if not isinstance(command, dict) or not isinstance(command.get("id"), int):
            log.warning("hub link: a malformed command ignored: %r", command)
            return None
        gate_id, request = command.get("gate_id"), command.get("request")
        if gate_id not in ours:
            reply: dict[str, Any] = {"ok": False, "error": f"no gate {gate_id} on this box"}
        elif not isinstance(request, dict) or request.get("cmd") != "open":
            reply = {"ok": False, "error": "a hub may only ask a gate to open"}
        else:
            try:
                reply = self.forward(str(gate_id), request)
            except Exception as exc:  # the gate's answer, whatever happened, goes back
                log.exception("hub link: command %s failed", command["id"])
                reply = {"ok": False, "error": f"gate error: {exc.__class__.__name__}"}
        log.info(
            "hub link: command %s for gate %s by %s: %s",
            command["id"],
            gate_id,
            (request or {}).get("operator") if isinstance(request, dict) else None,
            "done" if reply.get("ok") else reply.get("error"),
        )
        with self.lock:
            self.status.commands_done += 1
        return {"id": command["id"], "reply": reply}

    def _up(self) -> None:
        db = connect(self.db_path)
        client = self._client(30.0)
        assert self.config.box_id is not None
        protocol = JsonProtocol(
            client.transport, self.config.box_id, "hmac", self.key, self.snapshot_dir, 256 * 1024
        )
        worker = UplinkWorker(db, protocol, UPLINK_BATCH)
        backoff = Backoff(0.5, BACKOFF_MAX_S)
        next_status = 0.0
        try:
            while not self.stop.is_set():
                result = worker.step()
                if not result.error:
                    self._send_prompts(db, client)
                wait = 0.0
                with self.lock:
                    if result.error:
                        self.status.up = "unreachable"
                        self.status.failed(result.error)
                        wait = backoff.next_delay()
                    else:
                        self.status.up = "connected" if not result.idle else self.status.up
                        if not result.idle:
                            self.status.contact()
                            backoff.reset()
                        else:
                            wait = 0.2
                if time.monotonic() >= next_status:
                    self._write_status(db=db)
                    next_status = time.monotonic() + 2.0
                if wait:
                    self.stop.wait(wait)
        finally:
            protocol.close()
            db.conn.close()

    def _send_prompts(self, db: sqlite_utils.Database, client: HubClient) -> None:
        """The gates' new open questions for the guard, and the closing of those sent
        before that a gate (or a guard on this box) has closed since, to the hub (best
        effort: what cannot be sent now is sent on the next round, while still young)."""
        after = int(get_state(db.conn, PROMPTS_SENT) or 0)
        since = utc_now() - PROMPT_AGE
        items = prompts_to_send(db.conn, after, since)
        told = set(json.loads(get_state(db.conn, PROMPTS_CLOSED) or "[]"))
        young = prompts_closed(db.conn, after, since)
        closed = [c for c in young if c["id"] not in told][:MAX_PROMPTS]
        if not items and not closed:
            return
        try:
            reply = client.request(
                "POST",
                "/community/v1/prompts",
                {
                    "items": [{k: v for k, v in i.items() if k != "id"} for i in items],
                    "closed": [
                        {k: c[k] for k in ("event_id", "resolution", "outcome")} for c in closed
                    ],
                },
            )
        except TransportError as exc:
            log.warning("hub link: questions for the guard not sent yet: %s", exc)
            return
        for result in reply.get("results", []) if isinstance(reply, dict) else []:
            if result.get("status") == "rejected":
                log.warning("hub link: the hub refused a question: %s", result.get("reason"))
        with transaction(db) as conn:
            if items:
                set_state(conn, PROMPTS_SENT, str(items[-1]["id"]))
            if closed:  # remembered while young: an older one is never looked at again
                told = {c["id"] for c in young} & told | {c["id"] for c in closed}
                set_state(conn, PROMPTS_CLOSED, json.dumps(sorted(told)))

    def _write_status(self, db: sqlite_utils.Database | None = None, stopped: bool = False) -> None:
        with self.lock:
            doc = dict(self.status.__dict__)
        if db is not None:
            doc["outbox"] = counts(db.conn)
        doc["worker"] = "stopped" if stopped else "running"
        doc["written_at"] = iso(utc_now())
        write_status_file(self.config.status_file, doc)
