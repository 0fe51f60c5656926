"""The words people read: every code the box stores (event kinds, decisions, reasons with their
parameters, subjects, event details, plate colours, document types, statuses, sexes, roles)
with its zh-CN and English label, and times in the site zone in one format.

One module so that a guard sees the same words on the console, in an export, on the command
line and in the demo. Storage keeps codes and structured parameters (and, for old rows and
the district platform, the English message); this module renders them in the reader's
language at the edge. Labels are English msgids; their Chinese is in the zh catalogs
(``edge/web/translations/zh/LC_MESSAGES/vocabulary.po`` and the others), read here with
Babel so that the command line and the exports, which have no Flask request, translate
exactly as the pages do. Never raises on an unknown code or a malformed parameter: an
unknown code is shown as it is stored.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_name
from babel.messages.pofile import read_po

from edge.db import parse_iso

Lang = Literal["zh", "en"]
Gettext = Callable[[str], str]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")
CATALOGS = Path(__file__).with_name("web") / "translations"
_CODE_LIKE = re.compile(r"[A-Za-z]")  # a value with Latin letters is a code or a device's text
MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def N_(msgid: str) -> str:
    """Marks a msgid: translated where it is shown."""
    return msgid


EVENT_KINDS = {
    "vehicle_passage": N_("Vehicle passage"),
    "plate_unread": N_("Plate not read"),
    "watchlist_alert": N_("Watchlist alert"),
    "camera_fault": N_("Camera fault"),
    "camera_recovered": N_("Camera recovered"),
    "storage_fault": N_("Storage fault"),
    "storage_recovered": N_("Storage recovered"),
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
    "face_spoof_suspected": N_("Suspected face spoof"),
    "face_spoof_repeated": N_("Repeated face spoof attempts"),
}
DECISIONS = {"open": N_("Opened"), "deny": N_("Denied"), "none": N_("Recorded")}
REASONS = {
    "plate_unread": N_("Plate not read reliably"),
    "wrong_gate_kind": N_("Wrong kind of gate"),
    "watchlisted": N_("Plate on the watchlist"),
    "watchlisted_face": N_("Face on the watchlist"),
    "resident_vehicle": N_("Resident vehicle"),
    "visitor_pass_valid": N_("Visitor vehicle, pass valid"),
    "temporary_pass_valid": N_("Temporary vehicle, pass valid"),
    "resident_expired": N_("Resident vehicle expired"),
    "resident_not_yet_valid": N_("Resident vehicle not yet valid"),
    "resident_revoked": N_("Resident vehicle revoked"),
    "resident_used_up": N_("Resident vehicle used up"),
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
    "resident_qr_pass": N_("Resident's QR pass"),
    "resident_inactive": N_("Resident deactivated"),
    "visitor_face": N_("Visitor's face, pass valid"),
    "visitor_pin": N_("Visitor's PIN, pass valid"),
    "visitor_qr_pass": N_("Visitor's QR pass, pass valid"),
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
    "hub_unreachable": N_("Community hub unreachable"),
    "near_miss": N_("Possibly a known plate misread: a guard must confirm"),
    "liveness_failed": N_("Not judged a live person (photo, print or screen?)"),
    "liveness_pin_requested": N_("PIN asked for on the keypad"),
    "liveness_repeated": N_("Repeated attempts: faces paused at this door"),
    **EVENT_KINDS,  # door and camera events use their kind as the code
}
DETAILS = {
    "votes": N_("Votes"),
    "frames": N_("Frames"),
    "colour": N_("Plate colour"),
    "body_colour": N_("Vehicle colour (estimated)"),
    "first_seen": N_("First seen"),
    "seen_since": N_("Seen since"),
    "plate_box": N_("Plate position in the picture (pixels, for support)"),
    "face_box": N_("Face position in the picture (pixels, for support)"),
    "frame_w": N_("Picture width (pixels)"),
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
    "open_s": N_("Open for (s)"),
    "held_open_s": N_("Held open after (s)"),
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
    "error": N_("Error"),
    "problems": N_("Problems found"),
}
TIME_DETAILS = frozenset({"first_seen", "seen_since", "paused_until"})
# a device's own text, and the liveness cues' technical names and readings (evidence for the
# installer, like an error text): shown as written, marked as diagnostics
# where the plate or face is in the snapshot, in its pixels: the page shows the cut-out
# picture itself, the numbers are for support (the crop and the district's copy use them)
BOX_DETAILS = frozenset({"plate_box", "face_box"})
DIAGNOSTIC_DETAILS = frozenset(
    {"last_error", "snapshot_error", "liveness_parts", "liveness_readings", "error", "problems"}
    | BOX_DETAILS
    | {"frame_w"}
)
PLATE_COLOURS = {
    "blue": N_("Blue"),
    "yellow": N_("Yellow"),
    "green": N_("Green"),
    "white": N_("White"),
    "black": N_("Black"),
    "unknown": N_("Unknown"),
}
BODY_COLOURS = {  # edge.plates.body_colour.COLOURS, and "unknown"
    "black": N_("Black"),
    "white": N_("White"),
    "grey": N_("Grey"),
    "red": N_("Red"),
    "orange": N_("Orange"),
    "yellow": N_("Yellow"),
    "brown": N_("Brown"),
    "green": N_("Green"),
    "cyan": N_("Cyan"),
    "blue": N_("Blue"),
    "purple": N_("Purple"),
    "pink": N_("Pink"),
    "unknown": N_("Cannot tell"),
}
VEHICLE_KINDS = {"resident": N_("resident"), "visitor": N_("visitor"), "temporary": N_("temporary")}
CREDENTIALS = {"face": N_("face"), "pin": N_("PIN"), "qr_pass": N_("QR pass")}
GATE_KINDS = {"vehicle": N_("vehicle"), "pedestrian": N_("pedestrian")}
CAMERA_STATES = {
    "ok": N_("working"),
    "starting": N_("starting"),
    "stalled": N_("stalled"),
    "reconnecting": N_("reconnecting"),
    "failed": N_("failed"),
    "unknown": N_("unknown"),
}
# What a gate process answers the console or the command line when it does not do what was
# asked (edge.gates.control: the reply's "code", or GateUnreachableError.code). The reply's
# English detail is only ever shown as a diagnostic.
GATE_REPLIES = {
    "not_running": N_("its gate process is not running"),
    "no_answer": N_("its gate process did not answer in time"),
    "bad_reply": N_("its gate process answered something the console cannot read"),
    "bad_request": N_("the gate did not understand the request"),
    "request_too_large": N_("the request was too large for the gate"),
    "unknown_command": N_("the gate does not know this command"),
    "operator": N_("the operator's name must be 1-64 characters"),
    "reason": N_("a reason (1-200 characters) is needed to open a gate by hand"),
    "plate": N_("the confirmed plate is not a valid plate number"),
    "related_event": N_("the passage the question was about is not a valid event"),
    "no_plates": N_("this gate reads no plates, so it has no plate to confirm"),
    "gate_error": N_("the gate process failed while handling the request (see its log)"),
    "seconds": N_("a capture lasts 1 to 10 seconds"),
    "not_pedestrian": N_("only a pedestrian gate's camera captures faces for enrolment"),
    "no_camera": N_("this gate has no camera"),
    "faces_off": N_("this door takes no faces (PIN and QR passes only)"),
    "no_liveness": N_("liveness is off or unavailable at this door, so a capture cannot be judged"),
    "ir_fault": N_("the door's infrared camera is down, so a capture cannot be judged"),
}
GATE_REPLY_UNKNOWN = N_("the gate gave a reason this version does not know")
DAYS = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}
WATCH_SOURCES = {"local": N_("local"), "district": N_("district platform")}
# Person groups as the example config names them; an installer's own group names are shown
# as written in the config.
GROUPS = {
    "residents": N_("residents"),
    "visitors": N_("visitors"),
    "staff": N_("staff"),
    "tenants": N_("tenants"),
}
SUBJECT_PREFIXES = {
    "operator": N_("operator"),
    "pass": N_("QR pass"),
    **VEHICLE_KINDS,
    **GROUPS,
}
ROLES = {
    "admin": N_("admin"),
    "guard": N_("guard"),
    "landlord": N_("landlord"),
    "grid": N_("grid"),
    "police": N_("police"),
    "resident": N_("resident"),
}
STATUSES = {
    "pending": N_("Waiting for the landlord"),
    "confirmed": N_("Confirmed"),
    "rejected": N_("Rejected"),
    "moved_out": N_("Moved out"),
    "active": N_("Active"),
    "inactive": N_("Inactive"),
    "revoked": N_("Revoked"),
    "expired": N_("Expired"),
}
SEXES = {"M": N_("Male"), "F": N_("Female")}
# The audit log's action codes (what the chain signs) and who or what acted or was acted on
# ("user:3", "registration:01J…", "cli"): one table each, read by the audit page, the command
# line and the exports. tests/test_vocabulary.py keeps every action the code writes labelled.
AUDIT_ACTIONS = {
    "login": N_("Logged in"), "logout": N_("Signed out"), "login_failures": N_("Failed sign-ins"),
    "change_password": N_("Changed password"), "end_session": N_("Ended a session"),
    "sign_out_everywhere": N_("Signed out everywhere"), "create_user": N_("Created an account"),
    "deactivate_user": N_("Deactivated an account"),
    "reactivate_user": N_("Reactivated an account"), "reset_password": N_("Reset a password"),
    "audit_verify": N_("Verified the audit log"), "search": N_("Searched"),
    "search_refused": N_("Search refused"), "view": N_("Viewed"),
    "view_snapshot": N_("Viewed a snapshot"), "feed": N_("Received live events"),
    "export": N_("Exported"), "reveal": N_("Revealed a full value"), "list": N_("Listed"),
    "register": N_("Tenant registered"), "confirm": N_("Confirmed a registration"),
    "reject": N_("Rejected a registration"), "decide": N_("Decided a registration"),
    "move_out": N_("Moved out"), "extend": N_("Extended a stay"),
    "request_extend": N_("Tenant asked to extend a stay"),
    "request_move_out": N_("Tenant reported moving out"),
    "decline_request": N_("Declined a request"), "co_resident_consent": N_("Co-resident consent"),
    "co_resident_refused": N_("Co-resident refused"), "sticker": N_("Printed a sticker"),
    "sticker_sheet": N_("Printed a sticker sheet"), "stickers_print": N_("Printed stickers"),
    "rotate_token": N_("Replaced a room's QR code"),
    "room_token_replace": N_("Replaced a room's QR code"), "add_room": N_("Added a room"),
    "remove_room": N_("Removed a room"), "room_delete": N_("Deleted a room"),
    "rooms_generate": N_("Created rooms"), "rooms_landlord": N_("Assigned rooms to a landlord"),
    "community_rename": N_("Renamed a community"),
    "community_box_forget": N_("Forgot a removed gate box"),
    "resident_add": N_("Added a resident"), "resident_edit": N_("Edited a resident"),
    "resident_delete": N_("Deleted a resident"),
    "resident_deactivate": N_("Deactivated a resident"),
    "resident_reactivate": N_("Reactivated a resident"),
    "household_link": N_("Linked a household to a room"),
    "household_delete": N_("Deleted a household"), "face_enrol": N_("Enrolled a face"),
    "face_delete": N_("Deleted faces"), "bulk_faces": N_("Imported face photos"),
    "bulk_import": N_("Imported a workbook"), "access_group_set": N_("Changed an access group"),
    "pin_set": N_("Set a PIN"), "pin_clear": N_("Cleared a PIN"), "plate_add": N_("Added a plate"),
    "plate_remove": N_("Removed a plate"), "plate_prompt_confirm": N_("Confirmed a plate prompt"),
    "plate_prompt_dismiss": N_("Dismissed a plate prompt"),
    "pass_issue": N_("Issued a visitor pass"), "pass_revoke": N_("Revoked a visitor pass"),
    "watch_plate_add": N_("Put a plate on the watchlist"),
    "watch_plate_remove": N_("Took a plate off the watchlist"),
    "watch_face_add": N_("Put a face on the watchlist"),
    "watch_face_remove": N_("Took a face off the watchlist"),
    "manual_open": N_("Opened a gate by hand"), "retention": N_("Retention run"),
    "purge_registration": N_("Deleted an old registration"),
    "purge_unconfirmed": N_("Deleted unconfirmed registrations"),
    "purge_unconsented": N_("Deleted data without consent"),
    "purge_visitor_face": N_("Deleted a visitor's face"),
    "purge_visitor_passes": N_("Deleted old visitor passes"),
    "purge_watch_face": N_("Deleted a watchlist face"),
}  # fmt: skip
AUDIT_PARTIES = {
    "user": N_("Account"), "event": N_("Gate event"), "events": N_("Gate events"),
    "registration": N_("Registration"), "registrations": N_("Registrations"),
    "resident": N_("Resident"), "household": N_("Household"), "vehicle": N_("Vehicle"),
    "pass": N_("Visitor pass"), "watchlist": N_("Watchlist"), "watch_face": N_("Watchlist face"),
    "room": N_("Room"), "rooms": N_("Rooms"), "building": N_("Building"),
    "community": N_("Community"), "landlord": N_("Landlord"), "gate": N_("Gate"),
    "co_resident": N_("Co-resident"), "workbook": N_("Data workbook"),
    "anonymous": N_("Anonymous"), "tenant": N_("Tenant"), "retention": N_("Retention job"),
    "cli": N_("Command line"), "system": N_("System"), "box": N_("Gate box"),
}  # fmt: skip
# The keys of an audit row's details (its values stay as written: counts, ids, codes).
AUDIT_DETAILS = {
    "address": N_("IP address"), "after_days": N_("after days"), "attempts": N_("attempts"),
    "changed": N_("changed"), "co": N_("co-resident"), "co_residents": N_("co-residents"),
    "consent_by": N_("consent recorded by"), "ended": N_("sessions ended"),
    "ended_sessions": N_("sessions ended"), "expires_at": N_("expires"),
    "failures": N_("failures"), "field": N_("field"), "filters": N_("filters"),
    "first_at": N_("first"), "last_at": N_("last"), "format": N_("format"),
    "from": N_("from"), "to": N_("to"), "gate": N_("gate"), "group": N_("access group"),
    "household_id": N_("household"), "into": N_("into"), "kind": N_("kind"),
    "landlord_id": N_("landlord account"), "layout": N_("sticker size"), "ok": N_("intact"),
    "on": N_("date"), "passage": N_("passage"), "plate": N_("plate"), "read": N_("plate read"),
    "reason": N_("reason"), "refused": N_("refused"), "replaced": N_("replaced"),
    "resident_id": N_("resident"), "residents": N_("residents"), "vehicles": N_("vehicles"),
    "results": N_("results"), "room": N_("room"), "room_id": N_("room"), "rooms": N_("rooms"),
    "rows": N_("entries"), "templates": N_("face templates"),
    "tokens_issued": N_("sticker codes made"), "until": N_("until"),
    "window_start": N_("from"), "window_end": N_("to"), "why": N_("reason"),
    "photo_kept": N_("photo kept"), "score": N_("score"), "watch_ids": N_("watchlist entries"),
    "role": N_("role"),
}  # fmt: skip
AUDIT_TIME_DETAILS = {"expires_at", "first_at", "last_at", "window_start", "window_end"}
YES_NO = {True: N_("yes"), False: N_("no")}

# Reason texts: msgid templates over the reason's parameters (see ``reason_text``).
_KIND_THING = {
    "vehicle": N_("%(kind)s vehicle of %(who)s"),
    "pass": N_("%(kind)s pass of %(who)s"),
}
_FRAGMENTS = {
    "valid_to": N_(", valid until %(valid_to)s"),
    "use": N_("; use %(use)s of %(max_uses)s"),
    "same_visit_at": N_("; same visit as its use at %(same_visit_at)s, no use spent"),
    "score": N_(" (score %(score)s)"),
}
_TEMPLATES = {
    "plate_unread": N_("Plate not read reliably (confidence %(confidence)s)"),
    "wrong_gate_kind": N_("Gate %(gate)s is not a %(gate_kind)s gate"),
    "watchlisted": N_("Plate %(plate)s is on the watchlist (%(notes)s)"),
    "watchlisted_face": N_("Face matches watchlist entry (%(notes)s)"),
    "unknown_vehicle": N_("Plate not registered"),
    "unknown_open_for_registration": N_(
        "Unknown vehicle let in as temporary; register it at the gate"
    ),
    "revoked": N_("%(thing)s was revoked"),
    "used_up": N_("%(thing)s used %(uses)s of %(max_uses)s time(s)"),
    "used_up_last": N_("Pass used up (its last use was just spent)"),
    "expired": N_("%(thing)s expired at %(at)s"),
    "not_yet_valid": N_("%(thing)s is valid only from %(at)s"),
    "unknown_pass": N_("QR pass not recognised"),
    "pass_revoked": N_("QR pass was revoked"),
    "pass_not_yet_valid": N_("QR pass is not valid yet"),
    "pass_expired": N_("QR pass has expired"),
    "pass_used_up": N_("QR pass already used %(uses)s time(s)"),
    "pass_used_up_last": N_("QR pass has no use left"),
    "pass_valid": N_("Valid QR pass, %(left)s use(s) left"),
    "not_identified": N_("%(credential)s did not identify an enrolled resident"),
    "resident_inactive": N_("%(who)s is not active"),
    "credential_of": N_("%(credential)s of %(who)s"),
    "group_not_allowed": N_("Group %(group)s may not use gate %(gate)s"),
    "unknown_schedule": N_("Schedule %(schedule)s is not defined: nobody passes"),
    "holiday_closed": N_("Schedule %(schedule)s is closed on holidays"),
    "outside_day": N_("Schedule %(schedule)s does not include %(day)s"),
    "outside_window": N_("Schedule %(schedule)s allows %(window)s local time only"),
    "manual_open": N_("Opened by hand by %(operator)s: %(note)s"),
    "camera_change": N_("Camera %(previous)s → %(state)s"),
    "ir_camera_fault": N_(
        "Infrared camera %(previous)s → %(state)s: faces do not open this door until it is "
        "back (PIN and QR passes do)"
    ),
    "ir_camera_recovered": N_(
        "Infrared camera %(previous)s → %(state)s: faces open this door again"
    ),
    "storage_fault_write": N_("The store refuses writes: events are kept in the spool"),
    "storage_fault_read": N_(
        "The people data cannot be read: the gate decides from its last good copy"
    ),
    "storage_fault_check": N_("The integrity check found damage in the database"),
    "storage_recovered_write": N_("The store takes writes again: the spool was written"),
    "storage_recovered_read": N_("The people data can be read again"),
    "storage_recovered_check": N_("The integrity check finds the database sound again"),
    "pass_use_not_counted": N_("Storage fault: this use of the pass could not be counted"),
    "hub_unreachable": N_("The community hub cannot be reached to count this pass's use"),
    "door_forced": N_("Door opened without a grant"),
    "door_held_open": N_("Door held open too long"),
    "door_closed": N_("Door closed again"),
    "exit_button": N_("Exit button pressed: lock released"),
    "fire_alarm": N_("Fire alarm: lock released and held released"),
    "fire_alarm_cleared": N_("Fire alarm cleared: lock back to normal"),
    "liveness_failed": N_("Liveness score %(score)s below %(threshold)s"),
    "liveness_unjudged": N_("No frame of this face could be judged for liveness"),
    "liveness_pin_requested": N_("The resident's PIN is asked for on the keypad (%(seconds)s s)"),
    "liveness_repeated": N_(
        "%(attempts)s faces refused as spoofs at this door within %(window)s s"
    ),
    "liveness_repeated_paused": N_(
        "%(attempts)s faces refused as spoofs at this door within %(window)s s; faces not "
        "judged for %(paused)s s"
    ),
}
# How a label of the people modules reads ("household 3-1-402", "resident 12 of household
# 3-1-402", "visitor 5", "vehicle #7", "watch face 3"): a few fixed shapes the box writes.
_WHO = (
    (re.compile(r"^household (?P<household>.+)$"), N_("household %(household)s")),
    (
        re.compile(r"^resident (?P<id>\d+) of household (?P<household>.+)$"),
        N_("resident %(id)s of household %(household)s"),
    ),
    (re.compile(r"^resident (?P<id>\d+)$"), N_("resident %(id)s")),
    (
        re.compile(r"^visitor (?P<id>\d+) of household (?P<household>.+)$"),
        N_("visitor %(id)s of household %(household)s"),
    ),
    (re.compile(r"^visitor (?P<id>\d+)$"), N_("visitor %(id)s")),
    (re.compile(r"^vehicle #(?P<id>\d+)$"), N_("vehicle #%(id)s")),
    (re.compile(r"^watch face (?P<id>\d+)$"), N_("watch face %(id)s")),
    (re.compile(r"^visitor of resident (?P<id>\d+)$"), N_("visitor of resident %(id)s")),
    (re.compile(r"^visitor of (?P<household>[0-9A-Za-z-]+)$"), N_("visitor of %(household)s")),
    (re.compile(r"^visitor$"), N_("visitor")),
)


@lru_cache(maxsize=4)
def catalog(lang: str) -> dict[str, str]:
    """msgid → translation from every catalog of ``lang``, merged as the web app merges them
    (name order, first translation wins)."""
    merged: dict[str, str] = {}
    folder = CATALOGS / lang / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle):
                if message.id and message.string and isinstance(message.id, str):
                    merged.setdefault(message.id, str(message.string))
    return merged


def translator(lang: str) -> Gettext:
    """gettext for ``lang`` outside a Flask request (command line, exports, demo)."""
    table = catalog(lang) if lang != "en" else {}
    return lambda msgid: table.get(msgid, msgid)


def locale_language(environ: Mapping[str, str] | None = None) -> Lang:
    """The command line's language from the POSIX locale (LC_ALL, LC_MESSAGES, LANG, as
    gettext reads them): ``zh_CN.UTF-8`` → zh, anything else → en."""
    env = os.environ if environ is None else environ
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "zh" if value.split(":")[0].lower().startswith("zh") else "en"
    return "en"


def parse_lang(value: str | None, default: Lang = "zh") -> Lang:
    """A ``lang=`` request argument: zh or en, anything else is ``default``."""
    return value if value in LANGUAGES else default


def local_time(value: datetime | str | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """A stored time in the site zone, ``YYYY-MM-DD HH:MM`` (``:SS`` with ``seconds``); ""
    for none; text that is not a time is returned as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        moment: datetime | None = value
    else:
        try:
            moment = parse_iso(str(value))
        except ValueError:
            return str(value)
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone).strftime(SECONDS if seconds else MINUTES)


def zone_label(zone: ZoneInfo, at: datetime, lang: str) -> str:
    """The site's time zone as its people name it, at ``at``: its CLDR name in the reader's
    language and its offset ("中国标准时间（UTC+8）", "China Standard Time (UTC+8)"),
    never the IANA id. Derived from the zone, so any site's zone reads right."""
    local = at.astimezone(zone)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{'-' if minutes < 0 else '+'}{hours}" + (f":{rest:02d}" if rest else "")
    try:
        name = get_timezone_name(local, locale="zh_CN" if lang == "zh" else "en")
    except (LookupError, ValueError):  # a zone CLDR does not name: the offset says it
        return utc
    return f"{name}（{utc}）" if lang == "zh" else f"{name} ({utc})"


def read_local_time(text: str, zone: ZoneInfo, end_of_day: bool = False) -> datetime:
    """A time a person typed: ISO date or date and time, read in the site zone unless it
    carries its own offset. A date alone is the start of that local day, or with
    ``end_of_day`` (an end of validity) its last second: "until 2026-12-03" includes the 3rd.
    Raises ValueError for anything else."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0), zone)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class Vocabulary:
    """The box's words in one language and zone: ``Vocabulary(gettext, zone)``; in a Flask
    request pass flask_babel's gettext, elsewhere ``for_language(lang, zone)``."""

    def __init__(self, gettext: Gettext, zone: ZoneInfo) -> None:
        self.gettext = gettext
        self.zone = zone

    @classmethod
    def for_language(cls, lang: str, zone: ZoneInfo) -> Vocabulary:
        return cls(translator(lang), zone)

    # -- single words ---------------------------------------------------------------------
    def word(self, table: Mapping[Any, str], code: Any) -> str:
        """The label of ``code`` in ``table``; the code itself when the table lacks it."""
        label = table.get(code) if isinstance(code, (str, bool)) else None
        return self.gettext(label) if label else ("" if code is None else str(code))

    def kind(self, code: str) -> str:
        return self.word(EVENT_KINDS, code)

    def decision(self, code: str) -> str:
        return self.word(DECISIONS, code)

    def reason_label(self, code: object) -> str:
        """The translated label of a reason code; "" for a code this version does not know."""
        label = REASONS.get(code) if isinstance(code, str) else None
        return self.gettext(label) if label else ""

    def time(self, value: datetime | str | None, seconds: bool = False) -> str:
        return local_time(value, self.zone, seconds)

    def gate_reply(self, code: object) -> str:
        """Why a gate did not do what was asked, from its reply's code; never the reply's
        own (English) text: an unknown code reads as "a reason this version does not know"."""
        label = GATE_REPLIES.get(code) if isinstance(code, str) else None
        return self.gettext(label or GATE_REPLY_UNKNOWN)

    def yes_no(self, value: object) -> str:
        return self.gettext(YES_NO[bool(value)])

    def who(self, label: object) -> str:
        """A people label ("resident 12 of household 3-1-402") in this language; a label
        of any other shape (a pass's note, a watch entry's name) is shown as written."""
        text = "" if label is None else str(label)
        for pattern, template in _WHO:
            found = pattern.match(text)
            if found:
                return self.gettext(template) % found.groupdict()
        return text

    def subject(self, text: object) -> str:
        """An event's subject ("visitors: visitor 5 of household 3-1-402", "operator:
        guard", "watch face 3") in this language."""
        if not text:
            return ""
        value = str(text)
        prefix, sep, rest = value.partition(": ")
        if sep and prefix in SUBJECT_PREFIXES:
            return f"{self.gettext(SUBJECT_PREFIXES[prefix])}: {self.who(rest)}"
        return self.who(value)

    def audit_action(self, code: object) -> str:
        """An audit log's action ("pin_clear" → "清除 PIN"); an unknown code as stored."""
        return self.word(AUDIT_ACTIONS, code)

    def party(self, text: object, usernames: Mapping[int, str] | None = None) -> str:
        """An audit log's actor or target ("user:3" → the account's name with its number
        when ``usernames`` knows it, else "账户 3"; "cli" → "命令行"); unknown as stored."""
        value = "" if text is None else str(text)
        kind, sep, rest = value.partition(":")
        if kind == "user" and usernames is not None and rest.isdigit():
            name = usernames.get(int(rest))
            return f"{name} (#{rest})" if name else f"#{rest}"
        if kind in AUDIT_PARTIES:
            label = self.gettext(AUDIT_PARTIES[kind])
            return f"{label} {rest}".strip() if sep else label
        return value

    def audit_details(self, raw: object) -> list[tuple[str, str, bool]]:
        """An audit row's details (stored JSON) as (label, value, diagnostic?) pairs: known
        keys labelled, times local, yes/no in words; a key this version does not know, a
        code-like value or text that is not JSON is shown as written (a diagnostic)."""
        try:
            data = json.loads(str(raw or "{}"))
        except ValueError:
            return [("", str(raw), True)]
        if not isinstance(data, dict):
            return [("", str(raw), True)]
        shown = []
        for key, value in data.items():
            label = AUDIT_DETAILS.get(key)
            if isinstance(value, bool):
                text, code = self.yes_no(value), False
            elif key == "role" and value in ROLES:
                text, code = self.word(ROLES, value), False
            elif key in AUDIT_TIME_DETAILS:
                text, code = self.time(value), False
            elif isinstance(value, (int, float)) or value is None:
                text, code = "" if value is None else str(value), False
            elif isinstance(value, str):
                text, code = value, bool(_CODE_LIKE.search(value))
            else:
                text, code = json.dumps(value, ensure_ascii=False), True
            shown.append((self.gettext(label) if label else key, text, code or label is None))
        return shown

    # -- reasons --------------------------------------------------------------------------
    def reason_text(self, reason: Mapping[str, Any]) -> str:
        """The specifics of one stored reason, from its code and parameters. A reason
        stored before parameters existed (or written by an older gate) shows its stored
        English message in English and its label in other languages."""
        code = str(reason.get("code") or "")
        params = reason.get("params")
        if isinstance(params, Mapping):
            try:
                text = self._render(code, params)
            except (KeyError, TypeError, ValueError):
                text = None
            if text is not None:
                return text
        if code in _TEMPLATES and "%(" not in _TEMPLATES[code]:
            return self.gettext(_TEMPLATES[code])
        if self.translates and self.reason_label(code):
            return self.reason_label(code)  # the stored message is English: the label says it
        return str(reason.get("message") or self.reason_label(code) or code)

    @property
    def translates(self) -> bool:
        """Whether this vocabulary reads in another language than the stored English."""
        return self.gettext(YES_NO[True]) != YES_NO[True]

    def reason(self, reason: Mapping[str, Any]) -> str:
        """Label and specifics in one line ("访客通行证已过期 · …"), for exports and the CLI."""
        label = self.reason_label(reason.get("code"))
        text = self.reason_text(reason)
        return f"{label} · {text}" if label and text and text != label else (label or text)

    def reasons(self, reasons: Iterable[Any]) -> str:
        return "; ".join(self.reason(r) for r in reasons if isinstance(r, Mapping))

    def _t(self, key: str, **values: Any) -> str:
        return self.gettext(_TEMPLATES[key]) % values

    def _number(self, value: Any, places: int = 2) -> str:
        return f"{float(value):.{places}f}"

    def _render(self, code: str, p: Mapping[str, Any]) -> str | None:
        """Text for ``code`` from ``p``; None when this code has no template."""
        kind, _sep, outcome = code.partition("_")
        if code in ("resident_vehicle", "visitor_pass_valid", "temporary_pass_valid"):
            return self._thing(p) + self._extras(p)
        if code in ("resident_face", "resident_pin", "resident_qr_pass") or (
            code in ("visitor_face", "visitor_pin", "visitor_qr_pass")
        ):
            who = self.who(p["who"])
            text = self._t(
                "credential_of", credential=self.word(CREDENTIALS, p["credential"]), who=who
            )
            return text + self._extras(p)
        if kind in VEHICLE_KINDS and outcome in ("revoked", "expired", "not_yet_valid"):
            return self._t(outcome, thing=self._thing(p), at=self.time(p.get("at")))
        if kind in VEHICLE_KINDS and outcome == "used_up":
            if "uses" not in p:
                return self._t("used_up_last")
            return self._t("used_up", thing=self._thing(p), uses=p["uses"], max_uses=p["max_uses"])
        if code == "plate_unread":
            return self._t(code, confidence=self._number(p["confidence"]))
        if code == "wrong_gate_kind":
            return self._t(code, gate=p["gate"], gate_kind=self.word(GATE_KINDS, p["gate_kind"]))
        if code in ("watchlisted", "watchlisted_face"):
            return self._t(code, plate=p.get("plate", ""), notes=self._notes(p["notes"]))
        if code == "pass_used_up":
            return self._t(code, uses=p["uses"]) if "uses" in p else self._t("pass_used_up_last")
        if code == "pass_valid":
            return self._t(code, left=p["left"])
        if code in ("unknown_face", "pin_rejected"):
            return self._t("not_identified", credential=self.word(CREDENTIALS, p["credential"]))
        if code == "resident_inactive":
            return self._t(code, who=self.who(p["who"]))
        if code == "group_not_allowed":
            return self._t(code, group=self.word(GROUPS, p["group"]), gate=p["gate"])
        if code in ("unknown_schedule", "holiday_closed"):
            return self._t(code, schedule=p["schedule"])
        if code == "outside_schedule":
            if "day" in p:
                return self._t("outside_day", schedule=p["schedule"], day=self.word(DAYS, p["day"]))
            return self._t("outside_window", schedule=p["schedule"], window=p["window"])
        if code == "manual_open":
            return self._t(code, operator=p["operator"], note=p["note"])
        if code in ("camera_fault", "camera_recovered"):
            return self._t(
                f"ir_{code}" if p.get("camera") == "infrared" else "camera_change",
                previous=self.word(CAMERA_STATES, p["previous"]),
                state=self.word(CAMERA_STATES, p["state"]),
            )
        if code in ("storage_fault", "storage_recovered"):
            return self._t(f"{code}_{p['operation']}")
        if code == "liveness_failed":
            if "score" not in p:
                return self._t("liveness_unjudged")
            score, threshold = self._number(p["score"]), self._number(p["threshold"])
            return self._t(code, score=score, threshold=threshold)
        if code == "liveness_pin_requested":
            return self._t(code, seconds=self._number(p["seconds"], 0))
        if code == "liveness_repeated":
            attempts, window = p["attempts"], self._number(p["window_s"], 0)
            if p.get("paused_s") is not None:
                paused = self._number(p["paused_s"], 0)
                return self._t(
                    "liveness_repeated_paused", attempts=attempts, window=window, paused=paused
                )
            return self._t(code, attempts=attempts, window=window)
        if code in _TEMPLATES:
            return self._t(code)
        return None

    def _thing(self, p: Mapping[str, Any]) -> str:
        template = _KIND_THING["pass" if p.get("object") == "pass" else "vehicle"]
        return self.gettext(template) % {
            "kind": self.word(VEHICLE_KINDS, p.get("kind", "visitor")),
            "who": self.who(p.get("who", "")),
        }

    def _extras(self, p: Mapping[str, Any]) -> str:
        parts = []
        if p.get("score") is not None:
            parts.append(self.gettext(_FRAGMENTS["score"]) % {"score": self._number(p["score"])})
        if p.get("valid_to"):
            parts.append(
                self.gettext(_FRAGMENTS["valid_to"]) % {"valid_to": self.time(p["valid_to"])}
            )
        if p.get("same_visit_at"):
            at = self.time(p["same_visit_at"], seconds=True)
            parts.append(self.gettext(_FRAGMENTS["same_visit_at"]) % {"same_visit_at": at})
        elif p.get("use") is not None:
            parts.append(
                self.gettext(_FRAGMENTS["use"]) % {"use": p["use"], "max_uses": p["max_uses"]}
            )
        return "".join(parts)

    def _notes(self, notes: Iterable[Mapping[str, Any]]) -> str:
        shown = []
        for note in notes:
            source = self.word(WATCH_SOURCES, note.get("source"))
            text = "; ".join(str(note[k]) for k in ("label", "reason") if note.get(k))
            shown.append(f"{source}: {text}" if text else source)
        return "; ".join(shown)

    # -- event details --------------------------------------------------------------------
    def detail(self, key: str, value: Any) -> tuple[str, str]:
        """(label, value) of one event detail, both for reading."""
        label = self.gettext(DETAILS[key]) if key in DETAILS else key
        if key in TIME_DETAILS:
            return label, self.time(value, seconds=True)
        if key == "colour":
            return label, self.word(PLATE_COLOURS, value)
        if key == "body_colour":
            return label, self.word(BODY_COLOURS, value)
        if key in BOX_DETAILS and _is_box(value):
            x1, y1, x2, y2 = value
            return label, f"x {x1}–{x2}, y {y1}–{y2}"
        if isinstance(value, bool):
            return label, self.yes_no(value)
        if isinstance(value, (list, tuple)):
            return label, ", ".join(str(v) for v in value)
        if value is None:
            return label, ""
        return label, str(value)

    def details(self, details: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
        """Every detail as (label, value, diagnostic?): the ones for the guard first, then
        the diagnostics, each in key order. A diagnostic is a device's or the system's own
        message, pixel positions, or a key this version has no words for (written by a
        newer gate): shown as it came, marked for support, never as a guard's words."""
        shown = [
            (*self.detail(key, details[key]), key in DIAGNOSTIC_DETAILS or key not in DETAILS)
            for key in sorted(details)
            if details[key] is not None
        ]
        return sorted(shown, key=lambda item: item[2])  # stable: key order within each


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def msgids() -> set[str]:
    """Every msgid this module can show (a test keeps each translated in the zh catalogs)."""
    tables: list[Mapping[Any, str]] = [
        EVENT_KINDS, DECISIONS, REASONS, DETAILS, PLATE_COLOURS, BODY_COLOURS, VEHICLE_KINDS,
        CREDENTIALS,
        GATE_KINDS, CAMERA_STATES, DAYS, WATCH_SOURCES, GROUPS, SUBJECT_PREFIXES, ROLES,
        STATUSES, SEXES, YES_NO, _KIND_THING, _FRAGMENTS, _TEMPLATES, AUDIT_ACTIONS, AUDIT_PARTIES,
        GATE_REPLIES,
        AUDIT_DETAILS,
    ]  # fmt: skip
    found = {label for table in tables for label in table.values()} | {GATE_REPLY_UNKNOWN}
    return found | {template for _pattern, template in _WHO}
