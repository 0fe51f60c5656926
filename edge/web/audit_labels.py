"""How the audit log reads on the audit page: Chinese (translated) labels for its action
and object codes, actors shown by account name, details as short "key: value" text, and
the chain verification's result in plain words.

The stored codes stay English (they are what the chain signs and the district receives);
a code this version does not know is shown as it is.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext

from edge.audit import VerifyResult
from edge.web.i18n import N_

ACTION_LABELS = {
    "login": N_("Logged in"),
    "logout": N_("Signed out"),
    "login_failures": N_("Failed sign-ins"),
    "change_password": N_("Changed password"),
    "end_session": N_("Ended a session"),
    "sign_out_everywhere": N_("Signed out everywhere"),
    "create_user": N_("Created an account"),
    "deactivate_user": N_("Deactivated an account"),
    "reactivate_user": N_("Reactivated an account"),
    "reset_password": N_("Reset a password"),
    "audit_verify": N_("Verified the audit log"),
    "search": N_("Searched"),
    "search_refused": N_("Search refused"),
    "view": N_("Viewed"),
    "view_snapshot": N_("Viewed a snapshot"),
    "feed": N_("Received live events"),
    "export": N_("Exported"),
    "reveal": N_("Revealed a full value"),
    "list": N_("Listed"),
    "register": N_("Tenant registered"),
    "confirm": N_("Confirmed a registration"),
    "reject": N_("Rejected a registration"),
    "decide": N_("Decided a registration"),
    "move_out": N_("Moved out"),
    "extend": N_("Extended a stay"),
    "decline_request": N_("Declined a request"),
    "co_resident_consent": N_("Co-resident consent"),
    "co_resident_refused": N_("Co-resident refused"),
    "sticker": N_("Printed a sticker"),
    "sticker_sheet": N_("Printed a sticker sheet"),
    "rotate_token": N_("Replaced a room's QR code"),
    "resident_add": N_("Added a resident"),
    "resident_edit": N_("Edited a resident"),
    "resident_delete": N_("Deleted a resident"),
    "face_enrol": N_("Enrolled a face"),
    "face_delete": N_("Deleted faces"),
    "pin_set": N_("Set a PIN"),
    "pin_clear": N_("Cleared a PIN"),
    "plate_add": N_("Added a plate"),
    "plate_remove": N_("Removed a plate"),
    "pass_issue": N_("Issued a visitor pass"),
    "pass_revoke": N_("Revoked a visitor pass"),
    "watch_plate_add": N_("Put a plate on the watchlist"),
    "watch_plate_remove": N_("Took a plate off the watchlist"),
    "watch_face_add": N_("Put a face on the watchlist"),
    "watch_face_remove": N_("Took a face off the watchlist"),
    "manual_open": N_("Opened a gate by hand"),
    "purge_registration": N_("Deleted an old registration"),
    "purge_unconfirmed": N_("Deleted unconfirmed registrations"),
    "purge_unconsented": N_("Deleted data without consent"),
    "purge_visitor_face": N_("Deleted a visitor's face"),
    "purge_visitor_passes": N_("Deleted old visitor passes"),
    "purge_watch_face": N_("Deleted a watchlist face"),
}
OBJECT_LABELS = {
    "user": N_("Account"),
    "event": N_("Gate event"),
    "events": N_("Gate events"),
    "registration": N_("Registration"),
    "registrations": N_("Registrations"),
    "resident": N_("Resident"),
    "vehicle": N_("Vehicle"),
    "pass": N_("Visitor pass"),
    "watchlist": N_("Watchlist"),
    "watch_face": N_("Watchlist face"),
    "room": N_("Room"),
    "building": N_("Building"),
    "landlord": N_("Landlord"),
    "gate": N_("Gate"),
    "co_resident": N_("Co-resident"),
}
ACTOR_LABELS = {
    "anonymous": N_("Anonymous"),
    "tenant": N_("Tenant"),
    "retention": N_("Retention job"),
}


def action_label(code: str) -> str:
    return gettext(ACTION_LABELS[code]) if code in ACTION_LABELS else code


def object_kind_label(kind: str) -> str:
    return gettext(OBJECT_LABELS[kind]) if kind in OBJECT_LABELS else kind


def object_label(target: str) -> str:
    """``registration:01J…`` → ``登记 01J…``; a target without a kind is shown as it is."""
    if not target:
        return ""
    kind, _, ident = target.partition(":")
    if kind in OBJECT_LABELS:
        return f"{gettext(OBJECT_LABELS[kind])} {ident}".strip()
    return target


def actor_label(actor: str, usernames: dict[int, str]) -> str:
    """``user:3`` → the account's username (``#3`` if it is gone); system actors labelled."""
    kind, _, ident = actor.partition(":")
    if kind == "user" and ident.isdigit():
        name = usernames.get(int(ident))
        return f"{name} (#{ident})" if name else f"#{ident}"
    return gettext(ACTOR_LABELS[actor]) if actor in ACTOR_LABELS else actor


def details_text(raw: str) -> str:
    """Details as ``key: value; …`` (lists and objects as compact JSON)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return raw
    if not isinstance(data, dict):
        return raw
    parts = []
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


PROBLEMS = (
    ("cannot verify", N_("The audit key could not be read, so nothing could be checked.")),
    ("truncated", N_("Entries at the end of the log were removed.")),
    ("re-hashed", N_("Entries were rewritten and their links computed again.")),
    ("its content was changed", N_("An entry's content was changed after it was written.")),
    ("does not link", N_("An entry does not link to the one before it.")),
    ("is missing", N_("An entry is missing from the middle of the log.")),
    ("not signed by this box", N_("A checkpoint was not signed by this box.")),
)


def verification(result: VerifyResult, zone: Any) -> dict[str, Any]:
    """The result in plain words: ok or the kind of problem, where, and the checkpoint."""
    plain = next((gettext(text) for prefix, text in PROBLEMS if prefix in result.problem), "")
    checkpoint = result.checkpoint
    return {
        "ok": result.ok,
        "rows": result.rows,
        "first_bad": result.first_bad_seq,
        "plain": plain or result.problem,
        "technical": result.problem,
        "checkpoint_seq": checkpoint.seq if checkpoint else None,
        "checkpoint_at": checkpoint.at if checkpoint else None,
    }
