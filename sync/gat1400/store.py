"""What the platform asked of the box (subscriptions, dispositions), and the fan-out.

Subscriptions: a SubscribeObject is validated whole, then stored (or replaced) in one
transaction; a cancel or its EndTime passing ends it. :func:`fan_out` turns every new gate
event a live subscription covers into one ``viid_notify`` outbox row — in the same
transaction that moves its cursor (``sync_state``), so a crash neither loses nor doubles a
notification; the rows then travel exactly like events (acknowledged or kept, resent with
the same NotificationID, dead-lettered with a reason).

Dispositions (布控): a vehicle disposition becomes a ``source='district'`` watchlist row
(``edge.people.vehicles.insert_watch``: the plate grammar, reason and expiry rules of every other
watch), a face disposition a district watch face (``edge.people.watch_faces.add_watch_face``,
the template made from the disposition's photo by the box's own recogniser). Cancelling
removes exactly the row it made. ``viid_disposition_links`` keeps which watch row each
disposition made and when it was in force: a hit that happened under 布控 goes back as a
DispositionNotification even when the alert leaves the box after the 撤控 (the platform
asked to hear of every hit while its disposition stood), and a hit after it never does.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlite_utils

from edge.db import iso, transaction
from edge.errors import MenweiError
from edge.people.vehicles import EnrolmentError, insert_watch
from sync.gat1400 import codes
from sync.gat1400.objects import FACE_KINDS, VEHICLE_KINDS, Ape
from sync.state import get_state, set_state
from sync.transport import check_url

log = logging.getLogger(__name__)

NOTIFY_TOPIC = "viid_notify"
FANOUT_CURSOR = "gat1400.fanout.seq"
FANOUT_BATCH = 500
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
MAX_TITLE = 200
MAX_PHOTO_BYTES = 2 * 1024 * 1024

#: (template bytes-or-vector, model sha256) from JPEG bytes, or raises ValueError
FaceTemplater = Callable[[bytes], tuple[Any, str]]


class ViidRequestError(MenweiError, ValueError):
    """A request from the platform the box refuses; ``code`` is the StatusCode to answer."""

    def __init__(self, message: str, code: int = 8) -> None:
        super().__init__(message)
        self.code = code


def _text(doc: dict, name: str, limit: int, required: bool = True) -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise ViidRequestError(f"{name} must be text of 1-{limit} characters")
    return value.strip()


def parse_viid_time(value: Any, zone: ZoneInfo, name: str) -> datetime:
    """``yyyyMMddHHmmss`` in the site's zone → aware datetime; ViidRequestError otherwise."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{14}", value):
        raise ViidRequestError(f"{name} must be yyyyMMddHHmmss")
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=zone)
    except ValueError:
        raise ViidRequestError(f"{name} is not a real time") from None


def check_receive_addr(value: str, allowed_hosts: set[str]) -> str:
    """A ReceiveAddr the box will post to: https (http only to loopback), and a host the
    operator allowed — the platform's own or one in ``receive_hosts``. Anything else would
    let whoever can subscribe make the box send its pictures anywhere."""
    try:
        check_url(value)
    except ValueError as exc:
        raise ViidRequestError(f"ReceiveAddr refused: {exc}", 4) from None
    host = (urlsplit(value).hostname or "").lower()
    if host not in allowed_hosts:
        raise ViidRequestError(f"ReceiveAddr host {host} is not allowed on this box", 4)
    return value


# -- subscriptions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Subscription:
    id: str
    title: str
    categories: frozenset[str]
    resources: tuple[str, ...]
    receive_addr: str
    begin_at: datetime
    end_at: datetime
    cancel: bool


def parse_subscription(doc: Any, zone: ZoneInfo, allowed_hosts: set[str]) -> Subscription:
    if not isinstance(doc, dict):
        raise ViidRequestError("SubscribeObject must be an object")
    sub_id = _text(doc, "SubscribeID", 64)
    if not _ID.match(sub_id):
        raise ViidRequestError("SubscribeID must be 1-64 letters or digits")
    operate = str(doc.get("OperateType", "0"))
    if operate not in ("0", "1"):
        raise ViidRequestError("OperateType must be 0 (subscribe) or 1 (cancel)")
    if operate == "1":
        now = datetime.now(zone)
        return Subscription(sub_id, "", frozenset(), (), "", now, now, True)
    categories = frozenset(c.strip() for c in _text(doc, "SubscribeDetail", 100).split(","))
    if not categories <= codes.SUBSCRIBE_KNOWN:
        raise ViidRequestError("SubscribeDetail holds an unknown category")
    if not categories & codes.SUBSCRIBE_SERVED:
        raise ViidRequestError(
            "this device serves SubscribeDetail 12 (faces) and 13 (vehicles) only", 4
        )
    resources = tuple(
        r.strip() for r in _text(doc, "ResourceURI", 2000, required=False).split(",") if r.strip()
    )
    if any(not (r.isascii() and r.isdigit()) or len(r) > 20 for r in resources):
        raise ViidRequestError("ResourceURI must list device, tollgate or area codes")
    begin = parse_viid_time(doc.get("BeginTime"), zone, "BeginTime")
    end = parse_viid_time(doc.get("EndTime"), zone, "EndTime")
    if end <= begin:
        raise ViidRequestError("EndTime must be after BeginTime")
    addr = check_receive_addr(_text(doc, "ReceiveAddr", 500), allowed_hosts)
    title = _text(doc, "Title", MAX_TITLE, required=False)
    return Subscription(sub_id, title, categories, resources, addr, begin, end, False)


def save_subscription(
    conn: sqlite3.Connection, sub: Subscription, doc: dict, now: datetime, limit: int
) -> None:
    """Create, replace or cancel one subscription, in the caller's transaction."""
    if sub.cancel:
        cursor = conn.execute(
            "UPDATE viid_subscriptions SET status = 1, updated_at = ?, cancel_reason = ?"
            " WHERE id = ?",
            (iso(now), str(doc.get("CancelReason") or "")[:200], sub.id),
        )
        if not cursor.rowcount:
            raise ViidRequestError(f"no subscription {sub.id}", 4)
        return
    live = conn.execute(
        "SELECT COUNT(*) FROM viid_subscriptions WHERE status = 0 AND id != ?", (sub.id,)
    ).fetchone()[0]
    if live >= limit:
        raise ViidRequestError(f"this device holds at most {limit} subscriptions", 4)
    conn.execute(
        "INSERT INTO viid_subscriptions (id, title, categories, resource_uri, receive_addr,"
        " begin_at, end_at, status, document, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " title = excluded.title, categories = excluded.categories,"
        " resource_uri = excluded.resource_uri, receive_addr = excluded.receive_addr,"
        " begin_at = excluded.begin_at, end_at = excluded.end_at, status = 0,"
        " document = excluded.document, updated_at = excluded.updated_at, cancel_reason = NULL",
        (
            sub.id,
            sub.title,
            ",".join(sorted(sub.categories)),
            ",".join(sub.resources),
            sub.receive_addr,
            iso(sub.begin_at),
            iso(sub.end_at),
            json.dumps(doc, ensure_ascii=False)[:20000],
            iso(now),
            iso(now),
        ),
    )


def cancel_subscription(db: sqlite_utils.Database, sub_id: str, now: datetime) -> bool:
    with transaction(db) as conn:
        cursor = conn.execute(
            "UPDATE viid_subscriptions SET status = 1, updated_at = ? WHERE id = ? AND status = 0",
            (iso(now), sub_id),
        )
        return bool(cursor.rowcount)


def expire_subscriptions(db: sqlite_utils.Database, now: datetime) -> int:
    with transaction(db) as conn:
        return conn.execute(
            "UPDATE viid_subscriptions SET status = 2, updated_at = ? WHERE status = 0"
            " AND end_at <= ?",
            (iso(now), iso(now)),
        ).rowcount


def list_subscriptions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, title, categories, resource_uri, receive_addr, begin_at, end_at, status"
        " FROM viid_subscriptions ORDER BY created_at, id"
    ).fetchall()
    names = ("id", "title", "categories", "resource_uri", "receive_addr", "begin_at", "end_at")
    return [dict(zip((*names, "status"), row, strict=True)) for row in rows]


def subscription_target(conn: sqlite3.Connection, sub_id: str) -> tuple[str, str, int] | None:
    """(receive_addr, title, status) of a subscription, for the uplink."""
    row = conn.execute(
        "SELECT receive_addr, title, status FROM viid_subscriptions WHERE id = ?", (sub_id,)
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def _covers(resources: list[str], device_id: str, ape: Ape | None) -> bool:
    if not resources:
        return True
    ids = {device_id} | ({ape.ape_id, ape.tollgate_id or ""} if ape else set())
    return any(
        r in ids or (len(r) < 20 and any(i.startswith(r) for i in ids if i)) for r in resources
    )


def fan_out(db: sqlite_utils.Database, device_id: str, apes: dict[str, Ape], now: datetime) -> int:
    """One step: new gate events → one ``viid_notify`` row per live subscription covering
    them; the cursor moves in the same transaction. Returns the events looked at (a full
    batch means: call again)."""
    written = 0
    with transaction(db) as conn:
        cursor = int(get_state(conn, FANOUT_CURSOR) or 0)
        subs = conn.execute(
            "SELECT id, categories, resource_uri, begin_at, end_at FROM viid_subscriptions"
            " WHERE status = 0 AND end_at > ?",
            (iso(now),),
        ).fetchall()
        if not subs:
            top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
            if top != cursor:
                set_state(conn, FANOUT_CURSOR, str(top))
            return 0
        rows = conn.execute(
            "SELECT seq, key, payload FROM outbox WHERE seq > ? AND topic = 'event'"
            " ORDER BY seq LIMIT ?",
            (cursor, FANOUT_BATCH),
        ).fetchall()
        last = cursor
        for seq, key, payload in rows:
            last = seq
            event = json.loads(payload)
            kind = event.get("kind")
            category = (
                codes.SUBSCRIBE_VEHICLE
                if kind in VEHICLE_KINDS
                else codes.SUBSCRIBE_FACE
                if kind in FACE_KINDS
                else None
            )
            if category is None:
                continue
            occurred = event.get("occurred_at") or ""
            ape = apes.get(str(event.get("gate_id")))
            for sub_id, categories, resources, begin_at, end_at in subs:
                if category not in categories.split(","):
                    continue
                if not begin_at <= occurred < end_at:  # UTC ISO strings compare in order
                    continue
                if not _covers([r for r in resources.split(",") if r], device_id, ape):
                    continue
                written += conn.execute(
                    "INSERT OR IGNORE INTO outbox (key, topic, payload, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        f"{key}.{sub_id}",
                        NOTIFY_TOPIC,
                        json.dumps({"subscription": sub_id, "event": event}, ensure_ascii=False),
                        iso(now),
                    ),
                ).rowcount
        if last != cursor:
            set_state(conn, FANOUT_CURSOR, str(last))
    if written:
        log.info("subscriptions: %d notification(s) queued", written)
    return len(rows)


def fan_out_lag(conn: sqlite3.Connection) -> int:
    """Gate events not yet looked at by the fan-out (for health)."""
    cursor = int(get_state(conn, FANOUT_CURSOR) or 0)
    return conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE seq > ? AND topic = 'event'", (cursor,)
    ).fetchone()[0]


# -- dispositions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Disposition:
    id: str
    category: str
    title: str
    plate: str | None
    photo: bytes | None
    receive_addr: str
    begin_at: datetime | None
    end_at: datetime | None
    cancel: bool


def _photo(doc: dict) -> bytes | None:
    images = (doc.get("SubImageList") or {}).get("SubImageInfoObject")
    if isinstance(images, dict):
        images = [images]
    if not isinstance(images, list):
        return None
    for image in images:
        data = image.get("Data") if isinstance(image, dict) else None
        if isinstance(data, str) and data:
            if len(data) > MAX_PHOTO_BYTES * 4 // 3 + 4:
                raise ViidRequestError("the disposition's photo is larger than 2 MiB")
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ViidRequestError("SubImageInfoObject.Data is not base64") from None
    return None


def parse_disposition(doc: Any, zone: ZoneInfo, allowed_hosts: set[str]) -> Disposition:
    if not isinstance(doc, dict):
        raise ViidRequestError("DispositionObject must be an object")
    disp_id = _text(doc, "DispositionID", 64)
    if not _ID.match(disp_id):
        raise ViidRequestError("DispositionID must be 1-64 letters or digits")
    operate = str(doc.get("OperateType", "0"))
    if operate not in ("0", "1"):
        raise ViidRequestError("OperateType must be 0 (布控) or 1 (撤控)")
    if operate == "1":
        return Disposition(disp_id, "", "", None, None, "", None, None, True)
    category = str(doc.get("DispositionCategory", ""))
    title = _text(doc, "Title", MAX_TITLE, required=False) or disp_id
    addr = _text(doc, "ReceiveAddr", 500, required=False)
    if addr:
        check_receive_addr(addr, allowed_hosts)
    begin = doc.get("BeginTime")
    end = doc.get("EndTime")
    begin_at = parse_viid_time(begin, zone, "BeginTime") if begin else None
    end_at = parse_viid_time(end, zone, "EndTime") if end else None
    if begin_at and end_at and end_at <= begin_at:
        raise ViidRequestError("EndTime must be after BeginTime")
    plate, photo = None, None
    if category == codes.DISPOSITION_VEHICLE:
        feature = doc.get("TargetFeature") or (doc.get("MotorVehicleObject") or {}).get("PlateNo")
        plate = _text({"PlateNo": feature}, "PlateNo", 20)
    elif category == codes.DISPOSITION_FACE:
        photo = _photo(doc)
        if photo is None:
            raise ViidRequestError("a face disposition needs a photo in SubImageList")
    else:
        raise ViidRequestError(
            "this device takes DispositionCategory 2 (face) and 3 (vehicle) only", 4
        )
    return Disposition(disp_id, category, title, plate, photo, addr, begin_at, end_at, False)


def apply_disposition(
    db: sqlite_utils.Database,
    disp: Disposition,
    now: datetime,
    add_face: Callable[[sqlite3.Connection, bytes, str, datetime | None], int] | None,
) -> None:
    """布控 → a district watch row (replacing the one an earlier version of it made), made
    at once and carrying the BeginTime and EndTime, so the gates alert only inside them;
    撤控 → that row removed. One transaction. ``add_face(conn, photo, label, expires)``
    stores a face watch entry (None: this box cannot make face templates)."""
    if disp.cancel:
        cancel_disposition(db, disp.id, now)
        return
    if disp.end_at is not None and disp.end_at <= now:
        raise ViidRequestError("EndTime is already past", 4)
    if disp.category == codes.DISPOSITION_FACE and add_face is None:
        raise ViidRequestError("face dispositions need the box's PII key and face model", 4)
    reason = f"布控 {disp.id}: {disp.title}"[:200]
    with transaction(db) as conn:
        _remove_rows(conn, disp.id, now)
        watch_id = face_id = None
        try:
            if disp.plate is not None:
                watch_id = insert_watch(conn, disp.plate, reason, "district", disp.end_at, now)
            else:
                assert add_face is not None and disp.photo is not None
                face_id = add_face(conn, disp.photo, disp.title[:60] or disp.id, disp.end_at)
        except EnrolmentError as exc:
            raise ViidRequestError(str(exc)) from None
        except ValueError as exc:  # the photo: no face, several faces, unreadable
            raise ViidRequestError(f"photo refused: {exc}") from None
        if disp.begin_at is not None:  # made now, alerting only from BeginTime
            table, row_id = ("watchlist", watch_id) if face_id is None else ("watch_faces", face_id)
            conn.execute(
                f"UPDATE {table} SET starts_at = ? WHERE id = ?", (iso(disp.begin_at), row_id)
            )
        conn.execute(
            "INSERT INTO viid_dispositions (id, category, title, receive_addr, begin_at, end_at,"
            " status, watchlist_id, watch_face_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " category = excluded.category, title = excluded.title,"
            " receive_addr = excluded.receive_addr, begin_at = excluded.begin_at,"
            " end_at = excluded.end_at, status = 0, watchlist_id = excluded.watchlist_id,"
            " watch_face_id = excluded.watch_face_id, updated_at = excluded.updated_at",
            (
                disp.id,
                disp.category,
                disp.title,
                disp.receive_addr,
                iso(disp.begin_at) if disp.begin_at else None,
                iso(disp.end_at) if disp.end_at else None,
                watch_id,
                face_id,
                iso(now),
                iso(now),
            ),
        )
        conn.execute(
            "INSERT INTO viid_disposition_links"
            " (disposition_id, watchlist_id, watch_face_id, linked_at) VALUES (?, ?, ?, ?)",
            (disp.id, watch_id, face_id, iso(now)),
        )


def _remove_rows(conn: sqlite3.Connection, disp_id: str, now: datetime) -> None:
    """Delete the watch rows a disposition made (district rows: only the platform's own)
    and end their links at ``now``."""
    conn.execute(
        "UPDATE viid_disposition_links SET unlinked_at = ?"
        " WHERE disposition_id = ? AND unlinked_at IS NULL",
        (iso(now), disp_id),
    )
    row = conn.execute(
        "SELECT watchlist_id, watch_face_id FROM viid_dispositions WHERE id = ?", (disp_id,)
    ).fetchone()
    if row is None:
        return
    if row[0] is not None:
        conn.execute("DELETE FROM watchlist WHERE id = ? AND source = 'district'", (row[0],))
    if row[1] is not None:
        conn.execute("DELETE FROM watch_faces WHERE id = ? AND source = 'district'", (row[1],))


def cancel_disposition(db: sqlite_utils.Database, disp_id: str, now: datetime) -> None:
    with transaction(db) as conn:
        known = conn.execute("SELECT 1 FROM viid_dispositions WHERE id = ?", (disp_id,))
        if known.fetchone() is None:
            raise ViidRequestError(f"no disposition {disp_id}", 4)
        _remove_rows(conn, disp_id, now)
        conn.execute(
            "UPDATE viid_dispositions SET status = 1, watchlist_id = NULL, watch_face_id = NULL,"
            " updated_at = ? WHERE id = ?",
            (iso(now), disp_id),
        )


def list_dispositions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, category, title, begin_at, end_at, status, watchlist_id, watch_face_id"
        " FROM viid_dispositions ORDER BY created_at, id"
    ).fetchall()
    names = ("id", "category", "title", "begin_at", "end_at", "status", "watchlist_id")
    return [dict(zip((*names, "watch_face_id"), row, strict=True)) for row in rows]


def dispositions_for_alert(conn: sqlite3.Connection, alert: dict[str, Any]) -> list[tuple]:
    """(DispositionID, title, receive_addr) of the platform dispositions an alert hit: those
    whose link to the hit watch row covered the alert's ``occurred_at`` — also when the
    disposition has been cancelled since (the hit happened under it) — and whose own time
    (BeginTime to EndTime) did: a hit before a 布控 begins or after it ends is no hit of it."""
    details = alert.get("details") or {}
    occurred = str(alert.get("occurred_at") or "")
    plate_ids = [i for i in details.get("watch_ids") or [] if isinstance(i, int)]
    face_ids = [i for i in details.get("watch_face_ids") or [] if isinstance(i, int)]
    found = []
    for column, ids in (("watchlist_id", plate_ids), ("watch_face_id", face_ids)):
        for watch_id in ids:
            rows = conn.execute(
                "SELECT d.id, d.title, d.receive_addr FROM viid_disposition_links l"
                " JOIN viid_dispositions d ON d.id = l.disposition_id"
                f" WHERE l.{column} = ? AND l.linked_at <= ?"
                " AND (l.unlinked_at IS NULL OR ? < l.unlinked_at)"
                " AND (d.begin_at IS NULL OR d.begin_at <= ?)"
                " AND (d.end_at IS NULL OR ? < d.end_at)"
                " ORDER BY l.linked_at",
                (watch_id, occurred, occurred, occurred, occurred),
            ).fetchall()
            found += [tuple(row) for row in rows if tuple(row) not in found]
    return found
