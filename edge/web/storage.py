"""The web process on a faulted store: a clear 503 page instead of a generic 500, a
``/healthz`` that says what is wrong, and a thread connection that tries again.

A tenant registering on a full or read-only card gets "registration is unavailable, try
again later" in their language (HTTP 503 with Retry-After), not "something went wrong";
the guard's console likewise. ``/healthz`` answers 503 with ``X-Menwei-Fault: storage`` for
as long as the fault lasts: monitoring sees it, and the systemd watchdog probe
(edge.web.server) still counts the process alive, because restarting it cannot help.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import time
from pathlib import Path

from flask import g, render_template, request
from flask_babel import gettext

from edge.box.store_check import read_status, status_path
from edge.db_file import DamagedStoreError, file_problem
from edge.web.context import WebState, state

log = logging.getLogger(__name__)
RETRY_AFTER_S = 60
FAULT_HEADER = "X-Menwei-Fault"
MIN_FREE_BYTES = 1024 * 1024  # below this SQLite cannot commit a page and its WAL frame
RECENT_S = 60.0  # a fault a request met stays in /healthz this long after the last one
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT})


def is_storage_fault(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.DatabaseError | DamagedStoreError):
        return True
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_unavailable(exc: Exception):
    """The error handler for storage faults: 503 in the reader's language; anything else
    that reaches it (an OSError that is not the disk's) goes on as the bug it is."""
    if not is_storage_fault(exc):
        raise exc
    web = state()
    message = f"{exc.__class__.__name__}: {exc}"
    if web.storage_fault is None or web.storage_fault[0] != message:
        log.error("storage fault in %s %s: %s", request.method, request.path, message)
    web.storage_fault = (message, time.monotonic())
    db = getattr(web.local, "db", None)
    if db is not None:  # reopened by the next request: a read-only open does not last
        web.local.db = None
        g.pop("db", None)
        with contextlib.suppress(sqlite3.Error):
            db.conn.close()
    if request.blueprint == "tenant":
        text = gettext("Registration is temporarily unavailable. Please try again later.")
    else:
        text = gettext("The system cannot save anything right now. Please try again later.")
    page = render_template("storage_unavailable.html", message=text)
    return page, 503, {"Retry-After": str(RETRY_AFTER_S)}


def storage_health(web: WebState) -> str | None:
    """What is wrong with the store now, or None: the file, the disk, or a recent fault."""
    path: Path = web.config.storage.database_path
    problem = file_problem(path)
    if problem:
        return problem
    try:
        disk = os.statvfs(path.parent)
    except OSError as exc:
        return f"{path.parent}: {exc.strerror or exc}"
    if disk.f_flag & os.ST_RDONLY:
        return f"{path.parent} is mounted read-only"
    if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
        return f"{path.parent} is full ({disk.f_bavail * disk.f_frsize} bytes free)"
    if web.storage_fault and time.monotonic() - web.storage_fault[1] < RECENT_S:
        return web.storage_fault[0]
    integrity = read_status(status_path(web.config))
    if integrity is not None and integrity.damaged:
        return f"damaged (integrity_check at {integrity.at}): {'; '.join(integrity.problems[:3])}"
    return None
