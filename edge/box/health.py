"""The appliance's health for the console: each gate asked over its control socket, disk
use of the data folder and snapshots, and the sync backlog.

Why ask the gate process and not read the database: only the gate knows whether its camera
delivers frames and what its relays are doing right now. Why a short timeout: a gate that
hangs must make the page say "not answering" at once, not hold one of the web server's
four threads for the default two seconds. Why the snapshot size is cached: walking a year
of dated snapshot folders costs a noticeable fraction of a second on an SD card, and the
page refreshes every few seconds on every open tablet; a minute-old figure is good enough.
Why the gates are asked side by side: two hung gates asked in turn would hold the page for
twice the timeout; asked together, the page waits one timeout however many gates hang.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.box.store_check import IntegrityStatus, read_status, status_path
from edge.config import GateConfig, MenweiConfig
from edge.gates.control import GateUnreachableError, send_gate_command
from sync.status import read_status_file, sync_status

GATE_TIMEOUT_S = 0.5
FAULTY_CAMERA = ("stalled", "reconnecting", "failed")
# A camera that says "ok" but whose newest frame is this old is stale: amber, then red.
STALE_FRAME_S, DEAD_FRAME_S = 10.0, 60.0
# Undelivered events this old: amber, then red (the district expects them within minutes).
BACKLOG_WARN_S, BACKLOG_BAD_S = 600.0, 6 * 3600.0


@dataclass(frozen=True)
class GateHealth:
    """One gate as its process reports it; ``running`` False when the socket is silent."""

    gate_id: str
    name: str
    kind: str
    running: bool
    error: str | None = None
    camera_state: str | None = None
    camera_fps: float | None = None
    last_frame_age_s: float | None = None
    camera_error: str | None = None
    frames: int | None = None
    recogniser_ms: float | None = None
    last_decision: dict[str, Any] | None = None
    relay: dict[str, Any] | None = None  # BarrierState or LockState, as the gate sent it
    storage_fault: str | None = None
    events_unsaved: int = 0
    fire_alarm: bool | None = None
    door_open: bool | None = None
    liveness: dict[str, Any] | None = None  # a pedestrian gate's liveness stage: mode, ms

    @property
    def camera_level(self) -> str:
        """ok / warn / bad for the camera alone: its state, and how old its newest frame is."""
        age = self.last_frame_age_s
        if self.camera_state in FAULTY_CAMERA or (age is not None and age > DEAD_FRAME_S):
            return "bad"
        if self.camera_state != "ok" or (age is not None and age > STALE_FRAME_S):
            return "warn"
        return "ok"

    @property
    def level(self) -> str:
        """ok / warn / bad, for the page's colour."""
        if not self.running or self.storage_fault or self.camera_level == "bad":
            return "bad"
        if self.fire_alarm or self.events_unsaved or self.camera_level == "warn":
            return "warn"
        return "ok"


def gate_health(run_dir: Path, gate: GateConfig, timeout_s: float = GATE_TIMEOUT_S) -> GateHealth:
    """Ask one gate process for its health; never raises."""
    base: dict[str, Any] = {"gate_id": gate.id, "name": gate.name, "kind": gate.kind}
    try:
        reply = send_gate_command(run_dir, gate.id, {"cmd": "health"}, timeout_s=timeout_s)
    except GateUnreachableError as exc:
        return GateHealth(**base, running=False, error=str(exc))
    health = reply.get("health") if reply.get("ok") else None
    if not isinstance(health, dict):
        return GateHealth(**base, running=False, error=str(reply.get("error", "bad reply")))
    camera = health.get("camera") or {}
    relay = health.get("barrier") if gate.kind == "vehicle" else health.get("lock")
    return GateHealth(
        **base,
        running=True,
        camera_state=camera.get("state"),
        camera_fps=camera.get("fps"),
        last_frame_age_s=camera.get("last_frame_age_s"),
        camera_error=camera.get("last_error"),
        frames=health.get("frames"),
        recogniser_ms=health.get("recogniser_ms_avg"),
        last_decision=health.get("last_decision"),
        relay=relay if isinstance(relay, dict) else None,
        storage_fault=health.get("storage_fault"),
        events_unsaved=int(health.get("events_unsaved") or 0),
        fire_alarm=health.get("fire_alarm"),
        door_open=health.get("door_open"),
        liveness=health.get("liveness") if isinstance(health.get("liveness"), dict) else None,
    )


def all_gate_health(
    run_dir: Path, gates: list[GateConfig], timeout_s: float = GATE_TIMEOUT_S
) -> list[GateHealth]:
    """Every gate's health, asked concurrently, in the configured order."""
    if len(gates) <= 1:
        return [gate_health(run_dir, gate, timeout_s) for gate in gates]
    with ThreadPoolExecutor(max_workers=min(len(gates), 8)) as pool:
        return list(pool.map(lambda gate: gate_health(run_dir, gate, timeout_s), gates))


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int
    database_bytes: int  # the database with its WAL
    snapshot_bytes: int
    snapshot_files: int
    snapshot_budget_bytes: int
    min_free_bytes: int
    integrity: IntegrityStatus | None = None  # the last hourly integrity_check

    @property
    def level(self) -> str:
        if self.free_bytes < self.min_free_bytes:
            return "bad"
        if self.integrity is not None and self.integrity.damaged:
            return "bad"
        if self.snapshot_bytes > 0.9 * self.snapshot_budget_bytes:
            return "warn"
        return "ok"


def _tree_size(root: Path) -> tuple[int, int]:
    """(bytes, files) under ``root``; a folder removed while walking is skipped."""
    size = files = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size += entry.stat(follow_symlinks=False).st_size
                    files += 1
            except OSError:
                continue
    return size, files


class SnapshotSizeCache:
    """The snapshot folder's size, recomputed at most every ``ttl_s`` (one per web app)."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: tuple[int, int] | None = None
        self._at = 0.0

    def get(self, root: Path) -> tuple[int, int]:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl_s:
                self._value = _tree_size(root)
                self._at = time.monotonic()
            return self._value


def disk_usage(config: MenweiConfig, snapshots: SnapshotSizeCache) -> DiskUsage:
    storage = config.storage
    folder = storage.data_dir if storage.data_dir.exists() else storage.data_dir.parent
    disk = shutil.disk_usage(folder)
    database = 0
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{storage.database_path}{suffix}")
        if path.exists():
            database += path.stat().st_size
    snapshot_bytes, snapshot_files = snapshots.get(storage.snapshot_dir)
    return DiskUsage(
        disk.total,
        disk.free,
        database,
        snapshot_bytes,
        snapshot_files,
        config.retention.snapshot_budget_mb * 1024 * 1024,
        config.retention.min_free_mb * 1024 * 1024,
        read_status(status_path(config)),
    )


def sync_backlog(db: sqlite_utils.Database, config: MenweiConfig, now: datetime) -> dict[str, Any]:
    """Queued / dead counts and the oldest undelivered age, with the sync worker's heartbeat."""
    status = sync_status(db, now)
    status["configured"] = config.sync is not None
    worker = read_status_file(config.sync.status_file) if config.sync else None
    status["worker"] = worker.get("worker") if worker else None
    status["worker_at"] = worker.get("at") if worker else None
    status["last_error"] = worker.get("last_error") if worker else None
    age = status["oldest_pending_age_s"] if status["queued"] else 0.0
    if status["dead"] or age > BACKLOG_BAD_S:
        status["level"] = "bad"
    elif age > BACKLOG_WARN_S or (status["queued"] and not status["configured"]):
        status["level"] = "warn"  # growing, or waiting for a platform nobody configured
    else:
        status["level"] = "ok"
    return status
