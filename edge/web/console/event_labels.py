"""How gate events read on console pages: labels for kinds and decisions, the one-line
summary of an event (live cards, search rows, feed items), times with seconds in the site
zone, and the messages for search filters that mean nothing.

Shared by the live view and the event pages so an event looks the same wherever it shows.
Labels are msgids translated when shown; the stored kinds and codes stay English.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from edge.db import parse_iso
from edge.event_search import ALERT_KINDS, FilterError
from edge.web.console import N_

KIND_LABELS = {
    "vehicle_passage": N_("Vehicle passage"),
    "plate_unread": N_("Plate not read"),
    "watchlist_alert": N_("Watchlist alert"),
    "camera_fault": N_("Camera fault"),
    "camera_recovered": N_("Camera recovered"),
    "manual_open": N_("Opened by hand"),
    "face_passage": N_("Face passage"),
    "face_unknown": N_("Unknown face"),
    "pin_passage": N_("PIN entry"),
    "qr_pass": N_("QR pass"),
    "door_forced": N_("Door forced open"),
    "door_held_open": N_("Door held open"),
    "door_closed": N_("Door closed"),
    "exit_button": N_("Exit button"),
    "fire_alarm": N_("Fire alarm"),
    "fire_alarm_cleared": N_("Fire alarm cleared"),
}
DECISION_LABELS = {"open": N_("Opened"), "deny": N_("Denied"), "none": N_("Recorded")}
DETAIL_LABELS = {
    "votes": N_("Votes"),
    "frames": N_("Frames"),
    "colour": N_("Plate colour"),
    "first_seen": N_("First seen"),
    "operator": N_("Operator"),
    "watch_ids": N_("Watchlist entries"),
    "last_error": N_("Last error"),
    "snapshot_error": N_("Snapshot error"),
    "decide_ms": N_("Decision time (ms)"),
    "latency_ms": N_("Latency (ms)"),
    "resident_number": N_("Resident number"),
    "locked_out": N_("Locked out"),
    "vehicle_id": N_("Vehicle pass"),
    "visitor_id": N_("Visitor pass"),
    "pass_use": N_("Pass use"),
    "watch_face_ids": N_("Watched faces"),
    "score": N_("Match score"),
}
TIME_DETAILS = frozenset({"first_seen"})  # details holding a time, shown in the site zone
FILTER_MESSAGES = {
    "plate_match": N_("Choose whether the plate must match exactly or by its beginning."),
    "plate_chars": N_(
        "A plate has a province character, then letters and digits (at most 8 in all)."
    ),
    "plate_incomplete": N_(
        "That is not a complete plate. Choose “starts with” to search by its beginning."
    ),
    "person_length": N_("The person text is too long (at most 64 characters)."),
    "time_format": N_(
        "Give the time as a date (2025-06-01) or a date and time (2025-06-01 14:30)."
    ),
    "time_order": N_("The end of the time range must be after its start."),
    "gate_unknown": N_("There is no such gate."),
    "decision_unknown": N_("Unknown decision."),
    "kind_unknown": N_("Unknown kind of event."),
    "cursor": N_("This page link is damaged. Start again from the newest events."),
    "event_id": N_("That is not an event number."),
}


def filter_message(error: FilterError) -> str:
    return gettext(FILTER_MESSAGES.get(error.code, N_("The request could not be understood.")))


def kind_label(kind: str) -> str:
    return gettext(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def decision_label(decision: str) -> str:
    return gettext(DECISION_LABELS[decision]) if decision in DECISION_LABELS else decision


def local_seconds(value: str | None, zone: Any, with_date: bool = True) -> str:
    """A stored UTC time shown in the site zone, to the second (the live view needs it);
    text that is not a time (a detail written by an older gate) is shown as it is."""
    try:
        moment = parse_iso(value) if value else None
    except (TypeError, ValueError):
        return str(value)
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def present(row: dict[str, Any], gate_names: dict[str, str]) -> dict[str, Any]:
    """An events row with what every page shows about it."""
    reasons = row.get("reasons") or []
    first = reasons[0] if reasons and isinstance(reasons[0], dict) else {}
    return {
        **row,
        "gate_name": gate_names.get(row["gate_id"], row["gate_id"]),
        "kind_label": kind_label(row["kind"]),
        "decision_label": decision_label(row["decision"]),
        "label": row.get("plate") or row.get("subject") or "",
        "reason": str(first.get("message") or first.get("code") or ""),
        "alert": row["kind"] in ALERT_KINDS,
        "has_snapshot": bool(row.get("snapshot_path")),
    }


def gate_names(conn: Any, configured: list[Any]) -> dict[str, str]:
    """Gate id → name: the configured gates, and gates that only history remembers."""
    names = {gate_id: name for gate_id, name in conn.execute("SELECT id, name FROM gates")}
    names.update({gate.id: gate.name for gate in configured})
    return names
