"""Append-only, keyed hash chain: who viewed, revealed, exported or changed what.

Why a chain on top of the SQLite triggers that forbid UPDATE/DELETE: anyone with the
database file can drop a trigger. Each row carries an HMAC-SHA256 of its own fields *and
the previous row's MAC*, keyed with the audit key — a file outside the database, like the
PII key — so editing, deleting or re-ordering a row breaks every later link, and whoever
has only the database cannot re-hash the tail to hide it.

Two attacks a chain alone cannot see are closed by checkpoints and by SQLite's own counter:
- **truncation** (delete the newest rows): ``sqlite_sequence`` still remembers the highest
  ``seq`` ever written, and a signed checkpoint remembers the seq and MAC of the newest row
  at its time;
- **re-hashing** by someone who also has the key: the checkpoints (seq, MAC, time, signed
  with an Ed25519 key derived from the audit key) are written at least hourly to a table, to
  a second local file outside the data folder and, through the outbox, to the district
  platform, which verifies them with the public key and keeps them off the box.

Rows written before the chain was keyed (plain SHA-256, ``keyed = 0``) stay valid as a
prefix: the first keyed row's MAC covers the last plain row's hash, so the plain prefix
cannot be changed either. A plain row after a keyed one is a downgrade and is reported.

Rows are written inside the caller's transaction when the audited change is a write, so
the change and its audit row commit together; reads are audited in their own transaction.
Details hold ids and reasons, never plaintext personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.db import iso, transaction, utc_now
from edge.errors import UserError
from edge.files import fsync_dir
from edge.pii import PiiKeyError, create_key_file, derive_subkey, load_key_file

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "action", "target", "details", "prev_hash")


class AuditKeyError(UserError):
    """The audit key is missing, unreadable or not configured for this process."""

    code = "audit_key"


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(
        [values[f] for f in _FIELDS], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def _plain_hash(values: dict[str, Any]) -> str:
    """The unkeyed hash of rows written before the chain was keyed."""
    return hashlib.sha256(_canonical(values)).hexdigest()


@dataclass(frozen=True)
class AuditKey:
    """The chain's MAC key and the checkpoint signing key, both derived from one key file."""

    mac_key: bytes = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def from_master(cls, master: bytes) -> AuditKey:
        mac_key = derive_subkey(master, b"menwei audit chain mac v1")
        seed = derive_subkey(master, b"menwei audit checkpoint signature v1")
        return cls(mac_key, Ed25519PrivateKey.from_private_bytes(seed))

    def mac(self, values: dict[str, Any]) -> str:
        return hmac.new(self.mac_key, _canonical(values), hashlib.sha256).hexdigest()

    @property
    def public_key(self) -> str:
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw.hex()

    def sign(self, message: bytes) -> str:
        return self.signing_key.sign(message).hex()


class _KeySource:
    """Where this process finds the audit key: set once at start-up from the config."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.path: Path | None = None
        self._key: AuditKey | None = None

    def use(self, path: Path) -> None:
        with self._lock:
            if path != self.path:
                self.path, self._key = path, None

    def get(self, conn: sqlite3.Connection | None = None) -> AuditKey:
        """The key; created on first use only while the chain has no keyed row yet (a new
        key then loses nothing). Never raises for a configured, readable key."""
        with self._lock:
            if self._key is not None:
                return self._key
            if self.path is None:
                raise AuditKeyError(
                    "no audit key configured for this process ([security] audit_key_file)"
                )
            may_create = conn is not None and not _has_keyed_rows(conn)
            if not self.path.exists() and not may_create:
                raise AuditKeyError(
                    "audit key %(path)s is missing, but the audit log has rows signed with"
                    " it: restore the key file from its backup",
                    {"path": self.path},
                )
            try:
                if not self.path.exists():
                    create_key_file(self.path)
                    log.warning("audit: created a new audit key at %s", self.path)
                self._key = AuditKey.from_master(load_key_file(self.path))
            except PiiKeyError as exc:
                raise AuditKeyError("audit key: %(problem)s", {"problem": exc}) from None
            except OSError as exc:  # e.g. /etc read-only for the service: the installer makes it
                raise AuditKeyError(
                    "cannot create the audit key %(path)s: %(error)s"
                    " (sudo menwei install creates it)",
                    {"path": self.path, "error": exc.strerror},
                ) from None
            return self._key


_KEYS = _KeySource()


def use_key_file(path: Path) -> None:
    """Tell this process where its audit key is (``[security] audit_key_file``)."""
    _KEYS.use(path)


def load_key(conn: sqlite3.Connection | None = None) -> AuditKey:
    """This process's audit key (see :func:`use_key_file`); AuditKeyError if unusable."""
    return _KEYS.get(conn)


def _has_keyed_rows(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM audit_log WHERE keyed = 1 LIMIT 1").fetchone() is not None


def append(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Add one row inside the caller's write transaction; returns its sequence number."""
    if not conn.in_transaction:
        raise RuntimeError("audit rows are written inside a write transaction")
    key = load_key(conn)
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    values = {
        "seq": seq,
        "at": iso(at or utc_now()),
        "actor": actor,
        "action": action,
        "target": target,
        "details": json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        "prev_hash": prev,
    }
    values["hash"] = key.mac(values)
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash, keyed)"
        " VALUES (:seq, :at, :actor, :action, :target, :details, :prev_hash, :hash, 1)",
        values,
    )
    return seq


def record(db: sqlite_utils.Database, actor: str, action: str, target: str = "", **details) -> int:
    """Audit a read (view, search, export) in its own transaction."""
    with transaction(db) as conn:
        return append(conn, actor, action, target, details)


# -- checkpoints --------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """The newest row's seq and MAC at a moment, signed (Ed25519) by the box's audit key."""

    seq: int
    hash: str
    at: str
    public_key: str
    signature: str = ""

    def message(self) -> bytes:
        body = {"seq": self.seq, "hash": self.hash, "at": self.at, "public_key": self.public_key}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signed_by(self, public_key_hex: str) -> bool:
        if self.public_key != public_key_hex:
            return False
        try:
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
            public.verify(bytes.fromhex(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Checkpoint | None:
        """A checkpoint from one stored line; None for anything that is not one."""
        try:
            data = json.loads(text)
            made = cls(
                int(data["seq"]),
                str(data["hash"]),
                str(data["at"]),
                str(data["public_key"]),
                str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return made


def make_checkpoint(
    db: sqlite_utils.Database,
    sink: Path,
    at: datetime | None = None,
    also: Callable[[sqlite3.Connection, Checkpoint], None] | None = None,
) -> Checkpoint:
    """Sign the chain's newest row now; keep it in the table and in ``sink`` (a file outside
    the data folder, appended and fsynced). ``also`` runs in the same transaction (the
    caller queues it for the district there)."""
    moment = at or utc_now()
    with transaction(db) as conn:
        key = load_key(conn)
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, newest = (int(last[0]), last[1]) if last else (0, GENESIS)
        unsigned = Checkpoint(seq, newest, iso(moment), key.public_key)
        checkpoint = Checkpoint(
            seq, newest, unsigned.at, key.public_key, key.sign(unsigned.message())
        )
        conn.execute(
            "INSERT INTO audit_checkpoints (seq, hash, at, public_key, signature)"
            " VALUES (?, ?, ?, ?, ?)",
            (checkpoint.seq, checkpoint.hash, checkpoint.at, key.public_key, checkpoint.signature),
        )
        if also is not None:
            also(conn, checkpoint)
        _append_line(sink, checkpoint.to_json())
    log.info("audit checkpoint: seq %d hash %s", checkpoint.seq, checkpoint.hash[:16])
    return checkpoint


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def stored_checkpoints(db: sqlite_utils.Database, sink: Path | None) -> list[Checkpoint]:
    """Every checkpoint held on the box (table and file), oldest first, duplicates once."""
    found: dict[tuple[int, str, str], Checkpoint] = {}
    for row in db.execute(
        "SELECT seq, hash, at, public_key, signature FROM audit_checkpoints ORDER BY id"
    ).fetchall():
        cp = Checkpoint(int(row[0]), row[1], row[2], row[3], row[4])
        found[(cp.seq, cp.hash, cp.at)] = cp
    if sink is not None and sink.exists():
        for line in sink.read_text(encoding="utf-8", errors="replace").splitlines():
            kept = Checkpoint.from_json(line)
            if kept is not None:
                found.setdefault((kept.seq, kept.hash, kept.at), kept)
    return sorted(found.values(), key=lambda c: (c.at, c.seq))


# -- verification -------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""
    checkpoint: Checkpoint | None = None


def verify(
    db: sqlite_utils.Database,
    sink: Path | None = None,
    extra: list[Checkpoint] | None = None,
) -> VerifyResult:
    """Check the whole chain, then that nothing after it is missing and that it is the
    chain the newest checkpoint signed. ``extra``: checkpoints from elsewhere (the
    district's copy). The first problem found is reported."""
    try:
        key = load_key(db.conn)
    except AuditKeyError as exc:
        return VerifyResult(False, 0, None, f"cannot verify: {exc}")
    rows, by_seq, broken = _walk_chain(db, key)
    if broken is not None:
        return broken
    highest = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    last_seq = max(by_seq) if by_seq else 0
    if highest is not None and int(highest[0]) > last_seq:
        return VerifyResult(
            False,
            rows,
            last_seq + 1,
            f"truncated: rows {last_seq + 1}-{highest[0]} were written and are gone"
            " (sqlite_sequence)",
        )
    checkpoints = [*stored_checkpoints(db, sink), *(extra or [])]
    valid = [cp for cp in checkpoints if cp.signed_by(key.public_key)]
    forged = len(checkpoints) - len(valid)
    latest = max(valid, key=lambda c: (c.seq, c.at), default=None)
    if forged:
        return VerifyResult(
            False, rows, None, f"{forged} checkpoint(s) are not signed by this box", latest
        )
    if latest is not None:
        if latest.seq > last_seq:
            return VerifyResult(
                False,
                rows,
                last_seq + 1,
                f"truncated: the checkpoint of {latest.at} saw row {latest.seq}, the log"
                f" ends at {last_seq}",
                latest,
            )
        if latest.seq and by_seq[latest.seq] != latest.hash:
            return VerifyResult(
                False,
                rows,
                latest.seq,
                f"re-hashed: row {latest.seq} differs from the checkpoint of {latest.at};"
                " the rows up to it were rewritten",
                latest,
            )
    return VerifyResult(True, rows, checkpoint=latest)


def _walk_chain(
    db: sqlite_utils.Database, key: AuditKey
) -> tuple[int, dict[int, str], VerifyResult | None]:
    """Recompute every link; (rows, seq -> hash, the first break or None)."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    keyed_seen = False
    by_seq: dict[int, str] = {}
    cursor = db.execute(
        "SELECT seq, at, actor, action, target, details, prev_hash, hash, keyed FROM audit_log "
        "ORDER BY seq"
    )
    for row in cursor:
        values = dict(zip((*_FIELDS, "hash", "keyed"), row, strict=True))
        count += 1
        seq = values["seq"]
        if seq != expected_seq:
            return count, by_seq, VerifyResult(False, count, seq, f"row {expected_seq} is missing")
        if values["prev_hash"] != prev:
            return count, by_seq, VerifyResult(False, count, seq, "does not link to the row before")
        if values["keyed"]:
            keyed_seen = True
            good = hmac.compare_digest(key.mac(values), values["hash"])
        elif keyed_seen:
            return (
                count,
                by_seq,
                VerifyResult(False, count, seq, "re-hashed: an unkeyed row after keyed rows"),
            )
        else:
            good = _plain_hash(values) == values["hash"]
        if not good:
            return count, by_seq, VerifyResult(False, count, seq, "its content was changed")
        by_seq[seq] = values["hash"]
        prev = values["hash"]
        expected_seq += 1
    return count, by_seq, None


def recent(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT seq, at, actor, action, target, details FROM audit_log ORDER BY seq DESC LIMIT ?",
        [limit],
    ).fetchall()
    names = ("seq", "at", "actor", "action", "target", "details")
    return [dict(zip(names, r, strict=True)) for r in rows]


# -- reading the log for the audit page ------------------------------------------------------
AUDIT_PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page filters on; "" or None means any. Times are UTC, [start, end)."""

    actor: str = ""
    action: str = ""
    object_kind: str = ""  # the part of the target before ':' ("user", "registration", ...)
    object_id: str = ""  # with object_kind: the exact target "kind:id"
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]
    next_before: int | None  # the seq to pass as ``before`` for the next (older) page


def search(
    conn: sqlite3.Connection,
    filters: AuditFilters,
    before: int | None = None,
    limit: int = AUDIT_PAGE,
) -> AuditPage:
    """Entries matching ``filters``, newest first, older than seq ``before``: a keyset page
    (one index seek whatever the page, never OFFSET)."""
    where: list[str] = []
    args: list[Any] = []
    if filters.actor:
        where.append("actor = ?")
        args.append(filters.actor)
    if filters.action:
        where.append("action = ?")
        args.append(filters.action)
    if filters.object_kind and filters.object_id:
        where.append("target = ?")
        args.append(f"{filters.object_kind}:{filters.object_id}")
    elif filters.object_kind:
        where.append("(target = ? OR (target >= ? AND target < ?))")
        args += [filters.object_kind, f"{filters.object_kind}:", f"{filters.object_kind};"]
    if filters.start is not None:
        where.append("at >= ?")
        args.append(iso(filters.start))
    if filters.end is not None:
        where.append("at < ?")
        args.append(iso(filters.end))
    if before is not None:
        where.append("seq < ?")
        args.append(before)
    sql = "SELECT seq, at, actor, action, target, details FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit + 1]).fetchall()
    names = ("seq", "at", "actor", "action", "target", "details")
    found = [dict(zip(names, r, strict=True)) for r in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(found, found[-1]["seq"] if more and found else None)


def distinct_values(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The actors, actions and object kinds the log holds (for the page's filter lists)."""
    actors = [r[0] for r in conn.execute("SELECT DISTINCT actor FROM audit_log ORDER BY actor")]
    actions = [r[0] for r in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]
    kinds = sorted(
        {
            str(r[0]).split(":", 1)[0]
            for r in conn.execute("SELECT DISTINCT target FROM audit_log WHERE target != ''")
        }
    )
    return {"actors": actors, "actions": actions, "object_kinds": kinds}
