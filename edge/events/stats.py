"""Counts for the dashboard: gate traffic per hour today and per day over 30 days, the
open/deny split with its top deny reasons, alarms by kind, and tenant registrations
pending or overdue per building — all in the site's time zone.

Why it is cheap on a year of events (300k rows): every figure is one range read over
``occurred_at`` answered by an index alone (migration 10's ``events_traffic`` covers
time, decision and gate; ``events_deny_reason`` holds each row's
first reason code), and it groups by the stored UTC hour text (``substr``), never by a
date function per row. The UTC hours are moved into local hours in Python: at most
720 groups per gate and decision. A zone whose offset is not whole hours (UTC+5:30,
+5:45) splits each UTC hour at the minute where its local hour begins, so even there
each event falls into its true local hour. ``bench/dashboard.py`` measures it.

No Flask here: the web layer draws the charts (``edge.web.console.charts``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge.db import iso
from edge.events.search import ALERT_KINDS

DAYS = 30
TOP_REASONS = 5
TRAFFIC_DECISIONS = ("open", "deny")  # a passage someone asked for: decided either way
ALARM_KINDS = ALERT_KINDS  # what the live view raises as an alert is what the dashboard counts

TRAFFIC_SQL = """
SELECT substr(occurred_at, 1, 13) AS utc_hour, substr(occurred_at, 15, 2) >= :cut AS late,
       gate_id, decision, COUNT(*) AS n
FROM events
WHERE occurred_at >= :start AND occurred_at < :end AND +decision IN ('open', 'deny')
GROUP BY utc_hour, late, gate_id, decision
"""
DENY_REASONS_SQL = """
SELECT json_extract(reasons, '$[0].code') AS code, COUNT(*) AS n
FROM events
WHERE decision = 'deny' AND occurred_at >= :start AND occurred_at < :end
GROUP BY code ORDER BY n DESC, code LIMIT :limit
"""
ALARMS_SQL = """
SELECT kind, COUNT(*) FROM events
WHERE kind IN ({marks}) AND occurred_at >= :start AND occurred_at < :end
GROUP BY kind
"""
REGISTRATIONS_SQL = """
SELECT b.id, p.name, b.name,
       COUNT(r.id) AS pending,
       COALESCE(SUM(r.confirm_deadline < :now), 0) AS overdue
FROM buildings b
JOIN properties p ON p.id = b.property_id
LEFT JOIN units u ON u.building_id = b.id
LEFT JOIN rooms ro ON ro.unit_id = u.id
LEFT JOIN registrations r ON r.room_id = ro.id AND r.status = 'pending'
GROUP BY b.id
"""


@dataclass(frozen=True)
class BuildingRegistrations:
    building_id: int
    community: str
    building: str
    pending: int
    overdue: int


@dataclass
class Dashboard:
    """Everything the dashboard shows; lists are oldest first, hours 0-23 local."""

    today: date
    days: list[date]
    gates: list[str]
    hourly: dict[str, list[int]]  # gate -> 24 counts (today, local hours)
    daily: dict[str, list[int]]  # gate -> one count per day in ``days``
    decisions_today: dict[str, int] = field(default_factory=dict)
    decisions_period: dict[str, int] = field(default_factory=dict)
    deny_reasons: list[tuple[str, int]] = field(default_factory=list)
    alarms: dict[str, int] = field(default_factory=dict)
    registrations: list[BuildingRegistrations] = field(default_factory=list)


def window(now: datetime, zone: ZoneInfo, days: int = DAYS) -> tuple[datetime, datetime]:
    """[local midnight ``days - 1`` days ago, next local midnight) as aware datetimes."""
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=days - 1), time(), zone)
    end = datetime.combine(today + timedelta(days=1), time(), zone)
    return start, end


def hour_cut(zone: ZoneInfo, at: datetime) -> str:
    """The UTC minute ('00'-'59') at which the zone's local hours begin, as two digits;
    '60' (never reached) for a zone whose offset is whole hours."""
    offset = zone.utcoffset(at.replace(tzinfo=None))
    minutes = int(offset.total_seconds() // 60) % 60 if offset is not None else 0
    return "60" if minutes == 0 else f"{(60 - minutes) % 60:02d}"


def traffic(
    conn: sqlite3.Connection, now: datetime, zone: ZoneInfo, days: int = DAYS
) -> tuple[list[date], dict[str, list[int]], dict[str, list[int]], dict[str, dict[str, int]]]:
    """(days, per-day counts by gate, per-hour counts today by gate, decisions by period)
    for passages (open or deny) in the last ``days`` local days, today included."""
    start, end = window(now, zone, days)
    cut = hour_cut(zone, now)
    day_list = [start.date() + timedelta(days=i) for i in range(days)]
    day_index = {d: i for i, d in enumerate(day_list)}
    daily: dict[str, list[int]] = {}
    hourly: dict[str, list[int]] = {}
    decided = {
        "today": dict.fromkeys(TRAFFIC_DECISIONS, 0),
        "period": dict.fromkeys(TRAFFIC_DECISIONS, 0),
    }
    rows = conn.execute(TRAFFIC_SQL, {"cut": cut, "start": iso(start), "end": iso(end)})
    places: dict[tuple[str, int], tuple[int, int] | None] = {}  # one zone lookup per hour
    for utc_hour, late, gate, decision, n in rows:
        key = (utc_hour, late)
        if key not in places:
            places[key] = _local_place(utc_hour, cut if late else "00", zone, day_index)
        place = places[key]
        if place is None:
            continue  # outside the days, or a time not written by iso(): never a 500
        index, hour = place
        daily.setdefault(gate, [0] * days)[index] += n
        decided["period"][decision] += n
        if index == days - 1:
            hourly.setdefault(gate, [0] * 24)[hour] += n
            decided["today"][decision] += n
    for gate in daily:
        hourly.setdefault(gate, [0] * 24)
    return day_list, daily, hourly, decided


_UTC_HOUR = re.compile(r"^\d{4}-\d\d-\d\dT\d\d$")


def _local_place(
    utc_hour: str, minute: str, zone: ZoneInfo, day_index: dict[date, int]
) -> tuple[int, int] | None:
    """(day index, local hour) of the UTC hour piece starting at ``utc_hour:minute``."""
    if not isinstance(utc_hour, str) or not _UTC_HOUR.match(utc_hour):
        return None
    try:
        local = datetime.fromisoformat(f"{utc_hour}:{minute}:00+00:00").astimezone(zone)
    except ValueError:
        return None
    index = day_index.get(local.date())
    return None if index is None else (index, local.hour)


def deny_reasons(
    conn: sqlite3.Connection, start: datetime, end: datetime, limit: int = TOP_REASONS
) -> list[tuple[str, int]]:
    """The most frequent first reason codes of denied passages in [start, end)."""
    rows = conn.execute(
        DENY_REASONS_SQL, {"start": iso(start), "end": iso(end), "limit": limit}
    ).fetchall()
    return [(str(code or ""), int(n)) for code, n in rows]


def alarms(conn: sqlite3.Connection, start: datetime, end: datetime) -> dict[str, int]:
    """Alarm events by kind in [start, end) (every alarm kind present, zero if none)."""
    found = dict.fromkeys(ALARM_KINDS, 0)
    sql = ALARMS_SQL.format(marks=", ".join(f":k{i}" for i in range(len(ALARM_KINDS))))
    params: dict[str, str] = {f"k{i}": kind for i, kind in enumerate(ALARM_KINDS)}
    for kind, n in conn.execute(sql, {**params, "start": iso(start), "end": iso(end)}):
        found[kind] = int(n)
    return found


def registrations_by_building(
    conn: sqlite3.Connection, now: datetime
) -> list[BuildingRegistrations]:
    """Pending registrations and those of them past their confirmation deadline, for every
    building, in natural order (3幢 before 12幢)."""
    rows = [
        BuildingRegistrations(int(bid), community, building, int(pending), int(overdue))
        for bid, community, building, pending, overdue in conn.execute(
            REGISTRATIONS_SQL, {"now": iso(now)}
        )
    ]
    return sorted(rows, key=lambda r: (_natural(r.community), _natural(r.building)))


def _natural(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]


def dashboard(
    conn: sqlite3.Connection, now: datetime, zone: ZoneInfo, days: int = DAYS
) -> Dashboard:
    """Every figure of the dashboard at ``now``."""
    start, end = window(now, zone, days)
    day_list, daily, hourly, decided = traffic(conn, now, zone, days)
    reasons = deny_reasons(conn, start, end)
    alarm_counts = alarms(conn, start, end)
    registrations = registrations_by_building(conn, now)
    return Dashboard(
        today=day_list[-1],
        days=day_list,
        gates=sorted(daily),
        hourly=hourly,
        daily=daily,
        decisions_today=decided["today"],
        decisions_period=decided["period"],
        deny_reasons=reasons,
        alarms=alarm_counts,
        registrations=registrations,
    )
