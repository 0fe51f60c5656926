"""How gate events read on console pages: the one-line summary of an event (live cards,
search rows, feed items) and its full reading (event page), times with seconds in the site
zone, and the messages for search filters that mean nothing.

Shared by the live view and the event pages so an event looks the same wherever it shows.
The words themselves (kinds, decisions, reasons, subjects, details) are edge.vocabulary's,
rendered with flask-babel's gettext in the request's language.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from edge.events.search import ALERT_KINDS, FilterError
from edge.vocabulary import Vocabulary, local_time
from edge.web.context import state
from edge.web.i18n import N_

VEHICLE_KIND_LABELS = {
    "resident": N_("Resident vehicle"),
    "visitor": N_("Visitor vehicle"),
    "temporary": N_("Temporary vehicle"),
}


def filter_message(error: FilterError) -> str:
    return error.render(gettext)


def vocabulary() -> Vocabulary:
    """The box's words in this request's language and the site zone."""
    return Vocabulary(gettext, state().config.site.zone)


def kind_label(kind: str) -> str:
    return vocabulary().kind(kind)


def decision_label(decision: str) -> str:
    return vocabulary().decision(decision)


def reason_label(code: str) -> str:
    """The translated label of a reason code; "" for a code this version does not know."""
    return vocabulary().reason_label(code)


def local_seconds(value: str | None, zone: Any, with_date: bool = True) -> str:
    """A stored UTC time shown in the site zone, to the second (the live view needs it);
    text that is not a time (a detail written by an older gate) is shown as it is."""
    shown = local_time(value, zone, seconds=True)
    return shown if with_date or len(shown) < 19 else shown[11:]


def _labelled(words: Vocabulary, reason: dict[str, Any]) -> dict[str, Any]:
    """A reason with its bold label and its specifics; a reason whose specifics say no more
    than its label ("车牌未登记") shows once."""
    label, text = words.reason_label(reason.get("code")), words.reason_text(reason)
    return {**reason, "label": "" if label == text else label, "text": text}


def present(row: dict[str, Any], gate_names: dict[str, str]) -> dict[str, Any]:
    """An events row with what every page shows about it, in the reader's language."""
    words = vocabulary()
    reasons = [r for r in (row.get("reasons") or []) if isinstance(r, dict)]
    labelled = [_labelled(words, r) for r in reasons]
    return {
        "reasons_labelled": labelled,
        "reason_label": labelled[0]["label"] if labelled else "",
        **row,
        "subject_text": words.subject(row.get("subject")),
        "gate_name": gate_names.get(row["gate_id"], row["gate_id"]),
        "kind_label": words.kind(row["kind"]),
        "decision_label": words.decision(row["decision"]),
        "label": row.get("plate") or words.subject(row.get("subject")),
        "reason": labelled[0]["text"] if labelled else "",
        "details_shown": words.details(row.get("details") or {}),
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
