"""What every protocol adapter offers the uplink worker, and the errors it may raise.

The worker knows nothing about JSON or GA/T 1400: it hands an adapter a batch of outbox rows
and gets back, per row, "acknowledged" or "refused with this reason". Three kinds of failure
drive three different reactions, which is why they are separate types:

- :class:`~sync.transport.TransportError` (and :class:`PlatformUnavailableError`): nothing
  is known about the batch — keep every row pending, back off, resend the same keys;
- :class:`BatchRejectedError`: the platform says the batch is invalid without naming the
  row — split it to isolate the bad row;
- a per-row refusal in the result: dead-letter that row only.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.errors import MenweiError
from edge.store.outbox import OutboxRow
from sync.transport import TransportError

log = logging.getLogger(__name__)

#: per row key: None = acknowledged (accepted or already held), str = refused with reason
BatchResult = dict[str, str | None]


class PlatformUnavailableError(TransportError):
    """The platform answered but cannot take the batch now (5xx, 429, auth, garbage)."""


class BatchRejectedError(MenweiError):
    """The platform refused the whole batch as invalid; ``reason`` is its message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class BatchTooLargeError(MenweiError):
    """The batch is larger than the platform takes (our own budget, or its HTTP 413): sent in
    smaller parts; one row alone too large is dead-lettered with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class Uplink(Protocol):
    def send(self, rows: list[OutboxRow]) -> BatchResult: ...

    def tick(self) -> None:
        """Periodic housekeeping (GA/T 1400 keepalive); may raise TransportError."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Snapshot:
    """A snapshot ready to travel inline, or the reason it does not."""

    data_b64: str | None
    omitted: str | None  # None, "too_large", "missing", "disabled"
    size: int


def load_snapshot(
    snapshot_dir: Path | None, relative: str | None, max_bytes: int
) -> Snapshot | None:
    """Read an event's JPEG for inline upload, bounded by ``max_bytes``.

    Why inline: the platform never has to reach into the box (boxes sit behind NAT on
    community networks), and an event and its picture are acknowledged together. A file
    above the bound travels as a note, not a truncated image; a file retention already
    removed is reported as missing. Neither blocks the event.
    """
    if not relative:
        return None
    if snapshot_dir is None or max_bytes == 0:
        return Snapshot(None, "disabled", 0)
    path = (snapshot_dir / relative).resolve()
    if not path.is_relative_to(snapshot_dir.resolve()):
        return Snapshot(None, "missing", 0)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Snapshot(None, "too_large", size)
        data = path.read_bytes()
    except OSError:
        return Snapshot(None, "missing", 0)
    return Snapshot(base64.b64encode(data).decode("ascii"), None, len(data))
