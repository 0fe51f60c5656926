"""CSV export of a gate-event search, safe to open in Excel/WPS, written line by line.

The same rules as the registry export (both use ``edge.cells.safe_cell``): UTF-8 with a
BOM so Excel on Chinese Windows does not read GBK, and no cell can start a formula — a
subject or reason beginning with ``=`` gets a leading apostrophe.
Rows are produced one at a time so a year of events never sits in memory at once. Times
are in the site zone (``YYYY-MM-DD HH:MM:SS``): an officer compares them with other local
records. Headers and values are in the reader's language (Chinese unless ``lang=en``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from edge.cells import safe_cell
from edge.vocabulary import N_, Vocabulary

COLUMNS = (
    N_("Event number"),
    N_("Time"),
    N_("Gate"),
    N_("Kind"),
    N_("Plate"),
    N_("Subject"),
    N_("Decision"),
    N_("Confidence"),
    N_("Reasons"),
    N_("Related event"),
    N_("Snapshot"),
)


def _line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def events_csv(
    rows: Iterable[dict[str, Any]], words: Vocabulary, gate_names: dict[str, str]
) -> Iterator[bytes]:
    """The CSV file as chunks: BOM and header first, then one chunk per event; headers,
    kinds, decisions, subjects and reasons in ``words``' language, times in its zone."""
    yield "\ufeff".encode() + _line([words.gettext(title) for title in COLUMNS]).encode("utf-8")
    for row in rows:
        yield _line(
            [
                row["id"],
                words.time(row["occurred_at"], seconds=True),
                gate_names.get(row["gate_id"], row["gate_id"]),
                words.kind(row["kind"]),
                row["plate"],
                words.subject(row["subject"]),
                words.decision(row["decision"]),
                "" if row["confidence"] is None else f"{row['confidence']:.3f}",
                words.reasons(row["reasons"]),
                row["related_event_id"],
                words.yes_no(True) if row["snapshot_path"] else "",
            ]
        ).encode("utf-8")
