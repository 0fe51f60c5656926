"""A gate box's counted-pass uses: spent at the hub, with the community's offline rule.

Why at the hub: a one-use QR pass shown at two doors on two boxes at once must open one of
them, and only the hub sees both. The hub answers within ``spend_timeout_s`` on a LAN (one
guarded UPDATE); the gate's decision waits for it because an opened door cannot be undone.

When the hub cannot be asked in time, ``counted_offline`` decides:

- ``deny`` (default): the pass is refused with ``hub_unreachable``. A resident's face, plate
  and PIN still open (they are not counted); a visitor calls the guard or the host. The
  safe choice for one-use passes: a pass copied to two phones cannot let two people in
  during an outage.
- ``allow``: the use is spent on this box's copy (so this box alone still stops a pass at
  its limit) and the event carries ``counted_offline``; the hub spends it when the event
  arrives and records a ``pass_reconciled`` event (``pass_overused`` when two disconnected
  boxes let the same pass in past its limit).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

import sqlite_utils

from edge.people.uses import PassKind, Use, spend_locally
from sync.community.link import HubClient
from sync.transport import TransportError

log = logging.getLogger(__name__)

HUB_UNREACHABLE = {
    "code": "hub_unreachable",
    "message": "the community hub cannot be reached to count this pass's use",
}


class HubUses:
    """The ``UseCounter`` of a gate box (edge.people.uses)."""

    def __init__(
        self,
        hub_url: str,
        box_id: str,
        key: bytes,
        offline: str,
        timeout_s: float,
        ca_file: Path | None = None,
    ) -> None:
        self.client = HubClient(hub_url, box_id, key, ca_file, timeout_s, timeout_s)
        self.offline = offline
        self.lock = threading.Lock()  # one session: one request at a time

    def spend(self, db: sqlite_utils.Database, kind: PassKind, item_id: int, now: datetime) -> Use:
        try:
            with self.lock:
                reply = self.client.request(
                    "POST", "/community/v1/spend", {"kind": kind, "id": item_id}
                )
            spent, number = reply.get("spent"), reply.get("use")
            if spent is not True:
                return Use(None)
            return Use(number if isinstance(number, int) else 0)
        except (TransportError, AttributeError) as exc:
            log.warning("pass use not counted at the hub (%s): %s", self.offline, exc)
        if self.offline == "allow":
            local = spend_locally(db, kind, item_id, now)
            return Use(local.number, offline=True) if local.spent else local
        return Use(None, refusal=HUB_UNREACHABLE)

    def close(self) -> None:
        self.client.close()
