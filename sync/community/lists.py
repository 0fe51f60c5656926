"""The lists a hub serves its gate boxes: versioned changes, full snapshots, and applying them.

Why a change log written by triggers (migration 10) rather than by each writer: people and
passes are written by the console, the CLI, the district downlink and every pass use, and
a change that some writer forgot to log would keep a revoked pass opening doors on every
gate box. The log holds only (seq, list, id); a delta carries each changed row as it is
*now* (or "gone"), so applying it is idempotent, and rows are sent in log order, so a row
always arrives after the rows it references.

A gate box asks for the changes after the version it holds. A box that has never synced,
or whose version the hub no longer has (another hub database, a log cut short), gets a
full snapshot instead. Either is validated whole and applied in one transaction together
with the new version: a crash leaves the old lists and the old version, never a mix, and
a change is never applied twice or out of order.

What leaves the hub is only what a gate needs to decide: no names, notes or labels (a
gate box never holds them); face templates travel decrypted inside the authenticated
(TLS) link and are sealed again with the gate box's own PII key.
"""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from edge.db import transaction
from edge.errors import MenweiError
from edge.migrations import COMMUNITY_LISTS
from edge.people.resident_faces import TEMPLATE_PURPOSE
from edge.people.watch_faces import PURPOSE as WATCH_FACE_PURPOSE
from edge.pii import PiiVault
from sync.state import get_state, set_state

MAX_CHANGES = 2000  # per reply; a box far behind pages through
ROLE_STATE = "community.role"
EPOCH_STATE = "community.epoch"
VERSION_STATE = "community.version"
PRUNED_STATE = "community.pruned_through"
KEEP_CHANGES = 200_000  # about a year of a busy community's edits and pass uses

#: columns a gate box never receives, with what it stores instead
MASKED: dict[str, dict[str, Any]] = {
    "households": {"note": "", "room_id": None},  # the address tree stays at the hub
    "residents": {
        "name": "",
        "name_enc": None,
        "phone_enc": None,
        "phone_mask": None,
        "face_consent_by": None,
        "issued_by": None,
    },
    "vehicles": {"note": "", "issued_by": None},
    "qr_passes": {"issued_by": None},
    "watch_faces": {"added_by": "hub"},
}
#: columns empty on nearly every row, left out of a row while empty so that a gate box
#: older than the column still takes the list (docs/community.md, "Versions"); a box that
#: has the column reads a row without it as empty
LEFT_OUT_EMPTY: dict[str, tuple[str, ...]] = {
    "watchlist": ("starts_at",),
    "watch_faces": ("starts_at",),
}
#: encrypted columns: opened with the hub's key, sealed again with the gate box's
SEALED = {"face_templates": TEMPLATE_PURPOSE, "watch_faces": WATCH_FACE_PURPOSE}


class ListsInvalidError(MenweiError, ValueError):
    """A reply the gate box cannot apply; its lists and version stay as they were."""


@dataclass(frozen=True)
class Change:
    seq: int
    list: str
    id: int
    row: dict[str, Any] | None  # None: the row is gone


# -- the hub's side -------------------------------------------------------------------------
def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM community_changes").fetchone()
    return int(row[0])


def list_versions(conn: sqlite3.Connection) -> dict[str, int]:
    """The newest change of each list (0: never changed since the hub began its log)."""
    rows = conn.execute("SELECT list, MAX(seq) FROM community_changes GROUP BY list").fetchall()
    found = dict(rows)
    return {name: int(found.get(name, 0)) for name in COMMUNITY_LISTS}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _outgoing(table: str, names: list[str], values: tuple, vault: PiiVault) -> dict[str, Any]:
    row = dict(zip(names, values, strict=True))
    row.update(MASKED.get(table, {}))
    for name in LEFT_OUT_EMPTY.get(table, ()):
        if row.get(name) is None:
            row.pop(name, None)
    if table == "qr_passes":
        row["label"] = f"pass {row['id']}"  # the hub's label may name the visitor
    if table in SEALED:
        plain = vault.decrypt(row["template"], SEALED[table])
        row["template"] = base64.b64encode(plain).decode("ascii")
    return row


def _visible(
    conn: sqlite3.Connection, table: str, row: dict[str, Any], groups: frozenset[str] | None
) -> bool:
    """Whether a box serving ``groups`` (None: every group) receives this row: residents
    and QR passes of its groups, face templates of those residents; every other list whole
    (vehicles and watch lists concern every gate)."""
    if groups is None:
        return True
    if table in ("residents", "qr_passes"):
        return row["access_group"] in groups
    if table == "face_templates":
        owner = conn.execute(
            "SELECT access_group FROM residents WHERE id = ?", (row["resident_id"],)
        ).fetchone()
        return owner is not None and owner[0] in groups
    return True


def rows_by_id(
    conn: sqlite3.Connection,
    table: str,
    ids: list[int],
    vault: PiiVault,
    groups: frozenset[str] | None = None,
) -> dict[int, dict[str, Any]]:
    """The rows of ``table`` with these ids as a box serving ``groups`` receives them; a
    row it may not hold is absent (so a change to it reaches the box as "gone")."""
    names = _columns(conn, table)
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for values in conn.execute(f"SELECT * FROM {table} WHERE id IN ({marks})", chunk):
            raw = dict(zip(names, values, strict=True))
            if _visible(conn, table, raw, groups):
                found[raw["id"]] = _outgoing(table, names, values, vault)
    return found


def changes_since(
    conn: sqlite3.Connection,
    since: int,
    vault: PiiVault,
    limit: int = MAX_CHANGES,
    groups: frozenset[str] | None = None,
) -> tuple[list[Change], bool]:
    """The changes after ``since`` in order, each with its row as it is now; (changes,
    more). Runs inside the caller's read transaction so rows and log agree.

    A changed resident brings its face templates along (same seq) when the box serves
    groups: a resident moved into the box's groups must arrive with their face, though
    the templates themselves did not change."""
    log = conn.execute(
        "SELECT seq, list, item_id FROM community_changes WHERE seq > ? ORDER BY seq LIMIT ?",
        (since, limit + 1),
    ).fetchall()
    more = len(log) > limit
    log = log[:limit]
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for table in COMMUNITY_LISTS:
        ids = sorted({item for _, name, item in log if name == table})
        rows[table] = rows_by_id(conn, table, ids, vault, groups) if ids else {}
    changes = []
    for seq, name, item in log:
        if name not in COMMUNITY_LISTS:
            continue  # a marker (a box's groups changed), not a list
        changes.append(Change(seq, name, item, rows[name].get(item)))
        if name == "residents" and groups is not None and item in rows[name]:
            faces = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM face_templates WHERE resident_id = ?", (item,)
                )
            ]
            for face_id, row in rows_by_id(conn, "face_templates", faces, vault, groups).items():
                changes.append(Change(seq, "face_templates", face_id, row))
    return changes, more


def snapshot(
    conn: sqlite3.Connection, vault: PiiVault, groups: frozenset[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row of every list a box serving ``groups`` receives."""
    result = {}
    for table in COMMUNITY_LISTS:
        names = _columns(conn, table)
        result[table] = [
            _outgoing(table, names, values, vault)
            for values in conn.execute(f"SELECT * FROM {table} ORDER BY id")
            if _visible(conn, table, dict(zip(names, values, strict=True)), groups)
        ]
    return result


def needs_snapshot(conn: sqlite3.Connection, since: int, epoch: str | None, floor: int = 0) -> bool:
    """A box that never synced, that synced with another hub log, that is ahead of it,
    that is further behind than the log still reaches, or whose groups changed after
    ``since`` (``floor``: the version at that change)."""
    pruned = int(get_state(conn, PRUNED_STATE) or 0)
    return (
        since <= 0
        or epoch != get_state(conn, EPOCH_STATE)
        or since > current_version(conn)
        or since < max(pruned, floor)
    )


def prune(db: sqlite_utils.Database, keep: int = KEEP_CHANGES) -> int:
    """Forget all but the newest ``keep`` changes; a box further behind gets a snapshot.
    Returns how many were removed."""
    with transaction(db) as conn:
        newest = current_version(conn)
        if newest <= keep:
            return 0
        through = newest - keep
        removed = conn.execute("DELETE FROM community_changes WHERE seq <= ?", (through,))
        set_state(conn, PRUNED_STATE, str(through))
        return removed.rowcount


# -- the gate box's side --------------------------------------------------------------------
def _check_row(table: str, row: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(row, dict) or not isinstance(row.get("id"), int):
        raise ListsInvalidError(f"{table}: a row without an integer id")
    unknown = set(row) - allowed
    if unknown:
        raise ListsInvalidError(
            f"{table}: unknown columns {sorted(unknown)[:3]} (is the hub newer than this box?)"
        )
    for name, value in row.items():
        if value is not None and not isinstance(value, str | int | float):
            raise ListsInvalidError(f"{table} row {row['id']}: {name} has a wrong type")
    return row


def _incoming(table: str, row: dict[str, Any], vault: PiiVault) -> dict[str, Any]:
    if table not in SEALED:
        return row
    try:
        plain = base64.b64decode(row["template"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise ListsInvalidError(f"{table} row {row['id']}: template is not base64") from None
    if len(plain) != 512:
        raise ListsInvalidError(f"{table} row {row['id']}: template is not 128 float32")
    return {**row, "template": vault.encrypt(plain, SEALED[table])}


def _upsert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    names = list(row)
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "id")
    conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        f" ON CONFLICT(id) DO UPDATE SET {updates}",
        [row[name] for name in names],
    )


def parse_reply(document: Any) -> tuple[str, int, bool, list[Change], bool]:
    """(epoch, version, is_snapshot, changes, more) from the hub's reply, or
    ListsInvalidError; a snapshot comes back as one change per row with seq = version."""
    if not isinstance(document, dict):
        raise ListsInvalidError("reply is not an object")
    epoch, version = document.get("epoch"), document.get("version")
    if not isinstance(epoch, str) or not isinstance(version, int) or version < 0:
        raise ListsInvalidError("reply lacks epoch or version")
    more = document.get("more") is True
    if isinstance(document.get("snapshot"), dict):
        changes = []
        for table in COMMUNITY_LISTS:
            rows = document["snapshot"].get(table)
            if not isinstance(rows, list):
                raise ListsInvalidError(f"snapshot lacks {table}")
            changes += [Change(version, table, -1, row) for row in rows]
        return epoch, version, True, changes, more
    raw = document.get("changes")
    if not isinstance(raw, list):
        raise ListsInvalidError("reply has neither changes nor a snapshot")
    changes, last = [], 0
    for entry in raw:
        if not isinstance(entry, dict):
            raise ListsInvalidError("a change is not an object")
        seq, name, item = entry.get("seq"), entry.get("list"), entry.get("id")
        if not isinstance(seq, int) or seq < last or seq > version:
            raise ListsInvalidError("changes are not in order")
        if name not in COMMUNITY_LISTS or not isinstance(item, int):
            raise ListsInvalidError(f"change {seq}: unknown list or id")
        changes.append(Change(seq, str(name), item, entry.get("row")))
        last = seq
    return epoch, version, False, changes, more


def apply_reply(
    db: sqlite_utils.Database,
    vault: PiiVault,
    epoch: str,
    version: int,
    is_snapshot: bool,
    changes: list[Change],
) -> int:
    """Validate every row, then apply all of them and the new version in one transaction;
    returns how many rows changed. ListsInvalidError changes nothing."""
    allowed = {table: set(_columns(db.conn, table)) for table in COMMUNITY_LISTS}
    ready: list[tuple[str, int, dict[str, Any] | None]] = []
    for change in changes:
        row = None
        if change.row is not None:
            row = _incoming(
                change.list, _check_row(change.list, change.row, allowed[change.list]), vault
            )
            for name in LEFT_OUT_EMPTY.get(change.list, ()):
                if name in allowed[change.list]:
                    row.setdefault(name, None)
            if not is_snapshot and row["id"] != change.id:
                raise ListsInvalidError(f"change {change.seq}: row id differs from the change")
        ready.append((change.list, change.id, row))
    versions = dict.fromkeys(COMMUNITY_LISTS, version) if is_snapshot else {}
    with transaction(db) as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        if is_snapshot:
            for table in reversed(COMMUNITY_LISTS):
                conn.execute(f"DELETE FROM {table}")
        for (table, item, row), change in zip(ready, changes, strict=True):
            if row is None:
                conn.execute(f"DELETE FROM {table} WHERE id = ?", (item,))
            else:
                _upsert(conn, table, row)
            versions[table] = change.seq
        for table, seq in versions.items():
            set_state(conn, f"{VERSION_STATE}.{table}", str(seq))
        set_state(conn, VERSION_STATE, str(version))
        set_state(conn, EPOCH_STATE, epoch)
    return len(ready)


def held_version(conn: sqlite3.Connection) -> tuple[int, str | None]:
    """The version and epoch of the lists this gate box holds."""
    return int(get_state(conn, VERSION_STATE) or 0), get_state(conn, EPOCH_STATE)
