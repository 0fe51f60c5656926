"""Access policy for people at a pedestrian gate: pure (sighting, gate, time, facts) → decision.

Kept apart from the vehicle policy because people pass by face, PIN or QR pass and are
bound by schedules; the shapes (Reason, Decision with reasons) are the same so events read
alike. Rules, in order:
1. at a vehicle gate a person credential never opens;
2. the credential must have identified someone: an unknown face / wrong PIN / unknown QR
   pass is denied (a face only reaches here after threshold, margin and frame agreement);
3. the person must be active (resident) or the pass valid now, not revoked, uses left;
   a visitor with a face pass (a residents row of kind 'visitor', see edge.people.visitors) is
   bound by its window and uses like a QR pass;
4. the person's group must be allowed at this gate, under the schedule the gate names for
   it: weekdays, a local-time window, and on listed holidays "open" or "closed".
Face is never the only way in: PIN and QR pass go through the same rules.

Uses of a visitor's face pass are spent by the caller when the door opens
(``Decision.spend_use``), one per passage: frame agreement already makes one person
at the door one passage per ``dedupe_s``, and a visitor who spent a use at this gate less
than ``same_visit_s`` ago (still standing in view, turned back for a forgotten bag) opens
again without spending another. A face is passive — the camera sees it whether or not the
visitor means to pass — so lingering must not cost uses. A QR pass is shown on purpose and
spends a use every time it opens the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from edge.policy.vehicle import Reason

Credential = Literal["face", "pin", "qr_pass"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Sighting:
    credential: Credential
    resident_id: int | None = None  # face or PIN: who it identified (None: nobody)
    pass_id: int | None = None  # QR: which pass the token belongs to (None: unknown token)
    score: float | None = None


@dataclass(frozen=True)
class VisitFact:
    """The terms of a visitor's face pass (a residents row of kind 'visitor')."""

    valid_from: datetime | None
    valid_to: datetime | None
    uses: int = 0
    max_uses: int | None = None  # None: unlimited within the window
    last_use_at: datetime | None = None  # last use spent at this gate, if recent


@dataclass(frozen=True)
class ResidentFact:
    id: int
    active: bool
    group: str
    label: str  # e.g. "resident 12 of household 3-1-402": no name
    visit: VisitFact | None = None  # set for a visitor: the pass's window and uses


@dataclass(frozen=True)
class PassFact:
    id: int
    group: str
    label: str
    valid_from: datetime
    valid_to: datetime
    uses: int
    max_uses: int
    revoked: bool


@dataclass(frozen=True)
class Schedule:
    days: tuple[str, ...] = DAYS
    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    holidays: Literal["open", "closed"] = "open"


ALWAYS = Schedule()


@dataclass(frozen=True)
class GateFacts:
    id: str
    kind: Literal["vehicle", "pedestrian"]
    access: tuple[tuple[str, str], ...]  # (group, schedule name)


@dataclass(frozen=True)
class Facts:
    resident: ResidentFact | None = None
    qr_pass: PassFact | None = None
    schedules: tuple[tuple[str, Schedule], ...] = ()
    holidays: frozenset[date] = frozenset()
    zone: str = "Asia/Shanghai"
    same_visit_s: float = 120.0


@dataclass(frozen=True)
class Decision:
    action: Literal["open", "deny"]
    reasons: tuple[Reason, ...]
    subject: str | None = None
    spend_use: bool = False  # open only if one use of the visitor's face pass can be spent


def _deny(
    code: str, message: str, subject: str | None = None, params: dict[str, Any] | None = None
) -> Decision:
    return Decision("deny", (Reason(code, message, params or {}),), subject)


def _schedule_refusal(group: str, gate: GateFacts, now: datetime, facts: Facts) -> Reason | None:
    names = dict(gate.access)
    if group not in names:
        return Reason(
            "group_not_allowed",
            f"group {group} may not use gate {gate.id}",
            {"group": group, "gate": gate.id},
        )
    name = names[group]
    schedule = ALWAYS if name == "always" else dict(facts.schedules).get(name)
    if schedule is None:
        return Reason(
            "unknown_schedule",
            f"schedule {name} is not defined: nobody passes",
            {"schedule": name},
        )
    local = now.astimezone(ZoneInfo(facts.zone))
    if local.date() in facts.holidays and schedule.holidays == "closed":
        return Reason(
            "holiday_closed", f"schedule {name} is closed on holidays", {"schedule": name}
        )
    if DAYS[local.weekday()] not in schedule.days:
        day = DAYS[local.weekday()]
        return Reason(
            "outside_schedule",
            f"schedule {name} does not include {day}",
            {"schedule": name, "day": day},
        )
    if not schedule.start <= local.time() <= schedule.end:
        window = f"{schedule.start:%H:%M}-{schedule.end:%H:%M}"
        return Reason(
            "outside_schedule",
            f"schedule {name} allows {window} local time only",
            {"schedule": name, "window": window},
        )
    return None


def decide_person(sighting: Sighting, gate: GateFacts, now: datetime, facts: Facts) -> Decision:
    """Decide whether the door releases for one identified credential; see module rules."""
    if now.tzinfo is None:
        raise ValueError("policy needs a timezone-aware time")
    if gate.kind != "pedestrian":
        return _deny(
            "wrong_gate_kind",
            f"gate {gate.id} is not a pedestrian gate",
            params={"gate": gate.id, "gate_kind": "pedestrian"},
        )
    how = {"face": "face", "pin": "PIN", "qr_pass": "QR pass"}[sighting.credential]
    if sighting.credential == "qr_pass":
        qr = facts.qr_pass
        if sighting.pass_id is None or qr is None or qr.id != sighting.pass_id:
            return _deny("unknown_pass", "QR pass not recognised")
        subject = f"pass: {qr.label}"
        if qr.revoked:
            return _deny("pass_revoked", "QR pass was revoked", subject)
        if now < qr.valid_from:
            return _deny("pass_not_yet_valid", "QR pass is not valid yet", subject)
        if now >= qr.valid_to:
            return _deny("pass_expired", "QR pass has expired", subject)
        if qr.uses >= qr.max_uses:
            message = f"QR pass already used {qr.uses} time(s)"
            return _deny("pass_used_up", message, subject, {"uses": qr.uses})
        refusal = _schedule_refusal(qr.group, gate, now, facts)
        if refusal:
            return Decision("deny", (refusal,), subject)
        left = qr.max_uses - qr.uses - 1
        reason = Reason("pass_valid", f"valid QR pass, {left} use(s) left", {"left": left})
        return Decision("open", (reason,), subject)
    resident = facts.resident
    if sighting.resident_id is None or resident is None or resident.id != sighting.resident_id:
        code = "unknown_face" if sighting.credential == "face" else "pin_rejected"
        return _deny(
            code,
            f"{how} did not identify an enrolled resident",
            params={"credential": sighting.credential},
        )
    subject = f"{resident.group}: {resident.label}"
    if resident.visit is not None:
        return _decide_visitor(sighting, resident, resident.visit, gate, now, facts, subject)
    if not resident.active:
        return _deny(
            "resident_inactive",
            f"{resident.label} is not active",
            subject,
            {"who": resident.label},
        )
    refusal = _schedule_refusal(resident.group, gate, now, facts)
    if refusal:
        return Decision("deny", (refusal,), subject)
    score = f" (score {sighting.score:.2f})" if sighting.score is not None else ""
    params = _credential_params(sighting, resident.label)
    message = f"{how} of {resident.label}{score}"
    return Decision("open", (Reason(f"resident_{sighting.credential}", message, params),), subject)


def _credential_params(sighting: Sighting, label: str) -> dict[str, Any]:
    params: dict[str, Any] = {"credential": sighting.credential, "who": label}
    if sighting.score is not None:
        params["score"] = round(sighting.score, 4)
    return params


def _stamp(moment: datetime) -> str:
    """UTC time for the English message; people read the parameters (edge.vocabulary)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _decide_visitor(
    sighting: Sighting,
    person: ResidentFact,
    visit: VisitFact,
    gate: GateFacts,
    now: datetime,
    facts: Facts,
    subject: str,
) -> Decision:
    """A visitor's face (or PIN): revoked / not yet valid / expired / used up, then schedule."""
    who: dict[str, Any] = {"kind": "visitor", "object": "pass", "who": person.label}
    if not person.active:
        message = f"visitor pass of {person.label} was revoked"
        return _deny("visitor_revoked", message, subject, who)
    if visit.valid_from is not None and now < visit.valid_from:
        return _deny(
            "visitor_not_yet_valid",
            f"visitor pass of {person.label} is valid only from {_stamp(visit.valid_from)}",
            subject,
            {**who, "at": _iso(visit.valid_from)},
        )
    if visit.valid_to is not None and now >= visit.valid_to:
        return _deny(
            "visitor_expired",
            f"visitor pass of {person.label} expired at {_stamp(visit.valid_to)}",
            subject,
            {**who, "at": _iso(visit.valid_to)},
        )
    last = visit.last_use_at
    same_visit = last is not None and timedelta(0) <= now - last < timedelta(
        seconds=facts.same_visit_s
    )
    counted = visit.max_uses is not None
    if visit.max_uses is not None and not same_visit and visit.uses >= visit.max_uses:
        return _deny(
            "visitor_used_up",
            f"visitor pass used up: {person.label} used {visit.uses} of {visit.max_uses} time(s)",
            subject,
            {**who, "uses": visit.uses, "max_uses": visit.max_uses},
        )
    refusal = _schedule_refusal(person.group, gate, now, facts)
    if refusal:
        return Decision("deny", (refusal,), subject)
    how = {"face": "face", "pin": "PIN", "qr_pass": "QR pass"}[sighting.credential]
    score = f" (score {sighting.score:.2f})" if sighting.score is not None else ""
    params = _credential_params(sighting, person.label)
    if same_visit and last is not None:
        note = f"; same visit as its use at {_stamp(last)}, no use spent"
        params["same_visit_at"] = _iso(last)
    elif counted:
        note = f"; use {visit.uses + 1} of {visit.max_uses}"
        params.update(use=visit.uses + 1, max_uses=visit.max_uses)
    else:
        note = ""
    message = f"{how} of {person.label}{score}{note}"
    reason = Reason(f"visitor_{sighting.credential}", message, params)
    return Decision("open", (reason,), subject, spend_use=counted and not same_visit)
