"""`menwei sync`: the uplink, downlink and keepalive loop of one box, until told to stop.

One thread does everything in turn, so there is one owner of the connection and of the
outbox cursor, and nothing to lock. The loop sends while there is a backlog, sleeps
``idle_poll_s`` when there is none and backs off (with jitter) when the platform is
unreachable; the downlink is pulled every ``downlink_interval_s``; the status file is
refreshed every couple of seconds. A stop event (SIGTERM) ends it between steps, so a
clean stop never leaves a batch half-marked — and a SIGKILL is harmless anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.db import utc_now
from sync.config import SyncConfig, read_secret
from sync.downlink import LISTS, pull_list
from sync.gat1400 import Gat1400Protocol
from sync.json_protocol import JsonProtocol
from sync.status import sync_status, write_status_file
from sync.transport import Transport, TransportError
from sync.uplink import Backoff, UplinkWorker

log = logging.getLogger(__name__)

STATUS_EVERY_S = 2.0


def build_protocol(config: SyncConfig, snapshot_dir: Path | None, zone: Any) -> Any:
    transport = Transport(
        config.platform_url,
        config.connect_timeout_s,
        config.read_timeout_s,
        config.max_response_bytes,
        config.ca_file,
    )
    secret = read_secret(config.secret_file)
    if config.protocol == "gat1400":
        return Gat1400Protocol(
            transport,
            config.device_id,
            config.username or config.device_id,
            secret.decode("utf-8"),
            zone,
            config.keepalive_s,
            snapshot_dir,
            config.snapshot_max_bytes,
        )
    return JsonProtocol(
        transport,
        config.device_id,
        config.auth,
        secret,
        snapshot_dir,
        config.snapshot_max_bytes,
    )


def run_sync(
    db: sqlite_utils.Database,
    config: SyncConfig,
    protocol: Any,
    stop: threading.Event,
    on_step: Callable[[Any], None] | None = None,
    extra_lists: dict | None = None,
) -> None:
    """Run until ``stop`` is set. ``extra_lists``: more downlink lists with their handlers
    (the watch faces, when the box has its PII key: sync.downlink_faces)."""
    worker = UplinkWorker(db, protocol, config.batch_size)
    backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
    next_downlink = 0.0
    next_status = 0.0
    last_error: str | None = None
    while not stop.is_set():
        now = time.monotonic()
        wait = 0.0
        try:
            protocol.tick()
            result = worker.step()
        except TransportError as exc:  # keepalive / registration failed
            result = None
            last_error = str(exc)[:300]
            log.warning("sync: platform session failed: %s", last_error)
            wait = backoff.next_delay()
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
            for name in (*LISTS, *(extra_lists or {})):
                pull_list(db, protocol, name, extra_lists)
            next_downlink = now + config.downlink_interval_s
        if now >= next_status:
            status = sync_status(db, utc_now())
            status.update(
                worker="running", last_error=last_error, backoff_failures=backoff.failures
            )
            write_status_file(config.status_file, status)
            next_status = now + STATUS_EVERY_S
        if wait:
            stop.wait(wait)
    status = sync_status(db, utc_now())
    status.update(worker="stopped", last_error=last_error)
    write_status_file(config.status_file, status)
    protocol.close()
