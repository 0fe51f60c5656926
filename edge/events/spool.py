"""The gate's durable spool: decisions the database could not take, in a file of their own.

When the store refuses a write (disk full, read-only, I/O error, damaged pages), the gate
still decides and opens; the event it could not store is appended here as one JSON line
and fsynced before the writer moves on, so a stop, a SIGKILL or a watchdog restart during
the fault loses nothing the spool accepted. On start and on recovery the lines are
replayed into events + outbox; each carries the ids made when the gate decided and
``record_event`` skips an id already stored, so a replay interrupted at any instant
writes each event exactly once.

Why a separate, pre-allocated file: the database cannot hold what it is refusing. The file
lives in ``[storage] spool_dir`` and is pre-allocated (``spool_reserve_mb``, zeros) while
the disk has room, so on a *full* disk on the same file system the spool writes into
blocks it already owns. A *read-only* data disk refuses every write, reserved or not: for
that fault ``spool_dir`` must be on another file system (a small partition of its own, or
``/run`` — tmpfs survives a stop, SIGKILL and restart but not a power cut). When the spool
itself refuses a write, the event is still kept in memory (lost on stop), and health says
so (``spool_error``).

Format: one JSON object per line; the pre-allocated tail is zero bytes. The last line
torn by a SIGKILL or power cut mid-write (no newline) had not been accepted: the next
append overwrites it. Damage *inside* the written part (a worn card's zeroed or garbled
block) loses only the lines it hit: the lines after it are still read, the next append
goes after the last of them, and the file is copied aside (``<spool>.damaged-<time>``)
before anything could empty it, so nothing it held is thrown away unseen.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.events.record import NewEvent
from edge.files import fsync_dir, write_durably
from edge.store.integrity import stamp
from edge.store.prompts import NewPrompt

log = logging.getLogger(__name__)
MiB = 1024 * 1024


@dataclass(frozen=True)
class SpooledEvent:
    """An event (and the events linked to it) with the ids made when the gate decided."""

    event: NewEvent
    linked: tuple[NewEvent, ...]
    event_id: str
    linked_ids: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, tuple[str, ...]]:
        return self.event_id, self.linked_ids

    def to_line(self) -> bytes:
        record = {
            "id": self.event_id,
            "event": _event_dict(self.event),
            "linked": [_event_dict(e) for e in self.linked],
            "linked_ids": list(self.linked_ids),
        }
        return json.dumps(record, ensure_ascii=False, default=str).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> SpooledEvent:
        """Raises ValueError (or KeyError/TypeError) on a line that is not a spooled event."""
        record = json.loads(line)
        return cls(
            _event_of(record["event"]),
            tuple(_event_of(e) for e in record["linked"]),
            str(record["id"]),
            tuple(str(i) for i in record["linked_ids"]),
        )


def _event_dict(event: NewEvent) -> dict[str, Any]:
    data = asdict(event)
    data["occurred_at"] = event.occurred_at.isoformat()
    if event.prompt is not None:  # the guard's question travels whole, its JPEG as base64
        crop = event.prompt.crop
        data["prompt"]["crop"] = base64.b64encode(crop).decode() if crop is not None else None
    return data


def _prompt_of(data: dict[str, Any] | None) -> NewPrompt | None:
    if data is None:
        return None
    crop = data.get("crop")
    return NewPrompt(
        kind=data["kind"],
        read_plate=str(data.get("read_plate") or ""),
        candidates=tuple(dict(c) for c in data.get("candidates") or ()),
        crop=base64.b64decode(crop, validate=True) if crop is not None else None,
    )


def _event_of(data: dict[str, Any]) -> NewEvent:
    moment = datetime.fromisoformat(data["occurred_at"])
    if moment.tzinfo is None:
        raise ValueError("spooled event without a time zone")
    return NewEvent(
        **{
            **data,
            "occurred_at": moment,
            "reasons": tuple(data.get("reasons") or ()),
            "prompt": _prompt_of(data.get("prompt")),
        }
    )


@dataclass(frozen=True)
class SpoolContents:
    """What a spool file's bytes hold: its readable events, where the next append goes,
    and the byte ranges of written lines that could not be read (damage, not a torn tail)."""

    items: list[SpooledEvent]
    end: int
    damaged: list[tuple[int, int]]


def read_spool(data: bytes) -> tuple[list[SpooledEvent], int]:
    """The readable events of a spool file's bytes, and where the next append goes."""
    contents = read_spool_contents(data)
    return contents.items, contents.end


def read_spool_contents(data: bytes) -> SpoolContents:
    """Every readable line up to the last written byte, skipping damaged ones: a line is
    cut at a newline or at zero bytes (a zeroed block), so the lines after a damaged one
    are still found. The last line without its newline is a torn append: not accepted,
    not damage, and the next append overwrites it."""
    written = len(data.rstrip(b"\0"))
    items: list[SpooledEvent] = []
    damaged: list[tuple[int, int]] = []
    end = position = 0
    while position < written:
        cut = _next_cut(data, position, written)
        try:
            items.append(SpooledEvent.from_line(data[position:cut]))
        except (ValueError, KeyError, TypeError):
            if cut < written:  # cut short by its newline or zeros, yet unreadable: damage
                damaged.append((position, cut))
                end = cut + 1
            # else the torn tail: ``end`` stays before it and the next append overwrites it
        else:
            end = cut + 1  # a whole line; one without its newline keeps the zero after it
        position = cut + 1
        while position < written and data[position] == 0:
            position += 1
    return SpoolContents(items, min(end, len(data)), damaged)


def _next_cut(data: bytes, start: int, stop: int) -> int:
    """Where the line starting at ``start`` ends: its newline, a zero byte, or ``stop``."""
    newline = data.find(b"\n", start, stop)
    line_end = stop if newline < 0 else newline
    zero = data.find(b"\0", start, line_end)  # within the line only: a scan stays linear
    return line_end if zero < 0 else zero


class EventSpool:
    """One gate's spool file. Not thread-safe: the EventWriter calls it under its lock.

    No method raises an OSError: a failure is kept in ``error`` and returned as False.
    """

    def __init__(self, path: Path, reserve_bytes: int = 4 * MiB) -> None:
        self.path = path
        self.reserve_bytes = reserve_bytes
        self.error: str | None = None
        self._fd: int | None = None
        self._end = 0
        self._uncopied = False  # damaged lines found that no copy aside holds

    @property
    def used_bytes(self) -> int:
        return self._end

    def open(self) -> list[SpooledEvent]:
        """Open (creating) the file and return the events it still holds, oldest first."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if created:
                fsync_dir(self.path.parent)
            size = os.fstat(self._fd).st_size
            data = os.pread(self._fd, size, 0)
        except OSError as exc:
            self._fail("cannot open", exc)
            return []
        contents = read_spool_contents(data)
        items, self._end = contents.items, contents.end
        if contents.damaged:
            self._keep_damaged(data, contents.damaged)
        self._reserve()
        if items:
            log.warning("event spool %s: %d event(s) to write", self.path, len(items))
        return items

    def append(self, item: SpooledEvent) -> bool:
        """Append ``item`` and fsync it; True once it would survive a stop or SIGKILL."""
        if self._fd is None:
            return False
        line = item.to_line()
        try:
            written = os.pwrite(self._fd, line, self._end)
            if written != len(line):
                raise OSError(28, f"short write ({written} of {len(line)} bytes)")
            os.fsync(self._fd)
        except OSError as exc:
            self._fail("cannot append", exc)
            return False
        self._end += len(line)
        self.error = None
        return True

    def clear(self) -> None:
        """Every event in the file is stored: empty it (and reserve its space again) unless
        it holds damaged lines no copy keeps (they wait for a copy at the next start)."""
        if self._fd is None or self._end == 0 or self._uncopied:
            return
        try:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        except OSError as exc:
            self._fail("cannot empty", exc)  # harmless: a replay skips stored ids
            return
        self._end = 0
        self._reserve()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _reserve(self) -> None:
        """Pre-allocate zeros up to ``reserve_bytes`` so a full disk still takes appends."""
        assert self._fd is not None
        try:
            if os.fstat(self._fd).st_size < self.reserve_bytes:
                os.posix_fallocate(self._fd, 0, self.reserve_bytes)
                os.fsync(self._fd)
        except OSError as exc:  # a full disk: appends take what free space is left
            log.warning("event spool %s: cannot reserve %d bytes: %s", self.path,
                        self.reserve_bytes, exc)  # fmt: skip

    def _keep_damaged(self, data: bytes, damaged: list[tuple[int, int]]) -> None:
        """Copy the whole file aside once (the damaged lines are not lost when the file is
        emptied) and say which bytes were unreadable; never raises."""
        lost = sum(stop - start for start, stop in damaged)
        copy = self.path.with_name(f"{self.path.name}.damaged-{stamp()}")
        existing = sorted(self.path.parent.glob(f"{self.path.name}.damaged-*"))
        try:
            kept = existing[-1].read_bytes() if existing else b""
            if all(kept[a:b] == data[a:b] for a, b in damaged):
                copy = existing[-1]  # a restart before the spool was emptied: kept already
            else:
                write_durably(copy, data, 0o600)  # plates and households, as the spool
        except OSError as exc:
            self._uncopied = True
            log.error(
                "event spool %s: %d damaged line(s) (%d bytes) could not be read and cannot"
                " be copied aside (%s); the spool is kept until they can be",
                self.path, len(damaged), lost, exc,
            )  # fmt: skip
            return
        log.error(
            "event spool %s: %d damaged line(s) (%d bytes at %s) could not be read; the"
            " events after them are written; the whole file is kept as %s",
            self.path, len(damaged), lost, ", ".join(f"{a}-{b}" for a, b in damaged), copy,
        )  # fmt: skip

    def _fail(self, what: str, exc: OSError) -> None:
        message = f"{what} {self.path}: {exc.__class__.__name__}: {exc}"
        if message != self.error:
            log.error("event spool: %s (events kept in memory only)", message)
        self.error = message
