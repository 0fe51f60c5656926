"""The gate boxes a hub knows: invitation by one-time code, a key per box, revocation.

Why an HMAC key per box rather than mutual TLS: the district link already signs every
request this way (sync.auth, the same canonical string and clock bound), so the hub
verifies gate boxes with code that is tested against SIGKILLs and replays; a per-box key
is revoked by one row, with no CA, certificate lists or expiry dates to run on a box in a
guard house; and the hub's own TLS certificate (pinned with ``ca_file`` on the gate box)
still encrypts the link. The key is made by the hub at enrolment, given once in the reply
to the one-time code, stored on the hub sealed with its PII key and on the gate box in a
0600 file.

A one-time code is 20 base32 characters (100 bits), stored only as its SHA-256, lives
``enrol_code_ttl_s`` and is spent by the first enrolment that uses it; a wrong code changes
nothing. A revoked box gets 401 for everything: lists, pass uses and uploads. A revoked box
can then be forgotten (``forget``): its row and its gates leave every list; its events stay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from edge import audit
from edge.db import iso, parse_iso, transaction
from edge.errors import UserError
from edge.people.residents import check_group
from edge.pii import PiiVault

KEY_PURPOSE = "community.box_key"
BOX_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class BoxError(UserError):
    """A gate box that cannot be invited, enrolled or revoked as asked."""

    code = "community_box"


def check_box_id(box_id: str) -> str:
    if not 1 <= len(box_id) <= 64 or not set(box_id) <= BOX_ID_CHARS:
        raise BoxError("a box id is 1-64 letters, digits, '-' or '_'")
    return box_id


def _code_hash(code: str) -> str:
    normal = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(normal.encode()).hexdigest()


def check_groups(groups: list[str] | None) -> list[str] | None:
    if groups is None or not groups:
        return None
    return sorted({check_group(group) for group in groups})


def set_groups(db: sqlite_utils.Database, box_id: str, groups: list[str] | None) -> None:
    """Serve only these access groups' residents and QR passes to the box (None: all).
    A marker in the change log makes the box fetch a snapshot, so rows of groups it no
    longer serves go and rows of new ones come."""
    chosen = check_groups(groups)
    with transaction(db) as conn:
        marker = conn.execute(
            "INSERT INTO community_changes (list, item_id) VALUES ('groups', 0)"
        ).lastrowid
        cursor = conn.execute(
            "UPDATE community_boxes SET groups = ?, groups_from = ? WHERE box_id = ?",
            (None if chosen is None else json.dumps(chosen), marker, box_id),
        )
        if cursor.rowcount != 1:
            raise BoxError("no box %(box)s", {"box": box_id})


def box_scope(conn: sqlite3.Connection, box_id: str) -> tuple[frozenset[str] | None, int]:
    """The access groups a box is served (None: all) and the change that set them."""
    row = conn.execute(
        "SELECT groups, groups_from FROM community_boxes WHERE box_id = ?", (box_id,)
    ).fetchone()
    if row is None or row[0] is None:
        return None, int(row[1]) if row else 0
    return frozenset(json.loads(row[0])), int(row[1])


def invite(
    db: sqlite_utils.Database,
    box_id: str,
    now: datetime,
    ttl_s: int,
    groups: list[str] | None = None,
) -> str:
    """A new one-time code for ``box_id`` (a new box, or re-enrolling a revoked one),
    serving ``groups`` (None: every access group)."""
    check_box_id(box_id)
    chosen = check_groups(groups)
    raw = base64.b32encode(secrets.token_bytes(13)).decode()[:20]
    code = "-".join(raw[i : i + 5] for i in range(0, 20, 5))
    with transaction(db) as conn:
        row = conn.execute(
            "SELECT state FROM community_boxes WHERE box_id = ?", (box_id,)
        ).fetchone()
        if row is not None and row[0] == "enrolled":
            raise BoxError(
                "box %(box)s is enrolled; revoke it first to enrol it again", {"box": box_id}
            )
        conn.execute(
            "INSERT INTO community_boxes (box_id, state, code_hash, code_expires_at,"
            " created_at, groups) VALUES (?, 'invited', ?, ?, ?, ?) ON CONFLICT(box_id)"
            " DO UPDATE SET state = 'invited', code_hash = excluded.code_hash,"
            " key_sealed = NULL, code_expires_at = excluded.code_expires_at,"
            " groups = excluded.groups",
            (
                box_id,
                _code_hash(code),
                iso(now + timedelta(seconds=ttl_s)),
                iso(now),
                None if chosen is None else json.dumps(chosen),
            ),
        )
    return code


def enrol(
    db: sqlite_utils.Database, vault: PiiVault, box_id: str, code: str, now: datetime
) -> bytes:
    """Spend the code and return the box's new key; BoxError (nothing changed) otherwise."""
    with transaction(db) as conn:
        row = conn.execute(
            "SELECT state, code_hash, code_expires_at FROM community_boxes WHERE box_id = ?",
            (box_id,),
        ).fetchone()
        expires = parse_iso(row[2]) if row else None
        if (
            row is None
            or row[0] != "invited"
            or row[1] is None
            or not hmac.compare_digest(row[1], _code_hash(code))
            or expires is None
            or expires <= now
        ):
            raise BoxError("unknown box, wrong or expired code")
        key = secrets.token_hex(32).encode()
        conn.execute(
            "UPDATE community_boxes SET state = 'enrolled', code_hash = NULL, key_sealed = ?,"
            " enrolled_at = ?, revoked_at = NULL, version = 0 WHERE box_id = ?",
            (vault.encrypt(key, f"{KEY_PURPOSE}:{box_id}"), iso(now), box_id),
        )
    return key


def revoke(db: sqlite_utils.Database, box_id: str, now: datetime) -> None:
    """From now on the box's key opens nothing; its gates' history stays."""
    with transaction(db) as conn:
        cursor = conn.execute(
            "UPDATE community_boxes SET state = 'revoked', key_sealed = NULL, code_hash = NULL,"
            " revoked_at = ? WHERE box_id = ? AND state != 'revoked'",
            (iso(now), box_id),
        )
        if cursor.rowcount != 1:
            raise BoxError("no box %(box)s to revoke (unknown or already revoked)", {"box": box_id})


def forget(db: sqlite_utils.Database, box_id: str, actor: str, now: datetime) -> dict[str, Any]:
    """Forget a removed (revoked) box: its row, its gates (a gate id is free again for a
    box that sends an event for it), its delivered or undeliverable commands, and its open
    questions for the guard (closed as ``box_forgotten``) go, in one transaction with an
    audit row naming ``actor``; its gates' events stay (history). A box that is invited or
    enrolled is refused (revoke it first), as is an unknown one. Returns the audit details."""
    with transaction(db) as conn:
        row = conn.execute(
            "SELECT state, revoked_at FROM community_boxes WHERE box_id = ?", (box_id,)
        ).fetchone()
        if row is None:
            raise BoxError("no box %(box)s", {"box": box_id})
        if row[0] != "revoked":
            raise BoxError(
                "box %(box)s is not removed; revoke it first (menwei hub revoke)", {"box": box_id}
            )
        gates = [
            r[0]
            for r in conn.execute(
                "SELECT gate_id FROM community_gates WHERE box_id = ? ORDER BY gate_id", (box_id,)
            )
        ]
        marks = ", ".join("?" for _ in gates)
        questions = (
            conn.execute(
                "UPDATE plate_prompts SET state = 'closed', resolved_at = ?, resolved_by = ?,"
                f" resolution = 'box_forgotten' WHERE state = 'open' AND gate_id IN ({marks})",
                (iso(now), actor, *gates),
            ).rowcount
            if gates
            else 0
        )
        commands = conn.execute(
            "DELETE FROM community_commands WHERE box_id = ?", (box_id,)
        ).rowcount
        conn.execute("DELETE FROM community_gates WHERE box_id = ?", (box_id,))
        conn.execute("DELETE FROM community_boxes WHERE box_id = ?", (box_id,))
        details = {
            "revoked_at": row[1],
            "gates": gates,
            "commands": commands,
            "questions_closed": questions,
        }
        audit.append(conn, actor, "community_box_forget", f"box:{box_id}", details, now)
    return details


def box_key(conn: sqlite3.Connection, vault: PiiVault, box_id: str) -> bytes | None:
    """The enrolled box's key, or None (unknown, invited only, revoked)."""
    row = conn.execute(
        "SELECT key_sealed FROM community_boxes WHERE box_id = ? AND state = 'enrolled'",
        (box_id,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return vault.decrypt(row[0], f"{KEY_PURPOSE}:{box_id}")


def note_contact(
    db: sqlite_utils.Database,
    box_id: str,
    now: datetime,
    address: str,
    version: int | None = None,
    backlog: int | None = None,
    skew_s: float | None = None,
) -> None:
    """Remember when the box was last heard from and what it reported."""
    with transaction(db) as conn:
        conn.execute(
            "UPDATE community_boxes SET last_seen_at = ?, address = ?,"
            " version = COALESCE(?, version), backlog = COALESCE(?, backlog),"
            " clock_skew_s = COALESCE(?, clock_skew_s) WHERE box_id = ?",
            (iso(now), address, version, backlog, skew_s, box_id),
        )


ONLINE_WITHIN_S = 45  # a connected box polls at least every wait_s (20 s) + a reply


def list_boxes(conn: sqlite3.Connection, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every box with its state, last contact (``online`` when within ONLINE_WITHIN_S of
    ``now``), version, backlog and clock skew."""
    names = (
        "box_id",
        "state",
        "enrolled_at",
        "revoked_at",
        "last_seen_at",
        "address",
        "version",
        "backlog",
        "clock_skew_s",
        "groups",
    )
    rows = conn.execute(
        f"SELECT {', '.join(names)} FROM community_boxes ORDER BY box_id"
    ).fetchall()
    boxes = [dict(zip(names, row, strict=True)) for row in rows]
    for box in boxes:
        box["groups"] = json.loads(box["groups"]) if box["groups"] else None
        seen = parse_iso(box["last_seen_at"])
        box["online"] = bool(
            now is not None
            and seen is not None
            and box["state"] == "enrolled"
            and (now - seen).total_seconds() <= ONLINE_WITHIN_S
        )
    gates = conn.execute("SELECT box_id, gate_id FROM community_gates ORDER BY gate_id")
    for box_id, gate_id in gates.fetchall():
        for box in boxes:
            if box["box_id"] == box_id:
                box.setdefault("gates", []).append(gate_id)
    return boxes


SKEW_WARN_S = 30.0  # schedules and pass windows start to feel it
SKEW_BAD_S = 300.0  # signed requests are refused beyond this (sync.auth)


def box_report(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """What `menwei hub status` and the console's health page show, from one reading:
    the hub's list version and every box with its state, how far behind its lists are,
    how old its last contact is, and a level (ok / warn / bad) for each part. A removed
    (revoked) box stays listed, as removed and since when, with nothing to warn about:
    its lists, backlog and clock are no longer the hub's concern (``removed``), until an
    admin forgets it (``forget``)."""
    version = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM community_changes").fetchone()[0])
    boxes = list_boxes(conn, now)
    for box in boxes:
        seen = parse_iso(box["last_seen_at"])
        box["age_s"] = None if seen is None else max(0.0, (now - seen).total_seconds())
        box["behind"] = max(0, version - int(box["version"] or 0))
        box["revoked"] = box["removed"] = box["state"] == "revoked"
        enrolled = box["state"] == "enrolled"
        skew = box["clock_skew_s"]
        if box["removed"]:
            box["levels"] = {"state": "ok", "lists": "ok", "backlog": "ok", "skew": "ok"}
            box["level"] = "ok"
            box.setdefault("gates", [])
            continue
        box["levels"] = {
            "state": "ok" if box["online"] else ("bad" if enrolled else "warn"),
            "lists": "warn" if enrolled and box["behind"] and not box["online"] else "ok",
            "backlog": "warn" if enrolled and box["backlog"] and not box["online"] else "ok",
            "skew": "ok"
            if skew is None or abs(skew) < SKEW_WARN_S
            else ("bad" if abs(skew) >= SKEW_BAD_S else "warn"),
        }
        box["level"] = max(box["levels"].values(), key=("ok", "warn", "bad").index)
        box.setdefault("gates", [])
    return {"version": version, "boxes": boxes}
