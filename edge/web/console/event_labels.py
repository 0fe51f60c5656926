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
from edge.web.i18n import N_

KIND_LABELS = {
    "vehicle_passage": N_("Vehicle passage"),
    "plate_unread": N_("Plate not read"),
    "watchlist_alert": N_("Watchlist alert"),
    "camera_fault": N_("Camera fault"),
    "camera_recovered": N_("Camera recovered"),
    "manual_open": N_("Opened by hand"),
    "face_passage": N_("Face passage"),
    "face_unknown": N_("Unknown face"),
    "face_spoof_suspected": N_("Suspected face spoof"),
    "face_spoof_repeated": N_("Repeated face spoof attempts"),
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
    "near_miss": N_("Possibly"),
    "corrected_plate": N_("Plate confirmed by the guard"),
    "waiting": N_("Waited at the barrier"),
    "seen_since": N_("Seen since"),
    "margin": N_("Margin over the next person"),
    "liveness_score": N_("Liveness score"),
    "liveness_threshold": N_("Liveness threshold"),
    "liveness_frames": N_("Frames judged for liveness"),
    "liveness_frames_live": N_("Frames that looked live"),
    "liveness_parts": N_("Liveness cues (evidence)"),
    "liveness_readings": N_("Liveness cue readings"),
    "after_spoof": N_("Answered the doubted face"),
    "attempts": N_("Attempts"),
    "paused_until": N_("Faces paused until"),
}
# The policies store each reason as a code plus an English message with the specifics
# (household, times, score). Pages show the translated label of the code first, so a guard
# who reads only Chinese knows why at a glance; the stored message follows as the detail.
REASON_LABELS = {
    "plate_unread": N_("Plate not read reliably"),
    "wrong_gate_kind": N_("Wrong kind of gate"),
    "watchlisted": N_("Plate on the watchlist"),
    "watchlisted_face": N_("Face on the watchlist"),
    "resident_vehicle": N_("Resident vehicle"),
    "visitor_pass_valid": N_("Visitor vehicle, pass valid"),
    "temporary_pass_valid": N_("Temporary vehicle, pass valid"),
    "resident_expired": N_("Resident vehicle expired"),
    "resident_not_yet_valid": N_("Resident vehicle not yet valid"),
    "visitor_expired": N_("Visitor pass expired"),
    "visitor_not_yet_valid": N_("Visitor pass not yet valid"),
    "visitor_used_up": N_("Visitor pass used up"),
    "visitor_revoked": N_("Visitor pass revoked"),
    "temporary_expired": N_("Temporary pass expired"),
    "temporary_not_yet_valid": N_("Temporary pass not yet valid"),
    "temporary_used_up": N_("Temporary pass used up"),
    "temporary_revoked": N_("Temporary pass revoked"),
    "unknown_vehicle": N_("Plate not registered"),
    "unknown_open_for_registration": N_("Unknown vehicle let in for registration"),
    "unknown_face": N_("Face not recognised"),
    "pin_rejected": N_("Wrong PIN"),
    "resident_face": N_("Resident's face"),
    "resident_pin": N_("Resident's PIN"),
    "resident_inactive": N_("Resident deactivated"),
    "visitor_face": N_("Visitor's face, pass valid"),
    "unknown_pass": N_("QR pass not recognised"),
    "pass_valid": N_("QR pass valid"),
    "pass_revoked": N_("QR pass revoked"),
    "pass_expired": N_("QR pass expired"),
    "pass_not_yet_valid": N_("QR pass not yet valid"),
    "pass_used_up": N_("QR pass used up"),
    "group_not_allowed": N_("Group may not use this gate"),
    "unknown_schedule": N_("Schedule not defined"),
    "holiday_closed": N_("Closed on holidays"),
    "outside_schedule": N_("Outside the allowed hours"),
    "manual_open": N_("Opened by hand"),
    "pass_use_not_counted": N_("Use not counted (storage fault)"),
    "near_miss": N_("Possibly a known plate misread: a guard must confirm"),
    "liveness_failed": N_("Not judged a live person (photo, print or screen?)"),
    "liveness_pin_requested": N_("PIN asked for on the keypad"),
    "liveness_repeated": N_("Repeated attempts: faces paused at this door"),
    **KIND_LABELS,  # door and camera events use their kind as the code
}
VEHICLE_KIND_LABELS = {
    "resident": N_("Resident vehicle"),
    "visitor": N_("Visitor vehicle"),
    "temporary": N_("Temporary vehicle"),
}
# details holding a time, shown in the site zone
TIME_DETAILS = frozenset({"first_seen", "seen_since", "paused_until"})
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


def reason_label(code: object) -> str:
    """The translated label of a reason code; "" for a code this version does not know."""
    label = REASON_LABELS.get(code) if isinstance(code, str) else None
    return gettext(label) if label else ""


def present(row: dict[str, Any], gate_names: dict[str, str]) -> dict[str, Any]:
    """An events row with what every page shows about it."""
    reasons = row.get("reasons") or []
    first = reasons[0] if reasons and isinstance(reasons[0], dict) else {}
    labelled = [{**r, "label": reason_label(r.get("code"))} for r in reasons if isinstance(r, dict)]
    return {
        "reasons_labelled": labelled,
        "reason_label": reason_label(first.get("code")),
        **row,
        "gate_name": gate_names.get(row["gate_id"], row["gate_id"]),
        "kind_label": kind_label(row["kind"]),
        "decision_label": decision_label(row["decision"]),
        "label": row.get("plate") or row.get("subject") or "",
        "reason": str(first.get("message") or first.get("code") or ""),
        "alert": row["kind"] in ALERT_KINDS,
        "has_snapshot": bool(row.get("snapshot_path")),
    }


def present_prompt(prompt: dict[str, Any]) -> dict[str, Any]:
    """A guard prompt (edge.store.prompts) with its candidates' kinds labelled."""
    candidates = [
        {**c, "kind_label": gettext(VEHICLE_KIND_LABELS.get(str(c.get("kind")), N_("Vehicle")))}
        for c in prompt.get("candidates") or []
        if isinstance(c, dict) and c.get("plate")
    ]
    return {**prompt, "candidates": candidates}


def has_crop(row: dict[str, Any]) -> bool:
    """Whether the gate wrote where the plate or face is in the event's snapshot."""
    details = row.get("details")
    return isinstance(details, dict) and bool(details.get("plate_box") or details.get("face_box"))


def gate_names(conn: Any, configured: list[Any]) -> dict[str, str]:
    """Gate id → name: the configured gates, and gates that only history remembers."""
    names = {gate_id: name for gate_id, name in conn.execute("SELECT id, name FROM gates")}
    names.update({gate.id: gate.name for gate in configured})
    return names
