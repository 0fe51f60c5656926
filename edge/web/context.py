"""What a request handler reaches for: the app's state, this thread's database, the clock
and the acting user.

Below the factory (``edge.web.app``), so a blueprint imports these without importing the app
that registers it — Flask's tutorial app keeps ``get_db`` in ``db.py`` under ``create_app``
for the same reason. Every function here needs an app or request context.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils
from flask import current_app, g

from edge.config import MenweiConfig
from edge.db import connect, connect_read_only, utc_now
from edge.pii import PiiVault
from edge.web.guards import RateLimiter
from edge.web.limits import LoginLimits, LoginThrottle, PasswordGate

EXTENSION = "menwei"  # the key of WebState in app.extensions


@dataclass
class WebState:
    """What the app holds for its lifetime (never a database connection)."""

    config: MenweiConfig
    vault: PiiVault
    csrf_secret: bytes
    clock: Callable[[], datetime] = utc_now
    login_throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(LoginLimits()))
    password_gate: PasswordGate = field(default_factory=PasswordGate)
    public_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20, 60))
    local: threading.local = field(default_factory=threading.local)
    storage_fault: tuple[str, float] | None = None  # last one a request met (edge.web.storage)


def state() -> WebState:
    return current_app.extensions[EXTENSION]


def get_db() -> sqlite_utils.Database:
    """This worker thread's connection: opened once per thread and reused.

    Opening a connection (file open, WAL set-up, pragmas) cost ~0.4 ms, paid two or three
    times per request before; under 50 concurrent tenants that was a measurable share of
    the 2 cores. A connection never crosses threads, and ``close_db`` leaves it idle.
    """
    if "db" not in g:
        local = state().local
        db = getattr(local, "db", None)
        if db is None:
            path = state().config.storage.database_path
            try:
                db = connect(path, apply_migrations=False)
            except sqlite3.OperationalError:  # a read-only disk: pages still read
                db = connect_read_only(path)
            local.db = db
        g.db = db
    return g.db


def close_db(_exc: BaseException | None) -> None:
    """Leave the thread's connection idle for its next request (never mid-transaction)."""
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def now() -> datetime:
    return state().clock()


def actor() -> str:
    """Who the audit log names for this request: ``user:<id>`` or ``anonymous``."""
    return f"user:{g.user.id}" if g.get("user") else "anonymous"
