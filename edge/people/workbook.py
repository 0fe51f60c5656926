"""Excel workbooks of rooms, residents and vehicles: the blank template, the export, and
reading an uploaded one into rows — with every limit a file from outside needs.

Why it is written this way:
- One description per sheet (``SHEETS``): the template, the export and the reader all use
  it, so an exported workbook is a valid import (the round trip) and the same columns are
  never spelled twice.
- Headers are Chinese (what a 物业 admin reads); a column is found by its header, so the
  order may change and extra columns are ignored.
- An upload is a ZIP: it is checked like any archive from outside (edge.people.archive)
  before openpyxl sees it, and read in read-only mode (rows streamed, not a DOM).
- A cell holding a formula is refused, never evaluated; text written out goes through
  edge.cells.safe_cell, and the apostrophe safe_cell adds is taken off again on import.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from edge.cells import DANGEROUS, safe_cell
from edge.people.archive import ArchiveError, ArchiveLimits, open_archive

MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # a 20,000-row workbook is ~1 MB
MAX_ROWS = 20_000  # per sheet
MAX_CELL = 200  # characters in one cell
WORKBOOK_LIMITS = ArchiveLimits(max_members=200, max_total=100 * 1024 * 1024, max_member=60 << 20)
LISTS_SHEET = "选项"  # hidden sheet holding the data-validation lists
LIST_TITLES = {"building": "楼栋", "group": "通行组", "kind": "车辆类型", "landlord": "房东账号"}
_ESCAPED = re.compile(r"([,;|\t\r\n]\s*)'([=+\-@])")  # edge.cells.SPLIT_FORMULA's escape


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int = 12
    required: bool = True


@dataclass(frozen=True)
class Sheet:
    kind: str  # 'rooms', 'residents', 'vehicles'
    title: str  # the sheet's name in the workbook
    columns: tuple[Column, ...]
    sample: tuple[str, ...]  # the template's example row (skipped when left in)

    def headers(self) -> list[str]:
        return [column.header for column in self.columns]


_PLACE = (Column("building", "楼栋"), Column("unit", "单元"), Column("room", "房号"))
SHEETS: dict[str, Sheet] = {
    "rooms": Sheet(
        "rooms",
        "房间",
        (*_PLACE, Column("landlord", "房东账号", 16, required=False)),
        ("3幢", "1单元", "402", ""),
    ),
    "residents": Sheet(
        "residents",
        "住户",
        (
            Column("number", "住户编号", 10, required=False),
            *_PLACE,
            Column("name", "姓名", 14),
            Column("phone", "手机号", 16, required=False),
            Column("group", "通行组", 12),
        ),
        ("", "3幢", "1单元", "402", "张三", "13800138000", "住户"),
    ),
    "vehicles": Sheet(
        "vehicles",
        "车辆",
        (
            Column("plate", "车牌", 12),
            *_PLACE,
            Column("kind", "类型", 12),
            Column("valid_from", "有效期起", 12, required=False),
            Column("valid_to", "有效期止", 12, required=False),
        ),
        ("京A12345", "3幢", "1单元", "402", "住户车辆", "", ""),
    ),
}
BY_TITLE = {sheet.title: sheet for sheet in SHEETS.values()}
VEHICLE_KIND_LABELS = {"resident": "住户车辆", "visitor": "访客车辆", "temporary": "临时车辆"}


@dataclass
class SheetRows:
    """One sheet's rows as text by column key, each with its row number in the workbook."""

    sheet: Sheet
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    problems: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    sample_skipped: bool = False


class WorkbookError(ArchiveError):
    """The file as a whole cannot be read (not a workbook, too big, no known sheet)."""


# -- writing ---------------------------------------------------------------------------------
def _style_header(sheet: Any, columns: tuple[Column, ...]) -> None:
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"


def _lists_sheet(book: Workbook, lists: dict[str, list[str]]) -> dict[str, str]:
    """A hidden sheet with one column per list; returns list name → range formula."""
    hidden = book.create_sheet(LISTS_SHEET)
    hidden.sheet_state = "hidden"
    ranges = {}
    for index, (name, values) in enumerate(lists.items(), start=1):
        letter = get_column_letter(index)
        hidden.cell(row=1, column=index, value=LIST_TITLES.get(name, name))
        for row, value in enumerate(values or [""], start=2):
            hidden.cell(row=row, column=index, value=safe_cell(value))
        ranges[name] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values or ['']) + 1}"
    return ranges


def _validate(sheet: Any, spec: Sheet, ranges: dict[str, str], rows: int) -> None:
    """Drop-down lists on the columns that have one (buildings, groups, kinds, landlords)."""
    for index, column in enumerate(spec.columns, start=1):
        if column.key not in ranges:
            continue
        letter = get_column_letter(index)
        rule = DataValidation(type="list", formula1=ranges[column.key], allow_blank=True)
        rule.error, rule.errorTitle = "请从列表中选择", "无效的值"
        rule.prompt = "请从列表中选择"
        sheet.add_data_validation(rule)
        rule.add(f"{letter}2:{letter}{max(rows, 2) + 1000}")


def build_workbook(
    data: dict[str, list[list[Any]]],
    choices: dict[str, list[str]],
    with_sample: bool,
) -> bytes:
    """A workbook with one sheet per kind in ``data`` (rows in column order), the header
    row, the example row when ``with_sample``, and drop-down lists from ``choices``
    (column key → values: 'building', 'group', 'kind', 'landlord')."""
    book = Workbook()
    book.remove(book.active)
    ranges = _lists_sheet(book, choices)
    for kind, rows in data.items():
        spec = SHEETS[kind]
        sheet = book.create_sheet(spec.title, index=len(book.sheetnames) - 1)
        sheet.append(spec.headers())
        if with_sample:
            sheet.append(list(spec.sample))
            for cell in sheet[2]:
                cell.font = Font(italic=True, color="808080")
        for row in rows:
            sheet.append([_out(value) for value in row])
        _style_header(sheet, spec.columns)
        _validate(sheet, spec, ranges, len(rows))
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _out(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return safe_cell(value)


# -- reading ---------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """A cell as text: numbers without '.0', dates as YYYY-MM-DD, safe_cell's apostrophe off."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = _ESCAPED.sub(r"\1\2", str(value).strip())
    return text[1:] if text.startswith("'") and text[1:2] in DANGEROUS else text


def check_upload(data: bytes) -> None:
    """Size, then the ZIP container, before openpyxl parses anything."""
    if not data:
        raise WorkbookError("empty", "the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise WorkbookError(
            "too_large", "the file is larger than %(n)s MB", {"n": MAX_UPLOAD_BYTES >> 20}
        )
    try:
        open_archive(data, WORKBOOK_LIMITS)
    except ArchiveError as exc:
        if exc.code == "not_zip":
            raise WorkbookError("not_xlsx", "not an Excel .xlsx workbook") from exc
        raise


def read_workbook(data: bytes) -> list[SheetRows]:
    """Every known sheet's rows (by column key) and the problems found while reading them
    (unknown or missing headers, formulas, over-long cells); WorkbookError when the file
    cannot be used at all."""
    check_upload(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise WorkbookError("not_xlsx", "not an Excel .xlsx workbook") from exc
    try:
        found = [
            _read_sheet(book[title], BY_TITLE[title])
            for title in book.sheetnames
            if title in BY_TITLE
        ]
    finally:
        book.close()
    if not found:
        names = "、".join(sheet.title for sheet in SHEETS.values())
        raise WorkbookError("no_sheet", "no sheet named %(names)s", {"names": names})
    return found


def _read_sheet(sheet: Any, spec: Sheet) -> SheetRows:
    result = SheetRows(spec)
    rows = sheet.iter_rows()
    try:
        header = next(rows)
    except StopIteration:
        return result
    positions = {}
    for index, cell in enumerate(header):
        text = _text(cell.value)
        for column in spec.columns:
            if text in (column.header, column.key):
                positions[column.key] = index
    missing = [c.header for c in spec.columns if c.required and c.key not in positions]
    if missing:
        result.problems.append((1, "missing_columns", {"columns": "、".join(missing)}))
        return result
    for number, cells in enumerate(rows, start=2):
        if number - 1 > MAX_ROWS:
            raise WorkbookError("too_many_rows", "more than %(n)s rows in a sheet", {"n": MAX_ROWS})
        values: dict[str, str] = {}
        problem: tuple[str, dict[str, Any]] | None = None
        for column in spec.columns:
            at = positions.get(column.key)
            cell = cells[at] if at is not None and at < len(cells) else None
            if cell is not None and getattr(cell, "data_type", None) == "f":
                problem = ("formula", {"column": column.header})
                break
            text = _text(cell.value if cell is not None else None)
            if len(text) > MAX_CELL:
                problem = ("cell_too_long", {"column": column.header, "n": MAX_CELL})
                break
            values[column.key] = text
        if problem:
            result.problems.append((number, *problem))
        elif number == 2 and tuple(values.get(c.key, "") for c in spec.columns) == spec.sample:
            result.sample_skipped = True  # the template's example, left in: said in the preview
        elif any(values.values()):
            result.rows.append((number, values))
    return result


def iter_problems(sheets: list[SheetRows]) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    for sheet in sheets:
        for row, code, params in sheet.problems:
            yield sheet.sheet.title, row, code, params
