"""CSV export of a gate-event search, safe to open in Excel/WPS, written line by line.

The same rules as the registry export (both use ``edge.cells.safe_cell``): UTF-8 with a
BOM so Excel on Chinese Windows does not read GBK, and no cell can start a formula — a
subject or reason beginning with ``=`` gets a leading apostrophe.
Rows are produced one at a time so a year of events never sits in memory at once. Times
are in the site zone with their offset: an officer compares them with other local records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from edge.cells import safe_cell
from edge.db import parse_iso

COLUMNS = (
    "事件编号 Event",
    "时间 Time",
    "门 Gate",
    "类型 Kind",
    "车牌 Plate",
    "对象 Subject",
    "结果 Decision",
    "置信度 Confidence",
    "原因 Reasons",
    "关联事件 Related event",
    "抓拍 Snapshot",
)


def _line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


def _local(value: str, zone: ZoneInfo) -> str:
    moment = parse_iso(value)
    return moment.astimezone(zone).isoformat(sep=" ", timespec="seconds") if moment else ""


def events_csv(
    rows: Iterable[dict[str, Any]], zone: ZoneInfo, gate_names: dict[str, str]
) -> Iterator[bytes]:
    """The CSV file as chunks: BOM and header first, then one chunk per event."""
    yield "\ufeff".encode() + _line(list(COLUMNS)).encode("utf-8")
    for row in rows:
        reasons = "; ".join(
            str(r.get("message") or r.get("code") or "")
            for r in row["reasons"]
            if isinstance(r, dict)
        )
        yield _line(
            [
                row["id"],
                _local(row["occurred_at"], zone),
                gate_names.get(row["gate_id"], row["gate_id"]),
                row["kind"],
                row["plate"],
                row["subject"],
                row["decision"],
                "" if row["confidence"] is None else f"{row['confidence']:.3f}",
                reasons,
                row["related_event_id"],
                "yes" if row["snapshot_path"] else "",
            ]
        ).encode("utf-8")
