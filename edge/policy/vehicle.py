"""Access policy: a pure function of (sighting, gate, time, facts) → decision with reasons.

Pure so that every decision can be replayed and explained from the event log, and tested
exhaustively without a database or a camera. The caller gathers the facts (vehicles and
watchlist rows for the plate read); this module never does I/O.

Rules, in the order they are considered:
1. an unreadable plate or a plate sighting at a pedestrian gate never opens;
2. a watchlisted plate raises an alert *whatever* the decision (the decision itself is
   made by the rules below, so a watchlisted resident is still let in and the police are told);
3. a resident vehicle within its validity opens;
4. a visitor or temporary vehicle with a pass valid now opens — unless the pass was
   revoked, or its uses are counted (``max_uses``) and spent;
5. an unknown plate one confusable character away from a vehicle that would open now
   (``Facts.near``, see edge.plates.near_miss) is denied as a *near miss* and the guard is
   asked (``Decision.candidates``) — never opened by itself, not even where unknown
   vehicles are let in for registration (it is probably a resident misread, and the
   guard's confirmation is what records the right plate);
6. an unknown plate is denied and recorded, or — if configured — opened as a temporary
   vehicle to be registered.
A known vehicle outside its validity is denied with the reason (expired / not yet valid).

How uses of a counted pass are spent (the caller spends them, atomically, only when the
barrier is about to open, see ``Decision.spend_use``): one per *passage*. The plate voter
already turns one car's many frames into one passage and suppresses the same plate for
its dedupe window; on top of that a pass that spent a use at this gate less than
``same_visit_s`` ago opens again without spending another (the car was hidden behind a
pedestrian and re-appeared after the dedupe window, the gate process restarted while it
stood there). So a car standing or reversing at the barrier never costs the visitor a use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Action = Literal["open", "deny"]
VehicleKind = Literal["resident", "visitor", "temporary"]
UnknownVehicleRule = Literal["deny", "open_for_registration"]


@dataclass(frozen=True)
class Sighting:
    plate: str  # normalised plate text; "" when nothing readable
    confidence: float
    readable: bool  # passes the plate grammar and the confidence floor


@dataclass(frozen=True)
class GateFacts:
    id: str
    kind: Literal["vehicle", "pedestrian"]


@dataclass(frozen=True)
class VehicleFact:
    id: int
    plate: str
    kind: VehicleKind
    valid_from: datetime | None
    valid_to: datetime | None
    label: str  # who it belongs to, without personal data: e.g. "household 3-1-402"
    max_uses: int | None = None  # a counted visitor pass; None = unlimited within the window
    uses: int = 0
    revoked: bool = False
    last_use_at: datetime | None = None  # last use this pass spent at this gate, if recent
    household: str = ""  # the household's own label ("3-1-402"), for the guard's screen


@dataclass(frozen=True)
class WatchFact:
    id: int
    plate: str
    reason: str
    source: str
    expires_at: datetime | None
    starts_at: datetime | None = None  # a 布控 that begins later: no alert before it


@dataclass(frozen=True)
class Facts:
    """`near`: vehicles whose plate the read misses by one confusable character."""

    vehicles: tuple[VehicleFact, ...] = ()
    watchlist: tuple[WatchFact, ...] = ()
    near: tuple[VehicleFact, ...] = ()


@dataclass(frozen=True)
class PolicySettings:
    unknown_vehicle: UnknownVehicleRule = "deny"
    same_visit_s: float = 120.0  # a counted pass re-opening this soon spends no second use


@dataclass(frozen=True)
class Reason:
    """Why: a code, its parameters (what edge.vocabulary renders in the reader's language;
    times as UTC ISO text) and the English message the district platform receives."""

    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.params:
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Alert:
    code: str
    message: str
    watch_ids: tuple[int, ...]
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_reason(self) -> Reason:
        return Reason(self.code, self.message, self.params)


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[Reason, ...]
    vehicle: VehicleFact | None = None
    alerts: tuple[Alert, ...] = field(default=())
    spend_use: bool = False  # open only if one use of ``vehicle``'s pass can be spent
    candidates: tuple[VehicleFact, ...] = ()  # a near miss: what the guard is asked about

    def used_up(self, refusal: dict[str, Any] | None = None) -> Decision:
        """The same passage denied because another gate spent the pass's last use first,
        or (``refusal``) because the use could not be counted (a gate box cut off from
        its hub)."""
        kind = self.vehicle.kind if self.vehicle else "visitor"
        reason = Reason(
            f"{kind}_used_up",
            "visitor pass used up (its last use was just spent)",
            {"kind": kind, "object": "pass"},
        )
        if refusal is not None:
            reason = Reason(refusal["code"], refusal["message"], refusal.get("params") or {})
        alerts = tuple(a.as_reason() for a in self.alerts)
        return Decision("deny", (reason, *alerts), self.vehicle, self.alerts)

    @property
    def subject(self) -> str | None:
        return f"{self.vehicle.kind}: {self.vehicle.label}" if self.vehicle else None


def _valid_at(fact: VehicleFact, now: datetime) -> str | None:
    """None when valid at ``now``, else why not ("expired" / "not_yet_valid")."""
    if fact.valid_from is not None and now < fact.valid_from:
        return "not_yet_valid"
    if fact.valid_to is not None and now >= fact.valid_to:
        return "expired"
    return None


def _watch_alerts(plate: str, now: datetime, watchlist: tuple[WatchFact, ...]) -> tuple[Alert, ...]:
    hits = [
        w
        for w in watchlist
        if w.plate == plate
        and (w.starts_at is None or w.starts_at <= now)
        and (w.expires_at is None or now < w.expires_at)
    ]
    if not hits:
        return ()
    notes = "; ".join(f"{w.source}: {w.reason}" if w.reason else w.source for w in hits)
    params = {"plate": plate, "notes": [{"source": w.source, "reason": w.reason} for w in hits]}
    return (
        Alert(
            "watchlisted",
            f"plate {plate} is on the watchlist ({notes})",
            tuple(w.id for w in hits),
            params,
        ),
    )


def _stamp(moment: datetime) -> str:
    """Compact UTC time for the English message (the district platform's; people read the
    parameters, rendered in the site zone by edge.vocabulary)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: datetime) -> str:
    """A time parameter: UTC ISO text (edge.db.iso's form; policy stays free of storage)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


_KIND_ORDER = {"resident": 0, "visitor": 1, "temporary": 2}


def _counted_use(
    vehicle: VehicleFact, now: datetime, settings: PolicySettings
) -> tuple[bool, str, dict[str, Any]] | None:
    """For a vehicle valid now: (spend a use?, note for the reason, its parameters), or None
    when used up.

    Uncounted vehicles (residents, passes without ``max_uses``) spend nothing. A counted
    pass that spent a use at this gate within ``same_visit_s`` is the same visit: it opens
    and spends nothing, even when that was its last use.
    """
    if vehicle.max_uses is None:
        return False, "", {}
    last = vehicle.last_use_at
    if last is not None and timedelta(0) <= now - last < timedelta(seconds=settings.same_visit_s):
        note = f"; same visit as its use at {_stamp(last)}, no use spent"
        return False, note, {"same_visit_at": _iso(last)}
    if vehicle.uses >= vehicle.max_uses:
        return None
    note = f"; use {vehicle.uses + 1} of {vehicle.max_uses}"
    return True, note, {"use": vehicle.uses + 1, "max_uses": vehicle.max_uses}


def _near_candidates(
    near: tuple[VehicleFact, ...], plate: str, now: datetime, settings: PolicySettings
) -> tuple[VehicleFact, ...]:
    """The near-miss vehicles that would open now (not revoked, valid, a use left),
    residents first; one per plate."""
    out: dict[str, VehicleFact] = {}
    for vehicle in sorted(near, key=lambda v: (_KIND_ORDER[v.kind], v.id)):
        if vehicle.plate == plate or vehicle.revoked or vehicle.plate in out:
            continue
        if _valid_at(vehicle, now) is None and _counted_use(vehicle, now, settings) is not None:
            out[vehicle.plate] = vehicle
    return tuple(out.values())


def decide_vehicle(
    sighting: Sighting,
    gate: GateFacts,
    now: datetime,
    facts: Facts,
    settings: PolicySettings = PolicySettings(),
) -> Decision:
    """Decide what the barrier does for one passage; see the module docstring for the rules."""
    if now.tzinfo is None:
        raise ValueError("policy needs a timezone-aware time")
    if gate.kind != "vehicle":
        return Decision(
            "deny",
            (
                Reason(
                    "wrong_gate_kind",
                    f"gate {gate.id} is not a vehicle gate",
                    {"gate": gate.id, "gate_kind": "vehicle"},
                ),
            ),
        )
    if not sighting.readable or not sighting.plate:
        return Decision(
            "deny",
            (
                Reason(
                    "plate_unread",
                    f"plate not read reliably (confidence {sighting.confidence:.2f})",
                    {"confidence": round(sighting.confidence, 4)},
                ),
            ),
        )

    alerts = _watch_alerts(sighting.plate, now, facts.watchlist)
    alert_reasons = tuple(a.as_reason() for a in alerts)
    mine = sorted(
        (v for v in facts.vehicles if v.plate == sighting.plate),
        key=lambda v: (_KIND_ORDER[v.kind], v.revoked, v.id),
    )

    refusals: list[Reason] = []
    for vehicle in mine:
        who = {"kind": vehicle.kind, "who": vehicle.label, "object": "vehicle"}
        if vehicle.revoked:
            refusals.append(
                Reason(
                    f"{vehicle.kind}_revoked",
                    f"{vehicle.kind} pass of {vehicle.label} was revoked",
                    {**who, "object": "pass"},
                )
            )
            continue
        why_not = _valid_at(vehicle, now)
        if why_not is None:
            counted = _counted_use(vehicle, now, settings)
            if counted is None:
                refusals.append(
                    Reason(
                        f"{vehicle.kind}_used_up",
                        f"visitor pass used up: {vehicle.kind} vehicle of {vehicle.label}"
                        f" used {vehicle.uses} of {vehicle.max_uses} time(s)",
                        {
                            **who,
                            "object": "pass",
                            "uses": vehicle.uses,
                            "max_uses": vehicle.max_uses,
                        },
                    )
                )
                continue
            spend, note, extra = counted
            code = (
                "resident_vehicle" if vehicle.kind == "resident" else f"{vehicle.kind}_pass_valid"
            )
            until = f", valid until {_stamp(vehicle.valid_to)}" if vehicle.valid_to else ""
            params = {**who, **extra}
            if vehicle.valid_to:
                params["valid_to"] = _iso(vehicle.valid_to)
            message = f"{vehicle.kind} vehicle of {vehicle.label}{until}{note}"
            reason = Reason(code, message, params)
            return Decision("open", (reason, *alert_reasons), vehicle, alerts, spend)
        when = vehicle.valid_to if why_not == "expired" else vehicle.valid_from
        word = "expired at" if why_not == "expired" else "valid only from"
        stamp = _stamp(when) if when else "?"
        refusals.append(
            Reason(
                f"{vehicle.kind}_{why_not}",
                f"{vehicle.kind} vehicle of {vehicle.label}: {word} {stamp}",
                {**who, "at": _iso(when) if when else None},
            )
        )
    if refusals:
        return Decision("deny", (*refusals, *alert_reasons), mine[0], alerts)

    candidates = _near_candidates(facts.near, sighting.plate, now, settings)
    if candidates:
        names = ", ".join(f"{v.plate} ({v.kind} vehicle of {v.label})" for v in candidates)
        message = f"read {sighting.plate}, possibly {names}: a guard must confirm"
        reason = Reason("near_miss", message)
        return Decision("deny", (reason, *alert_reasons), None, alerts, candidates=candidates)

    if settings.unknown_vehicle == "open_for_registration":
        reason = Reason(
            "unknown_open_for_registration",
            "unknown vehicle let in as temporary; register it at the gate",
        )
        return Decision("open", (reason, *alert_reasons), None, alerts)
    return Decision(
        "deny", (Reason("unknown_vehicle", "plate not registered"), *alert_reasons), None, alerts
    )
