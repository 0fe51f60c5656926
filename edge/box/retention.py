"""Retention: keep snapshots within a disk budget and events within their retention period.

Run hourly by ``menwei-retention.timer`` (``menwei retention``). Two rules the box must
never break while freeing space: an event not yet delivered to the district platform is
never deleted (it is still owed), and deleting is done oldest first in small batches so a
card with years of data is pruned without one huge transaction blocking the gate.

Visitors' biometric data is not kept: the face templates of a visitor's face pass are
deleted at the first run after the pass ends — expired, or used up — (at most an hour with
the hourly timer; revoking one in the console deletes them at once). The pass rows
themselves (no name, no template: window, uses, host) stay ``visitor_pass_days`` after
their end as the history the pass list shows, then go. Watch faces past their
``expires_at`` are deleted with their template. Each purge is audit-logged (ids only).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlite_utils

from edge import audit
from edge.config.retention import RetentionConfig
from edge.db import iso, transaction

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class RetentionReport:
    snapshots_deleted: int
    bytes_freed: int
    events_deleted: int
    snapshot_bytes_left: int
    registrations_purged: int = 0
    visitor_faces_purged: int = 0  # face passes whose templates were deleted
    visitor_passes_purged: int = 0
    watch_faces_purged: int = 0
    pending_purged: int = 0  # registrations never confirmed, or rejected before any sending
    co_residents_purged: int = 0  # co-residents whose own (or guardian's) consent never came


def _snapshot_files(root: Path) -> list[Path]:
    """All snapshot files, oldest first: YYYY/MM/DD/<ULID>.jpg sorts chronologically."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def _free_bytes(root: Path) -> int:
    return shutil.disk_usage(root).free


def prune_snapshots(
    db: sqlite_utils.Database, root: Path, budget_bytes: int, min_free_bytes: int
) -> tuple[int, int, int]:
    """Delete oldest snapshots until within budget and enough disk is free.

    Returns (files deleted, bytes freed, snapshot bytes left). Event rows keep existing;
    their snapshot_path is cleared so no page links to a missing picture.
    """
    _remove_stale_partials(root)
    files = _snapshot_files(root)
    sizes = {path: path.stat().st_size for path in files}
    total = sum(sizes.values())
    deleted, freed, cleared = 0, 0, []
    for path in files:
        over_budget = total > budget_bytes
        short_of_space = min_free_bytes and _free_bytes(root) < min_free_bytes
        if not over_budget and not short_of_space:
            break
        try:
            path.unlink()
        except OSError as exc:
            log.warning("retention: cannot delete a snapshot: %s", exc)
            continue
        total -= sizes[path]
        freed += sizes[path]
        deleted += 1
        cleared.append(path.relative_to(root).as_posix())
        if len(cleared) >= BATCH:
            _clear_paths(db, cleared)
            cleared = []
    _clear_paths(db, cleared)
    _remove_empty_folders(root)
    return deleted, freed, total


def _remove_stale_partials(root: Path) -> None:
    """A ``.jpg.part`` older than a minute is a write a crash interrupted."""
    if not root.is_dir():
        return
    cutoff = time.time() - 60
    for partial in root.rglob("*.part"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < cutoff:
                partial.unlink()


def _clear_paths(db: sqlite_utils.Database, paths: list[str]) -> None:
    if not paths:
        return
    with transaction(db) as conn:
        conn.executemany(
            "UPDATE events SET snapshot_path = NULL WHERE snapshot_path = ?", [(p,) for p in paths]
        )


def _remove_empty_folders(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty


def purge_events(db: sqlite_utils.Database, now: datetime, days: int, snapshot_root: Path) -> int:
    """Delete events older than ``days`` that the district has acknowledged, with snapshots.

    Linked events (an alert pointing at its passage) go first; a passage whose linked
    event is still owed stays until that one is delivered too.
    """
    cutoff = iso(now - timedelta(days=days))
    deleted = 0
    while True:
        with transaction(db) as conn:
            rows = conn.execute(
                "SELECT e.id, e.snapshot_path FROM events e JOIN outbox o ON o.key = e.id"
                " WHERE e.occurred_at < ? AND o.state = 'delivered'"
                " AND NOT EXISTS (SELECT 1 FROM events c WHERE c.related_event_id = e.id)"
                " ORDER BY e.occurred_at LIMIT ?",
                (cutoff, BATCH),
            ).fetchall()
            if not rows:
                break
            ids = [(event_id,) for event_id, _ in rows]
            conn.executemany("DELETE FROM events WHERE id = ?", ids)
            conn.executemany("DELETE FROM outbox WHERE key = ?", ids)
            conn.executemany("DELETE FROM plate_prompts WHERE event_id = ?", ids)
        for _, snapshot in rows:
            if snapshot:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(snapshot_root / snapshot)
        deleted += len(rows)
    return deleted


def purge_registrations(db: sqlite_utils.Database, now: datetime, days: int) -> int:
    """Delete closed registrations (moved out or rejected) ``days`` after they closed.

    The row, its co-residents and extensions (cascade) and its delivered outbox rows (which
    hold the sealed personal data) go; a registration with any change still owed to the
    district stays until delivered. Each purge is written to the audit log (id only).
    """
    cutoff = iso(now - timedelta(days=days))
    purged = 0
    while True:
        with transaction(db) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT r.id FROM registrations r"
                    " WHERE r.status IN ('moved_out', 'rejected')"
                    " AND COALESCE(r.moved_out_on, r.decided_at, r.updated_at) < ?"
                    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key LIKE r.id || ':%'"
                    "                 AND o.state != 'delivered')"
                    " LIMIT ?",
                    (cutoff, BATCH),
                )
            ]
            for reg_id in ids:
                conn.execute("DELETE FROM outbox WHERE key LIKE ? || ':%'", (reg_id,))
                conn.execute("DELETE FROM registrations WHERE id = ?", (reg_id,))
                audit.append(
                    conn,
                    "retention",
                    "purge_registration",
                    f"registration:{reg_id}",
                    {"after_days": days},
                    at=now,
                )
        purged += len(ids)
        if len(ids) < BATCH:
            return purged


def purge_stale_pending(
    db: sqlite_utils.Database, now: datetime, days: int, consent_days: int
) -> tuple[int, int]:
    """Delete what the public page stored and no one confirmed, ``days`` after it lapsed:
    pending registrations past their confirmation deadline, registrations rejected before
    anything was sent to the district, and co-residents still awaiting consent
    ``consent_days`` after they were entered. Returns
    (registrations, co-residents); each purge is in the audit log (ids only)."""
    cutoff = iso(now - timedelta(days=days))
    with transaction(db) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM registrations WHERE sent_at IS NULL AND ("
                " (status = 'pending' AND confirm_deadline < ?)"
                " OR (status = 'rejected' AND decided_at < ?))",
                (cutoff, cutoff),
            )
        ]
        for reg_id in ids:
            conn.execute("DELETE FROM registrations WHERE id = ?", (reg_id,))
            audit.append(conn, "retention", "purge_unconfirmed", f"registration:{reg_id}", at=now)
        co = conn.execute(
            "SELECT id, registration_id FROM co_residents"
            " WHERE consent_state = 'awaiting' AND created_at < ?",
            (iso(now - timedelta(days=consent_days)),),
        ).fetchall()
        for co_id, reg_id in co:
            conn.execute("DELETE FROM co_residents WHERE id = ?", (co_id,))
            audit.append(
                conn, "retention", "purge_unconsented", f"registration:{reg_id}", {"co": co_id}, now
            )
    return len(ids), len(co)


_FACE_PASS_ENDED = (
    "kind = 'visitor' AND (valid_to <= ? OR active = 0"
    " OR (max_uses IS NOT NULL AND uses >= max_uses))"
)


def purge_visitor_faces(db: sqlite_utils.Database, now: datetime) -> int:
    """Delete the templates of every face pass that has ended; returns how many passes."""
    with transaction(db) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                f"SELECT id FROM residents WHERE {_FACE_PASS_ENDED} AND EXISTS"
                " (SELECT 1 FROM face_templates t WHERE t.resident_id = residents.id)",
                (iso(now),),
            )
        ]
        for visitor_id in ids:
            deleted = conn.execute(
                "DELETE FROM face_templates WHERE resident_id = ?", (visitor_id,)
            ).rowcount
            audit.append(
                conn,
                "retention",
                "purge_visitor_face",
                f"visitor:{visitor_id}",
                {"templates": deleted},
                at=now,
            )
    return len(ids)


def purge_visitor_passes(db: sqlite_utils.Database, now: datetime, days: int) -> int:
    """Delete visitor passes of every kind whose end is more than ``days`` ago.

    The end is ``valid_to`` (a revoked or used-up pass goes ``days`` after the end of its
    window too). District-managed vehicles are left to the downlink, which replaces them.
    """
    cutoff = iso(now - timedelta(days=days))
    with transaction(db) as conn:
        counts = {
            "qr": conn.execute("DELETE FROM qr_passes WHERE valid_to < ?", (cutoff,)).rowcount,
            "plate": conn.execute(
                "DELETE FROM vehicles WHERE kind = 'visitor' AND source = 'local' AND valid_to < ?",
                (cutoff,),
            ).rowcount,
            "face": conn.execute(
                "DELETE FROM residents WHERE kind = 'visitor' AND valid_to < ?", (cutoff,)
            ).rowcount,
        }
        total = sum(counts.values())
        if total:
            audit.append(
                conn,
                "retention",
                "purge_visitor_passes",
                "",
                {**counts, "after_days": days},
                at=now,
            )
    return total


def purge_watch_faces(db: sqlite_utils.Database, now: datetime) -> int:
    """Delete watch faces past their end (biometric data is kept no longer than needed)."""
    with transaction(db) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM watch_faces WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (iso(now),),
            )
        ]
        for watch_id in ids:
            conn.execute("DELETE FROM watch_faces WHERE id = ?", (watch_id,))
            audit.append(conn, "retention", "purge_watch_face", f"watch_face:{watch_id}", at=now)
    return len(ids)


def run_retention(
    db: sqlite_utils.Database, snapshot_root: Path, config: RetentionConfig, now: datetime
) -> RetentionReport:
    events = purge_events(db, now, config.event_days, snapshot_root)
    registrations = purge_registrations(db, now, config.registration_days)
    pending = purge_stale_pending(
        db, now, config.pending_registration_days, config.co_resident_consent_days
    )
    visitor_faces = purge_visitor_faces(db, now)
    visitor_passes = purge_visitor_passes(db, now, config.visitor_pass_days)
    watch_faces = purge_watch_faces(db, now)
    files, freed, left = prune_snapshots(
        db, snapshot_root, config.snapshot_budget_mb * 1024 * 1024, config.min_free_mb * 1024 * 1024
    )
    if files or events:
        log.info("retention: %d snapshots (%d bytes) and %d events deleted", files, freed, events)
    db.execute("PRAGMA optimize")  # hourly, as SQLite advises: keeps query plans on fresh stats
    return RetentionReport(
        files, freed, events, left, registrations, visitor_faces, visitor_passes, watch_faces,
        *pending,
    )  # fmt: skip
