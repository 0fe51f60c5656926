"""Numbered schema migrations. Append only: a shipped migration is never edited.

The version lives in ``PRAGMA user_version`` so any SQLite tool shows it, and each
migration runs in its own transaction together with the version bump, so a power cut
leaves the database at the previous version, never half-migrated.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "households, residents, vehicles, watchlist, gates, events, outbox",
        """
        CREATE TABLE households (
            id INTEGER PRIMARY KEY,
            label TEXT NOT NULL UNIQUE,          -- e.g. '3-1-402' (building-unit-room)
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE residents (
            id INTEGER PRIMARY KEY,
            household_id INTEGER REFERENCES households(id) ON DELETE SET NULL,
            name TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL
        );
        CREATE TABLE vehicles (
            id INTEGER PRIMARY KEY,
            plate TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('resident', 'visitor', 'temporary')),
            resident_id INTEGER REFERENCES residents(id) ON DELETE CASCADE,
            household_id INTEGER REFERENCES households(id) ON DELETE CASCADE,
            valid_from TEXT,                     -- UTC ISO-8601; NULL = no start limit
            valid_to TEXT,                       -- UTC ISO-8601; NULL = no end limit
            note TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to)
        );
        CREATE INDEX vehicles_plate ON vehicles(plate);
        CREATE TABLE watchlist (
            id INTEGER PRIMARY KEY,
            plate TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'local',  -- 'local' or 'district'
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            expires_at TEXT
        );
        CREATE INDEX watchlist_plate ON watchlist(plate);
        CREATE TABLE gates (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('vehicle', 'pedestrian')),
            updated_at TEXT NOT NULL
        );
        CREATE TABLE events (
            id TEXT PRIMARY KEY,                 -- ULID made on the box: the idempotency key
            occurred_at TEXT NOT NULL,           -- UTC ISO-8601 with offset
            gate_id TEXT NOT NULL REFERENCES gates(id),
            kind TEXT NOT NULL,                  -- vehicle_passage, plate_unread, ...
            plate TEXT,
            subject TEXT,                        -- who matched (kind + household), no PII
            confidence REAL,
            decision TEXT NOT NULL
                CHECK (decision IN ('open', 'deny', 'none')),
            reasons TEXT NOT NULL DEFAULT '[]',  -- JSON list of {code, message}
            snapshot_path TEXT,                  -- relative to the snapshot folder
            related_event_id TEXT REFERENCES events(id),
            details TEXT NOT NULL DEFAULT '{}'   -- JSON: colour, votes, frames, latency, ...
        );
        CREATE INDEX events_gate_time ON events(gate_id, occurred_at);
        CREATE INDEX events_plate ON events(plate);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,            -- idempotency key (the event's ULID)
            topic TEXT NOT NULL,                 -- 'event', later 'registration', ...
            payload TEXT NOT NULL,               -- JSON document sent to the district platform
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            delivered_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox(state, seq);
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]
