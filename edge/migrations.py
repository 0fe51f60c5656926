"""Numbered schema migrations. Append only: a shipped migration is never edited.

The version lives in ``PRAGMA user_version`` so any SQLite tool shows it, and each
migration runs in its own transaction together with the version bump, so a power cut
leaves the database at the previous version, never half-migrated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from edge.address_labels import FlatAddress, parse_flat, part_number

# Migrations that rebuild a table other tables reference (SQLite cannot alter a CHECK
# constraint in place). They run with foreign keys off, as SQLite's documented 12-step
# ALTER procedure requires, and must pass ``PRAGMA foreign_key_check`` before they commit.
TABLE_REBUILDS = frozenset({5, 6, 9, 12})

#: the tables a hub serves its gate boxes, in the order a full snapshot is applied (parents
#: before the rows that reference them)
COMMUNITY_LISTS = (
    "households",
    "residents",
    "face_templates",
    "vehicles",
    "qr_passes",
    "watchlist",
    "watch_faces",
)


def _community_triggers() -> str:
    """INSERT/UPDATE/DELETE triggers on every community list, writing community_changes."""
    when = "WHEN EXISTS (SELECT 1 FROM sync_state WHERE name = 'community.role' AND value = 'hub')"
    parts = []
    for table in COMMUNITY_LISTS:
        for action, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            parts.append(
                f"CREATE TRIGGER community_{table}_{action.lower()} AFTER {action} ON {table}"
                f" {when} BEGIN INSERT INTO community_changes (list, item_id)"
                f" VALUES ('{table}', {row}.id); END;\n"
            )
    return "".join(parts)


#: what a gate decides from: the lists its last good copy in memory holds (edge.people.copy)
PEOPLE_LISTS = COMMUNITY_LISTS


def _people_version_triggers() -> str:
    """INSERT/UPDATE/DELETE triggers on every people list, bumping its people_versions row."""
    parts = []
    for table in PEOPLE_LISTS:
        for action in ("INSERT", "UPDATE", "DELETE"):
            parts.append(
                f"CREATE TRIGGER people_version_{table}_{action.lower()} AFTER {action}"
                f" ON {table} BEGIN UPDATE people_versions SET version = version + 1"
                f" WHERE list = '{table}'; END;\n"
            )
    return "".join(parts)


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
    (
        2,
        "web accounts, sessions, audit log; rooms, QR tokens, tenant registrations",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('admin', 'landlord', 'police', 'grid')),
            password_hash TEXT NOT NULL,         -- argon2id
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL
        );
        CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY,                 -- SHA-256 of the cookie value, never the value
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX web_sessions_user ON web_sessions(user_id);
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,                 -- 'user:12', 'tenant', 'cli', 'system'
            action TEXT NOT NULL,                -- view, reveal, export, confirm, ...
            target TEXT NOT NULL DEFAULT '',     -- 'registration:01H...', 'room:3', ...
            details TEXT NOT NULL DEFAULT '{}',  -- JSON, never plaintext personal data
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TABLE properties (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,           -- community (小区) name
            address TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE buildings (
            id INTEGER PRIMARY KEY,
            property_id INTEGER NOT NULL REFERENCES properties(id),
            name TEXT NOT NULL,                  -- '3幢'
            UNIQUE (property_id, name)
        );
        CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            building_id INTEGER NOT NULL REFERENCES buildings(id),
            name TEXT NOT NULL,                  -- '1单元'
            UNIQUE (building_id, name)
        );
        CREATE TABLE rooms (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id),
            number TEXT NOT NULL,                -- '402' or '402-A' for a room of a flat
            landlord_id INTEGER NOT NULL REFERENCES users(id),
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            UNIQUE (unit_id, number)
        );
        CREATE INDEX rooms_landlord ON rooms(landlord_id);
        CREATE TABLE room_tokens (
            token TEXT PRIMARY KEY,              -- opaque random; the QR holds only a URL with it
            room_id INTEGER NOT NULL REFERENCES rooms(id),
            created_at TEXT NOT NULL,
            retired_at TEXT                      -- set when rotated: old stickers say so
        );
        CREATE UNIQUE INDEX room_tokens_current ON room_tokens(room_id) WHERE retired_at IS NULL;
        CREATE TABLE registrations (
            id TEXT PRIMARY KEY,                 -- ULID, the idempotency key to the district
            room_id INTEGER NOT NULL REFERENCES rooms(id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'confirmed', 'rejected', 'moved_out')),
            name TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            doc_enc BLOB NOT NULL,               -- AES-GCM (edge.pii), purpose-bound
            doc_hash TEXT NOT NULL,              -- keyed hash for exact search
            doc_mask TEXT NOT NULL,
            sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),
            birth_date TEXT NOT NULL,
            ethnicity TEXT NOT NULL,
            phone_enc BLOB NOT NULL,
            phone_hash TEXT NOT NULL,
            phone_mask TEXT NOT NULL,
            hukou_address_enc BLOB NOT NULL,
            occupation TEXT NOT NULL,
            relation TEXT NOT NULL,
            move_in_date TEXT NOT NULL,
            expected_until TEXT NOT NULL,
            consent_at TEXT NOT NULL,
            consent_version TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            confirm_deadline TEXT NOT NULL,
            decided_at TEXT,
            decided_by INTEGER REFERENCES users(id),
            reject_reason TEXT,
            moved_out_on TEXT,
            move_out_reason TEXT,
            moved_out_by TEXT,
            updated_at TEXT NOT NULL,
            CHECK (move_in_date <= expected_until)
        );
        CREATE INDEX registrations_room ON registrations(room_id, status);
        CREATE INDEX registrations_doc ON registrations(doc_hash);
        CREATE INDEX registrations_phone ON registrations(phone_hash);
        CREATE INDEX registrations_status ON registrations(status, confirm_deadline);
        CREATE TABLE co_residents (
            id INTEGER PRIMARY KEY,
            registration_id TEXT NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            doc_enc BLOB NOT NULL,
            doc_hash TEXT NOT NULL,
            doc_mask TEXT NOT NULL,
            relation TEXT NOT NULL
        );
        CREATE INDEX co_residents_doc ON co_residents(doc_hash);
        CREATE TABLE registration_extensions (
            id INTEGER PRIMARY KEY,
            registration_id TEXT NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
            old_until TEXT NOT NULL,
            new_until TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT NOT NULL                     -- 'tenant' or 'user:12'
        );
        """,
    ),
    (
        3,
        "sync: source of district-managed vehicles, sync_state for downlink cursors",
        """
        -- 'local' rows are enrolled on the box; 'district' rows are replaced as a whole by
        -- each resident/vehicle list the district platform sends down (sync.downlink).
        ALTER TABLE vehicles ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
            CHECK (source IN ('local', 'district'));
        CREATE INDEX vehicles_source ON vehicles(source);
        CREATE TABLE sync_state (
            name TEXT PRIMARY KEY,               -- e.g. 'downlink.watchlist.etag'
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        "pedestrian gates: resident face templates (encrypted, with consent), PINs, QR passes",
        """
        -- Names of residents enrolled from now on are stored encrypted in name_enc (edge.pii,
        -- purpose 'resident.name'); their plain name column is left ''.
        ALTER TABLE residents ADD COLUMN name_enc BLOB;
        ALTER TABLE residents ADD COLUMN access_group TEXT NOT NULL DEFAULT 'residents';
        ALTER TABLE residents ADD COLUMN face_consent_at TEXT;  -- UTC; NULL = no consent
        ALTER TABLE residents ADD COLUMN face_consent_by TEXT;  -- operator who recorded it
        ALTER TABLE residents ADD COLUMN pin_hash TEXT;         -- scrypt, see edge.people.residents
        CREATE TABLE face_templates (
            id INTEGER PRIMARY KEY,
            resident_id INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
            template BLOB NOT NULL,              -- AES-GCM (purpose 'face_template'), 128 x f32
            model_sha256 TEXT NOT NULL,          -- templates compare only within one model
            quality TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX face_templates_resident ON face_templates(resident_id);
        CREATE TABLE qr_passes (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 of the 192-bit random token
            label TEXT NOT NULL,
            host_resident_id INTEGER REFERENCES residents(id) ON DELETE CASCADE,
            access_group TEXT NOT NULL DEFAULT 'visitors',
            valid_from TEXT NOT NULL,
            valid_to TEXT NOT NULL,
            max_uses INTEGER NOT NULL CHECK (max_uses >= 1),
            uses INTEGER NOT NULL DEFAULT 0,
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
            created_at TEXT NOT NULL,
            CHECK (valid_from < valid_to)
        );
        """,
    ),
    (
        5,
        "console: guard role, visitor passes by plate and face, face watchlist, form nonces",
        """
        -- 'guard' joins the roles: users is rebuilt because its CHECK cannot be altered.
        CREATE TABLE users_new (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL
                CHECK (role IN ('admin', 'guard', 'landlord', 'police', 'grid')),
            password_hash TEXT NOT NULL,         -- argon2id
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL
        );
        INSERT INTO users_new (id, username, display_name, role, password_hash, active,
                               created_at)
            SELECT id, username, display_name, role, password_hash, active, created_at
            FROM users;
        DROP TABLE users;
        ALTER TABLE users_new RENAME TO users;

        -- A visitor pass by plate: a vehicles row of kind visitor/temporary whose uses are
        -- counted (max_uses NULL = unlimited within its window), and who issued it.
        ALTER TABLE vehicles ADD COLUMN max_uses INTEGER CHECK (max_uses IS NULL OR max_uses >= 1);
        ALTER TABLE vehicles ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE vehicles ADD COLUMN issued_by TEXT;

        -- A visitor pass by face: a residents row of kind 'visitor' with a window and uses,
        -- hosted by a resident; its templates go when the pass is deleted or purged.
        ALTER TABLE residents ADD COLUMN kind TEXT NOT NULL DEFAULT 'resident'
            CHECK (kind IN ('resident', 'visitor'));
        ALTER TABLE residents ADD COLUMN valid_from TEXT;
        ALTER TABLE residents ADD COLUMN valid_to TEXT;
        ALTER TABLE residents ADD COLUMN max_uses INTEGER
            CHECK (max_uses IS NULL OR max_uses >= 1);
        ALTER TABLE residents ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE residents ADD COLUMN host_resident_id INTEGER
            REFERENCES residents(id) ON DELETE CASCADE;
        ALTER TABLE residents ADD COLUMN issued_by TEXT;
        ALTER TABLE qr_passes ADD COLUMN issued_by TEXT;

        -- Faces on the watchlist (police/admin or the district): alert on a match at any
        -- pedestrian gate. Biometric data: encrypted like resident templates.
        CREATE TABLE watch_faces (
            id INTEGER PRIMARY KEY,
            label TEXT NOT NULL,                 -- e.g. 'wanted person 2026-118': no name needed
            reason TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'district')),
            template BLOB NOT NULL,              -- AES-GCM (purpose 'watch_face'), 128 x f32
            model_sha256 TEXT NOT NULL,
            added_by TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            expires_at TEXT
        );

        -- One row per accepted console form: a double submit hits the primary key and
        -- changes nothing (inserted in the same transaction as what the form creates).
        CREATE TABLE form_submissions (
            nonce TEXT PRIMARY KEY,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX events_time ON events(occurred_at);
        CREATE INDEX events_kind ON events(kind, occurred_at);
        -- covering index for the console's per-decision counts (a full scan otherwise)
        CREATE INDEX events_decision ON events(decision);
        """,
    ),
    (
        6,
        "resident accounts: residents issue and revoke their own visitor passes",
        """
        -- 'resident' joins the roles: users is rebuilt because its CHECK cannot be altered.
        CREATE TABLE users_new (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL
                CHECK (role IN ('admin', 'guard', 'landlord', 'police', 'grid', 'resident')),
            password_hash TEXT NOT NULL,         -- argon2id
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL
        );
        INSERT INTO users_new (id, username, display_name, role, password_hash, active,
                               created_at)
            SELECT id, username, display_name, role, password_hash, active, created_at
            FROM users;
        DROP TABLE users;
        ALTER TABLE users_new RENAME TO users;

        -- Which resident a 'resident' account is: one account per resident at most. Deleting
        -- the resident deletes the link (and edge.people.residents deactivates the account).
        CREATE TABLE resident_accounts (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            resident_id INTEGER NOT NULL UNIQUE REFERENCES residents(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        7,
        "GA/T 1400: the platform's subscriptions and dispositions (布控) held by the box",
        """
        -- Subscriptions a 1400 platform made on this box (sync.gat1400.store): events from
        -- begin_at to end_at in these categories are pushed to receive_addr through the outbox.
        CREATE TABLE viid_subscriptions (
            id TEXT PRIMARY KEY,                 -- SubscribeID
            title TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL,            -- SubscribeDetail codes, comma-separated
            resource_uri TEXT NOT NULL DEFAULT '',
            receive_addr TEXT NOT NULL,
            begin_at TEXT NOT NULL,              -- UTC ISO-8601
            end_at TEXT NOT NULL,
            status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),  -- on/cancelled/expired
            document TEXT NOT NULL,              -- the SubscribeObject as received
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            cancel_reason TEXT
        );
        -- Dispositions (布控) from the platform; each active one is a district watchlist row.
        CREATE TABLE viid_dispositions (
            id TEXT PRIMARY KEY,                 -- DispositionID
            category TEXT NOT NULL,              -- DispositionCategory: 2 face, 3 vehicle
            title TEXT NOT NULL DEFAULT '',
            receive_addr TEXT NOT NULL DEFAULT '',
            begin_at TEXT,
            end_at TEXT,
            status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),  -- on/cancelled/expired
            watchlist_id INTEGER,                -- the watchlist row it made (vehicle)
            watch_face_id INTEGER,               -- the watch_faces row it made (face)
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX viid_dispositions_watch ON viid_dispositions(watchlist_id);
        CREATE INDEX viid_dispositions_face ON viid_dispositions(watch_face_id);
        """,
    ),
    (
        8,
        "keyed audit chain with signed checkpoints; login failures per address; accounts",
        """
        -- Rows written from now on carry an HMAC keyed with the audit key (a file outside the
        -- database); older rows keep their plain SHA-256 and stay valid as the chain's prefix.
        ALTER TABLE audit_log ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0 CHECK (keyed IN (0, 1));

        -- Signed (seq, hash, time) of the chain's newest row, at least hourly; also kept in a
        -- file outside the data folder and sent to the district platform.
        CREATE TABLE audit_checkpoints (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            at TEXT NOT NULL,
            public_key TEXT NOT NULL,            -- Ed25519, hex
            signature TEXT NOT NULL              -- Ed25519 over seq, hash, at, public_key
        );
        CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
        CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;

        -- Failed logins counted per address and hour; each finished hour becomes one audit
        -- row with its count (a flood no longer writes one undeletable row per try).
        CREATE TABLE login_failures (
            address TEXT NOT NULL,
            window_start TEXT NOT NULL,
            failures INTEGER NOT NULL,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            PRIMARY KEY (address, window_start)
        );

        -- Accounts: a password an admin set must be changed at the next login; sessions
        -- remember the last *user action* (background polls do not count) and where from.
        ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
            CHECK (must_change_password IN (0, 1));
        ALTER TABLE users ADD COLUMN password_changed_at TEXT;
        ALTER TABLE web_sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
        ALTER TABLE web_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        9,
        "registry: personal fields encrypted, consent per co-resident, tenant requests",
        """
        -- Name, sex, birth date, ethnicity, occupation (and the new nationality) leave the
        -- clear columns for one AES-GCM field, person_enc. SQL cannot encrypt, so the clear
        -- values wait in registry_legacy_plain until qr_registry.registrations.seal_legacy
        -- runs with the key (at web start), encrypts them and deletes the rows with
        -- secure_delete on; person_enc is NULL only in between.
        CREATE TABLE registrations_new (
            id TEXT PRIMARY KEY,                 -- ULID, the idempotency key to the district
            room_id INTEGER NOT NULL REFERENCES rooms(id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'confirmed', 'rejected', 'moved_out')),
            ref_code TEXT NOT NULL UNIQUE,       -- short reference the tenant keeps
            via_token TEXT NOT NULL DEFAULT '',  -- the sticker token it came through
            doc_type TEXT NOT NULL,
            doc_enc BLOB NOT NULL,               -- AES-GCM (edge.pii), purpose-bound
            doc_hash TEXT NOT NULL,              -- keyed hash for exact search
            doc_mask TEXT NOT NULL,              -- qr_registry.masking: tail only
            person_enc BLOB,                     -- AES-GCM JSON: name, sex, birth date, ...
            phone_enc BLOB NOT NULL,
            phone_hash TEXT NOT NULL,
            phone_mask TEXT NOT NULL,
            hukou_address_enc BLOB NOT NULL,
            relation TEXT NOT NULL,
            move_in_date TEXT NOT NULL,
            expected_until TEXT NOT NULL,
            consent_at TEXT NOT NULL,
            consent_version TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            confirm_deadline TEXT NOT NULL,
            decided_at TEXT,
            decided_by INTEGER REFERENCES users(id),
            reject_reason TEXT,
            moved_out_on TEXT,
            move_out_reason TEXT,
            moved_out_by TEXT,
            sent_at TEXT,                        -- first queued for the district (confirmed)
            updated_at TEXT NOT NULL,
            CHECK (move_in_date <= expected_until)
        );
        CREATE TABLE registry_legacy_plain (
            registration_id TEXT PRIMARY KEY,
            name TEXT, sex TEXT, birth_date TEXT, ethnicity TEXT, occupation TEXT
        );
        INSERT INTO registry_legacy_plain
            SELECT id, name, sex, birth_date, ethnicity, occupation FROM registrations;
        INSERT INTO registrations_new (id, room_id, status, ref_code, doc_type, doc_enc,
            doc_hash, doc_mask, phone_enc, phone_hash, phone_mask, hukou_address_enc, relation,
            move_in_date, expected_until, consent_at, consent_version, submitted_at,
            confirm_deadline, decided_at, decided_by, reject_reason, moved_out_on,
            move_out_reason, moved_out_by, sent_at, updated_at)
            SELECT id, room_id, status, hex(randomblob(5)), doc_type, doc_enc, doc_hash,
                '', phone_enc, phone_hash, phone_mask, hukou_address_enc, relation,
                move_in_date, expected_until, consent_at, consent_version, submitted_at,
                confirm_deadline, decided_at, decided_by, reject_reason, moved_out_on,
                move_out_reason, moved_out_by, submitted_at, updated_at
            FROM registrations;
        DROP TABLE registrations;
        ALTER TABLE registrations_new RENAME TO registrations;
        CREATE INDEX registrations_room ON registrations(room_id, status);
        CREATE INDEX registrations_doc ON registrations(doc_hash);
        CREATE INDEX registrations_phone ON registrations(phone_hash);
        CREATE INDEX registrations_status ON registrations(status, confirm_deadline);
        CREATE INDEX registrations_token ON registrations(via_token, submitted_at);

        -- Each co-resident consents for themselves (aged 14 or more: a link they open, or
        -- the landlord records consent given in person with a reason); a child under 14
        -- through a guardian. Until then nothing about them is sent to the district.
        -- Co-residents recorded before this migration consented through the tenant only:
        -- they start 'awaiting'.
        CREATE TABLE co_residents_new (
            id INTEGER PRIMARY KEY,
            registration_id TEXT NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
            person_enc BLOB,                     -- AES-GCM JSON: name, birth date
            doc_type TEXT NOT NULL,
            doc_enc BLOB NOT NULL,
            doc_hash TEXT NOT NULL,
            doc_mask TEXT NOT NULL,
            relation TEXT NOT NULL,
            minor INTEGER NOT NULL DEFAULT 0 CHECK (minor IN (0, 1)),  -- under 14
            consent_state TEXT NOT NULL DEFAULT 'awaiting'
                CHECK (consent_state IN ('awaiting', 'given')),
            consent_kind TEXT CHECK (consent_kind IN ('self', 'in_person', 'guardian')),
            consent_at TEXT,
            consent_by TEXT,                     -- 'co_resident', 'tenant', 'user:12'
            consent_note TEXT,                   -- the landlord's reason, the guardian
            consent_token_hash TEXT UNIQUE,      -- SHA-256 of the link the person opens
            created_at TEXT NOT NULL DEFAULT '',
            sent_at TEXT
        );
        CREATE TABLE registry_legacy_plain_co (co_resident_id INTEGER PRIMARY KEY, name TEXT);
        INSERT INTO registry_legacy_plain_co SELECT id, name FROM co_residents;
        INSERT INTO co_residents_new (id, registration_id, doc_type, doc_enc, doc_hash,
            doc_mask, relation, created_at)
            SELECT c.id, c.registration_id, c.doc_type, c.doc_enc, c.doc_hash, '', c.relation,
                r.submitted_at
            FROM co_residents c JOIN registrations r ON r.id = c.registration_id;
        DROP TABLE co_residents;
        ALTER TABLE co_residents_new RENAME TO co_residents;
        CREATE INDEX co_residents_doc ON co_residents(doc_hash);
        CREATE INDEX co_residents_registration ON co_residents(registration_id);

        -- Moving out and extending from the public page are requests: the landlord confirms
        -- them, or a one-time code sent to the registered phone does.
        CREATE TABLE registration_requests (
            id INTEGER PRIMARY KEY,
            registration_id TEXT NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('move_out', 'extend')),
            on_date TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'confirmed', 'declined', 'withdrawn', 'expired')),
            handle_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the page handle the tenant holds
            code_hash TEXT,                      -- one-time code (HMAC), when SMS is set up
            code_attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT
        );
        CREATE UNIQUE INDEX registration_requests_open
            ON registration_requests(registration_id) WHERE state = 'open';

        -- Police exact searches by full document number or phone (an oracle): counted per
        -- officer to cap them per day.
        CREATE TABLE registry_lookups (
            user_id INTEGER NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX registry_lookups_user ON registry_lookups(user_id, at);
        """,
    ),
    (
        10,
        "community: change log of the lists a hub serves, its gate boxes and their gates",
        """
        -- One row per change to a list the hub serves its gate boxes (sync.community):
        -- written by triggers, so every writer (console, CLI, district downlink, a pass use)
        -- is caught in its own transaction. The triggers write only on a hub (the row
        -- 'community.role' = 'hub' in sync_state): a standalone box keeps no log.
        CREATE TABLE community_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the version a gate box has applied
            list TEXT NOT NULL,
            item_id INTEGER NOT NULL
        );
        CREATE INDEX community_changes_list ON community_changes(list, seq);
        """
        + _community_triggers()
        + """
        -- The gate boxes a hub knows: invited with a one-time code, enrolled with their own
        -- HMAC key (sealed with the hub's PII key), or revoked (then they get nothing).
        CREATE TABLE community_boxes (
            box_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('invited', 'enrolled', 'revoked')),
            code_hash TEXT,                      -- SHA-256 of the one-time code; NULL once used
            code_expires_at TEXT,
            key_sealed BLOB,
            created_at TEXT NOT NULL,
            enrolled_at TEXT,
            revoked_at TEXT,
            last_seen_at TEXT,
            address TEXT,
            version INTEGER NOT NULL DEFAULT 0,  -- the change the box last applied
            backlog INTEGER,                     -- events it had not yet delivered
            clock_skew_s REAL,                   -- hub clock minus the box's, last contact
            groups TEXT,                         -- JSON list of access groups; NULL = all
            groups_from INTEGER NOT NULL DEFAULT 0  -- the change that set them: a box
                                                 -- behind it gets a snapshot
        );
        -- Which box owns which gate id: an event for a gate another box owns is refused.
        CREATE TABLE community_gates (
            gate_id TEXT PRIMARY KEY,
            box_id TEXT NOT NULL REFERENCES community_boxes(box_id)
        );
        """,
    ),
    (
        11,
        "Questions a gate asks the guard about a plate (near miss, unread car waiting) and "
        "the corrections guards made",
        """
        -- Written with the passage event, in its transaction (edge.store.prompts). No foreign key
        -- to events: retention deletes old events and their prompts together.
        CREATE TABLE plate_prompts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,       -- the passage or unread-car event
            gate_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('near_miss', 'unread_waiting')),
            read_plate TEXT NOT NULL DEFAULT '', -- what the reader read ('' when unread)
            candidates TEXT NOT NULL DEFAULT '[]', -- JSON [{plate, kind, household, vehicle_id}]
            crop BLOB,                           -- JPEG of the plate as the gate saw it
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'confirmed', 'dismissed', 'closed')),
            resolved_at TEXT,
            resolved_by TEXT,                    -- operator username, or 'gate'
            resolution TEXT,                     -- why closed: 'read', 'left', 'opened', ...
            corrected_plate TEXT,
            open_event_id TEXT                   -- the manual_open event a confirmation wrote
        );
        CREATE INDEX plate_prompts_state ON plate_prompts(state, gate_id);
        -- Reads a guard corrected: labelled examples (the crop the gate read, the true plate),
        -- kept beyond event retention to measure each lane's read rate over time.
        CREATE TABLE plate_corrections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            prompt_id INTEGER,
            event_id TEXT NOT NULL,              -- the passage whose read was corrected
            gate_id TEXT NOT NULL,
            occurred_at TEXT NOT NULL,           -- when the car was there (UTC)
            read_plate TEXT NOT NULL DEFAULT '',
            true_plate TEXT NOT NULL,
            crop BLOB,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE INDEX plate_corrections_gate ON plate_corrections(gate_id, occurred_at);
        """,
    ),
    (
        12,
        "one address model: households are rooms of the community; named access groups",
        """
        -- A room need not be rented out: landlord_id becomes optional (rooms is rebuilt
        -- because SQLite cannot drop a NOT NULL in place).
        CREATE TABLE rooms_new (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id),
            number TEXT NOT NULL,                -- '402' or '402-A' for a room of a flat
            landlord_id INTEGER REFERENCES users(id),  -- NULL: no landlord (owner-occupied)
            active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            UNIQUE (unit_id, number)
        );
        INSERT INTO rooms_new (id, unit_id, number, landlord_id, active, created_at)
            SELECT id, unit_id, number, landlord_id, active, created_at FROM rooms;
        DROP TABLE rooms;
        ALTER TABLE rooms_new RENAME TO rooms;
        CREATE INDEX rooms_landlord ON rooms(landlord_id);

        -- A household is the people and cars of one room (at most one household a room).
        -- A label that does not read as building-unit-room keeps room_id NULL and is
        -- flagged for the admin (needs_review) instead of being guessed.
        ALTER TABLE households ADD COLUMN room_id INTEGER REFERENCES rooms(id);
        ALTER TABLE households ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0
            CHECK (needs_review IN (0, 1));
        CREATE UNIQUE INDEX households_room ON households(room_id) WHERE room_id IS NOT NULL;
        -- Other spellings of a household's label ('六栋二单元301' for 6-2-301): what the
        -- district or an old script sends still finds the household.
        CREATE TABLE household_aliases (
            label TEXT PRIMARY KEY,
            household_id INTEGER NOT NULL REFERENCES households(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        );

        -- A resident's phone (optional, from the bulk import): encrypted, shown masked.
        ALTER TABLE residents ADD COLUMN phone_enc BLOB;
        ALTER TABLE residents ADD COLUMN phone_mask TEXT;

        -- Access groups by name, with the label people read; chosen from this list.
        CREATE TABLE access_groups (
            name TEXT PRIMARY KEY,               -- code in residents.access_group, [gates.access]
            label TEXT NOT NULL,                 -- '住户', '保洁'
            created_at TEXT NOT NULL
        );
        INSERT INTO access_groups (name, label, created_at)
            VALUES ('residents', '住户', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
                   ('visitors', '访客', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
        INSERT OR IGNORE INTO access_groups (name, label, created_at)
            SELECT DISTINCT access_group, access_group, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
            FROM residents;
        INSERT OR IGNORE INTO access_groups (name, label, created_at)
            SELECT DISTINCT access_group, access_group, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
            FROM qr_passes;
        """,
    ),
    (
        13,
        "dashboard and audit page: indexes for traffic by hour and gate, deny reasons, and"
        " the audit log's filters; residents' enrolment photo thumbnails (encrypted)",
        """
        -- Traffic per hour and gate is read from this index alone (edge.events.stats): the
        -- table's rows are never visited. bench/dashboard.py measures it.
        CREATE INDEX events_traffic ON events(occurred_at, decision, gate_id);
        -- The first reason code by decision and time, for the top deny reasons.
        CREATE INDEX events_deny_reason
            ON events(decision, occurred_at, json_extract(reasons, '$[0].code'));
        -- The audit page filters by actor, action, object or time, newest first.
        CREATE INDEX audit_log_actor ON audit_log(actor, seq);
        CREATE INDEX audit_log_action ON audit_log(action, seq);
        CREATE INDEX audit_log_target ON audit_log(target, seq);
        CREATE INDEX audit_log_at ON audit_log(at);
        -- A resident's enrolment photo thumbnail (the aligned face, JPEG), kept only when the
        -- resident agreed to it; AES-GCM like the templates (purpose 'resident.face_photo'),
        -- deleted with them (edge.people.resident_faces).
        CREATE TABLE resident_face_photos (
            resident_id INTEGER PRIMARY KEY REFERENCES residents(id) ON DELETE CASCADE,
            photo BLOB NOT NULL,
            consent_at TEXT NOT NULL,
            consent_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        14,
        "a version per people list, bumped by triggers: a gate's copy in memory reloads a"
        " list when (and only when) it changed",
        """
        CREATE TABLE people_versions (
            list TEXT PRIMARY KEY,               -- a table a gate decides from
            version INTEGER NOT NULL DEFAULT 0   -- bumped by every insert, update and delete
        );
        """
        + "".join(f"INSERT INTO people_versions (list) VALUES ('{t}');\n" for t in PEOPLE_LISTS)
        + _people_version_triggers(),
    ),
    (
        15,
        "community: commands from the hub's console to a gate on a gate box (manual open,"
        " a guard's confirmed plate), and the gates each box reports",
        """
        -- A guard's open at the hub for a gate on a gate box (sync.community.commands): the
        -- hub's console writes the row, `menwei hub serve` hands it to the box's link (at
        -- most once, and never after expires_at: a late open lets in whoever stands there),
        -- the link asks its gate's control socket and writes back the gate's answer.
        CREATE TABLE community_commands (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            box_id TEXT NOT NULL REFERENCES community_boxes(box_id),
            gate_id TEXT NOT NULL,
            request TEXT NOT NULL,               -- JSON the gate's control channel takes
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting'
                CHECK (state IN ('waiting', 'sent', 'done', 'refused', 'expired')),
            sent_at TEXT,
            done_at TEXT,
            reply TEXT                           -- JSON: the gate's answer or the refusal
        );
        CREATE INDEX community_commands_box ON community_commands(box_id, state);
        -- What a box says about its gates (its configured name and kind), each time its
        -- link asks for commands: the hub's console shows them before their first event.
        ALTER TABLE community_gates ADD COLUMN name TEXT;
        ALTER TABLE community_gates ADD COLUMN kind TEXT;
        ALTER TABLE community_gates ADD COLUMN reported_at TEXT;
        """,
    ),
    (
        16,
        "GA/T 1400 dispositions: every watch row a disposition made, with the time it was in"
        " force, so an alert queued before 撤控 still reaches the platform",
        """
        -- One row per watch row a disposition made; unlinked_at is set when a 撤控 or a new
        -- version of the disposition removed it. An alert belongs to the disposition whose
        -- link covered its occurred_at (sync.gat1400.store.dispositions_for_alert), also after
        -- the link ended, and never to a later row that reused the watch row's id.
        CREATE TABLE viid_disposition_links (
            disposition_id TEXT NOT NULL REFERENCES viid_dispositions(id),
            watchlist_id INTEGER,
            watch_face_id INTEGER,
            linked_at TEXT NOT NULL,
            unlinked_at TEXT,
            CHECK ((watchlist_id IS NULL) != (watch_face_id IS NULL))
        );
        CREATE INDEX viid_disposition_links_watch ON viid_disposition_links(watchlist_id);
        CREATE INDEX viid_disposition_links_face ON viid_disposition_links(watch_face_id);
        INSERT INTO viid_disposition_links
            (disposition_id, watchlist_id, watch_face_id, linked_at)
            SELECT id, watchlist_id, watch_face_id, updated_at FROM viid_dispositions
            WHERE (watchlist_id IS NULL) != (watch_face_id IS NULL);
        """,
    ),
    (
        17,
        "GA/T 1400 dispositions: the watch row a disposition makes at once carries the"
        " disposition's BeginTime, so a gate alerts only inside [BeginTime, EndTime]",
        """
        -- When a watch row starts to alert (NULL: at once); expires_at is when it stops.
        -- A 布控 with a future BeginTime makes its row at once (no scheduler to miss it),
        -- and the gates skip the row until starts_at.
        ALTER TABLE watchlist ADD COLUMN starts_at TEXT;
        ALTER TABLE watch_faces ADD COLUMN starts_at TEXT;
        UPDATE watchlist SET starts_at = (SELECT d.begin_at FROM viid_dispositions d
            WHERE d.watchlist_id = watchlist.id AND d.status = 0)
            WHERE source = 'district';
        UPDATE watch_faces SET starts_at = (SELECT d.begin_at FROM viid_dispositions d
            WHERE d.watch_face_id = watch_faces.id AND d.status = 0)
            WHERE source = 'district';
        """,
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]

DEFAULT_COMMUNITY = "本小区"  # the community made when households exist but no property does


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _part_id(
    conn: sqlite3.Connection,
    table: str,
    parent: str,
    parent_id: int,
    number: int,
    word: str,
    name: str,
    parts: dict | None = None,
) -> int:
    """The building (unit) of this number under its parent, whatever it was called
    ('6幢', '六栋', '6号楼'); made with the canonical ``name`` when there is none. ``parts``
    remembers answers across calls within one transaction (a bulk import's thousands)."""
    key = (table, parent_id, number)
    if parts is not None and key in parts:
        return int(parts[key])
    rows = conn.execute(
        f"SELECT id, name FROM {table} WHERE {parent} = ? ORDER BY id", (parent_id,)
    ).fetchall()
    found = next(
        (
            int(i)
            for i, existing in rows
            if existing == name or part_number(existing, word) == number
        ),
        None,
    )
    if found is None:
        cursor = conn.execute(
            f"INSERT INTO {table} ({parent}, name) VALUES (?, ?)", (parent_id, name)
        )
        found = int(cursor.lastrowid or 0)
    if parts is not None:
        parts[key] = found
    return found


def flat_room(
    conn: sqlite3.Connection,
    community_id: int,
    flat: FlatAddress,
    at: str,
    parts: dict | None = None,
) -> int:
    """The room of ``flat`` in the community, with its building and unit, made if new (in
    the caller's transaction; a made room has no landlord and no sticker token yet)."""
    building = _part_id(
        conn,
        "buildings",
        "property_id",
        community_id,
        flat.building,
        "building",
        flat.building_name,
        parts,
    )
    unit = _part_id(
        conn, "units", "building_id", building, flat.unit, "unit", flat.unit_name, parts
    )
    row = conn.execute(
        "SELECT id FROM rooms WHERE unit_id = ? AND number = ?", (unit, flat.room)
    ).fetchone()
    if row:
        return int(row[0])
    cursor = conn.execute(
        "INSERT INTO rooms (unit_id, number, created_at) VALUES (?, ?, ?)", (unit, flat.room, at)
    )
    return int(cursor.lastrowid or 0)


def community_id(conn: sqlite3.Connection, create: bool = True) -> int | None:
    """The community (the first property): one box serves one community."""
    row = conn.execute("SELECT id FROM properties ORDER BY id LIMIT 1").fetchone()
    if row:
        return int(row[0])
    if not create:
        return None
    cursor = conn.execute(
        "INSERT INTO properties (name, created_at) VALUES (?, ?)", (DEFAULT_COMMUNITY, _now())
    )
    return int(cursor.lastrowid or 0)


def fold_households(conn: sqlite3.Connection) -> None:
    """Give every household its room: labels that read as the same flat ('六栋二单元301',
    '6-2-301') become one household (the others' residents and vehicles move to it and
    their labels stay as aliases); a label that does not read is flagged for review."""
    households = conn.execute("SELECT id, label FROM households ORDER BY id").fetchall()
    if not households:
        return
    at = _now()
    home = community_id(conn)
    assert home is not None
    flats: dict[FlatAddress, list[tuple[int, str]]] = {}
    for household_id, label in households:
        flat = parse_flat(label)
        if flat is None:
            conn.execute("UPDATE households SET needs_review = 1 WHERE id = ?", (household_id,))
        else:
            flats.setdefault(flat, []).append((int(household_id), label))
    for flat, group in flats.items():
        keeper = next((hid for hid, label in group if label == flat.label), group[0][0])
        for hid, label in group:
            if hid == keeper:
                continue
            conn.execute(
                "UPDATE residents SET household_id = ? WHERE household_id = ?", (keeper, hid)
            )
            conn.execute(
                "UPDATE vehicles SET household_id = ? WHERE household_id = ?", (keeper, hid)
            )
            conn.execute("DELETE FROM households WHERE id = ?", (hid,))
            conn.execute(
                "INSERT INTO household_aliases (label, household_id, created_at) VALUES (?, ?, ?)",
                (label, keeper, at),
            )
        old_label = next(label for hid, label in group if hid == keeper)
        if old_label != flat.label:
            conn.execute(
                "INSERT INTO household_aliases (label, household_id, created_at) VALUES (?, ?, ?)",
                (old_label, keeper, at),
            )
        conn.execute(
            "UPDATE households SET label = ?, room_id = ? WHERE id = ?",
            (flat.label, flat_room(conn, home, flat, at), keeper),
        )


# Python steps that run after a migration's SQL, in its transaction (parsing free text is
# beyond SQL).
MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {12: fold_households}
