"""What an alert shows a guard at a glance: the picture of the passage behind it.

A watchlist alert is its own event without a picture of its own; the passage that raised
it (``related_event_id``: the plate read or the face seen) has the snapshot. The live view,
the feed and the event page show that passage's picture — cropped around the plate (or face) when
the passage recorded its box — through the authenticated snapshot route, never a file URL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from edge.events import search as event_search


def picture_source(conn: sqlite3.Connection, event: dict[str, Any]) -> dict[str, Any] | None:
    """The event whose snapshot pictures ``event``: itself when it has one, else the
    passage it points at (when that has one); None when there is no picture."""
    if event.get("snapshot_path"):
        return event
    related = event.get("related_event_id")
    if not related:
        return None
    passage = event_search.get_event(conn, related)
    return passage if passage is not None and passage.get("snapshot_path") else None


def crop_box(event: dict[str, Any]) -> object:
    """The box to crop a snapshot to: the plate's, or a face's when the gate recorded one."""
    details = event.get("details") or {}
    return details.get("plate_box") or details.get("face_box")


def with_picture(conn: sqlite3.Connection, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (a presented event) with ``picture_id`` (whose snapshot to show, or None)
    and ``picture_size`` (``crop`` around a recorded plate box, else ``thumb``)."""
    source = picture_source(conn, item)
    box = crop_box(source) if source else None
    return {
        **item,
        "picture_id": source["id"] if source else None,
        "picture_size": "crop" if box else "thumb",
    }
