"""Spending a counted pass's use: here on the box, or (on a gate box) at the community hub.

A gate loop asks its ``UseCounter`` for one use when the gate is about to open for a pass
with a limited number of uses (a QR pass, a visitor's face pass, a visitor's plate). On a
single box or a hub the counter is :class:`LocalUses`: one guarded UPDATE, so two gates of
the box cannot both spend the last use. A gate box counts at the hub instead
(sync.community.uses), so two boxes cannot either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import sqlite_utils

from edge.people.passes import consume_use
from edge.people.vehicles import consume_vehicle_use
from edge.people.visitors import consume_visitor_use

PassKind = Literal["qr", "visitor", "vehicle"]


@dataclass(frozen=True)
class Use:
    """The outcome of one spend: ``number`` is the use's number when it was spent (a QR
    pass reports 0: its loop needs only yes or no). ``refusal`` is the reason when it was
    not spent for a cause other than "used up" (the hub could not be asked). ``offline``:
    spent on this box while the hub was unreachable; the hub counts it when the event
    arrives (``details.counted_offline``)."""

    number: int | None
    refusal: dict[str, str] | None = None
    offline: bool = False

    @property
    def spent(self) -> bool:
        return self.number is not None

    def details(self, kind: PassKind, item_id: int) -> dict[str, Any]:
        """What the event records about an offline use, for the hub to reconcile."""
        return {"counted_offline": {"kind": kind, "id": item_id}} if self.offline else {}


class UseCounter(Protocol):
    def spend(
        self, db: sqlite_utils.Database, kind: PassKind, item_id: int, now: datetime
    ) -> Use: ...


def spend_locally(db: sqlite_utils.Database, kind: PassKind, item_id: int, now: datetime) -> Use:
    """One guarded UPDATE on this box's database (raises its storage faults)."""
    if kind == "qr":
        return Use(0 if consume_use(db, item_id, now) else None)
    spend = consume_visitor_use if kind == "visitor" else consume_vehicle_use
    return Use(spend(db, item_id, now))


class LocalUses:
    """Uses counted in this box's database: a single box, or the hub itself."""

    def spend(self, db: sqlite_utils.Database, kind: PassKind, item_id: int, now: datetime) -> Use:
        return spend_locally(db, kind, item_id, now)
