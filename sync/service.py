"""`menwei sync`: the uplink, downlink and keepalive loop of one box, until told to stop.

One thread does everything in turn, so there is one owner of the connection and of the
outbox cursor, and nothing to lock. The loop sends while there is a backlog, sleeps
``idle_poll_s`` when there is none and backs off (with jitter) when the platform is
unreachable; the downlink is pulled every ``downlink_interval_s``; the status file is
refreshed every couple of seconds. A stop event (SIGTERM) ends it between steps, so a
clean stop never leaves a batch half-marked — and a SIGKILL is harmless anyway.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.config.sync import SyncConfig
from edge.db import utc_now
from edge.pii import PiiKeyError, PiiVault
from sync.downlink import LISTS, pull_list
from sync.gat1400.client import Gat1400Protocol
from sync.gat1400.server import start_viid_server
from sync.gat1400.store import FANOUT_BATCH, expire_subscriptions, fan_out, fan_out_lag
from sync.json_protocol import JsonProtocol
from sync.secret import read_secret
from sync.status import sync_status, write_status_file
from sync.transport import Transport, TransportError
from sync.uplink import Backoff, UplinkWorker

log = logging.getLogger(__name__)
STORAGE_FAULTS = (sqlite3.DatabaseError, OSError)  # the box's store refused: not a bug

STATUS_EVERY_S = 2.0
EXPIRE_EVERY_S = 10.0


def build_protocol(
    config: SyncConfig,
    snapshot_dir: Path | None,
    zone: Any,
    db: sqlite_utils.Database | None = None,
    vault: PiiVault | None = None,
) -> Any:
    """The configured protocol; ``vault`` (the box's PII key) opens sealed personal data
    (registrations) just before it is sent."""
    transport = Transport(
        config.platform_url,
        config.connect_timeout_s,
        config.read_timeout_s,
        config.max_response_bytes,
        config.ca_file,
    )
    secret = read_secret(config.secret_file)
    if config.protocol == "gat1400":
        return Gat1400Protocol(transport, config, secret.decode("utf-8"), zone, db, snapshot_dir)
    return JsonProtocol(
        transport,
        config.device_id,
        config.auth,
        secret,
        snapshot_dir,
        config.snapshot_max_bytes,
        vault,
        config.max_request_bytes,
    )


def vault_for(pii_key_file: Path) -> PiiVault | None:
    """The box's PII vault for opening sealed rows, or None (logged) when the key cannot be
    read: events still flow, registrations then travel sealed."""
    try:
        return PiiVault.from_key_file(pii_key_file, create=False)
    except PiiKeyError as exc:
        log.warning("sync: %s; registrations are sent sealed", exc)
        return None


def run_sync(
    db: sqlite_utils.Database,
    config: SyncConfig,
    protocol: Any,
    stop: threading.Event,
    on_step: Callable[[Any], None] | None = None,
    extra_lists: dict | None = None,
    add_face: Callable[..., int] | None = None,
) -> None:
    """Run until ``stop`` is set. ``extra_lists``: more downlink lists with their handlers
    (the watch faces, when the box has its PII key: sync.downlink_faces). ``add_face``:
    how a GA/T 1400 face disposition becomes a watch face (sync.gat1400.faces), if it can."""
    viid = protocol if isinstance(protocol, Gat1400Protocol) else None
    server = None
    if viid is not None:
        viid.db = viid.db or db
        if config.gat1400.listen:
            server = start_viid_server(db, config, viid, add_face)
    worker = UplinkWorker(db, protocol, config.batch_size)
    backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
    next_downlink = 0.0
    next_status = 0.0
    last_error: str | None = None
    while not stop.is_set():
        now = time.monotonic()
        wait = 0.0
        try:
            if viid is not None:
                _fan_out(db, viid)
            protocol.tick()
            result = worker.step()
        except TransportError as exc:  # keepalive / registration failed
            result = None
            last_error = str(exc)[:300]
            log.warning("sync: platform session failed: %s", last_error)
            wait = backoff.next_delay()
        except STORAGE_FAULTS as exc:  # the disk's weather (full, read-only, I/O): wait it out
            result = None
            fault = f"storage fault: {exc.__class__.__name__}: {exc}"[:300]
            if fault != last_error:  # once per new fault, not at every retry
                log.error("sync: %s; unsent events stay queued, retrying", fault)
            last_error = fault
            wait = max(backoff.next_delay(), 1.0)
        if result is not None:
            if result.error:
                last_error = result.error
                wait = backoff.next_delay()
            elif result.idle:
                wait = config.idle_poll_s
            else:
                backoff.reset()
                last_error = None
        if on_step is not None:
            on_step(result)
        if config.downlink and config.protocol == "json" and now >= next_downlink:
            try:
                for name in (*LISTS, *(extra_lists or {})):
                    pull_list(db, protocol, name, extra_lists)
            except STORAGE_FAULTS as exc:  # the lists come again at the next pull
                log.error("sync: lists not stored (storage fault: %s)", exc)
            next_downlink = now + config.downlink_interval_s
        if now >= next_status:
            with contextlib.suppress(*STORAGE_FAULTS):  # the next one tells, once it reads
                status = sync_status(db, utc_now())
                status.update(
                    worker="running", last_error=last_error, backoff_failures=backoff.failures
                )
                if viid is not None:
                    status["gat1400"] = {**viid.status(), "fan_out_lag": fan_out_lag(db.conn)}
                    status["alarm"] = status["alarm"] or _viid_alarm(status["gat1400"])
                write_status_file(config.status_file, status)
            next_status = now + STATUS_EVERY_S
        if wait:
            stop.wait(wait)
    if server is not None:
        server.stop()
    protocol.close()  # GA/T 1400: UnRegister first
    with contextlib.suppress(*STORAGE_FAULTS):  # stopping on a faulted disk: exit 0 anyway
        status = sync_status(db, utc_now())
        status.update(worker="stopped", last_error=last_error)
        write_status_file(config.status_file, status)


def _fan_out(db: sqlite_utils.Database, viid: Gat1400Protocol) -> None:
    """Subscriptions: expire the ended ones, then turn new events into notification rows."""
    now = utc_now()
    if time.monotonic() >= viid.next_expiry:
        expire_subscriptions(db, now)
        viid.next_expiry = time.monotonic() + EXPIRE_EVERY_S
    while fan_out(db, viid.device_id, viid.apes, now) == FANOUT_BATCH:
        pass


def _viid_alarm(health: dict[str, Any]) -> str | None:
    if health.get("refused"):
        return "registration_refused"
    if health.get("clock_alarm"):
        return "clock_skew"
    return None
