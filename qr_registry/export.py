"""CSV and Excel exports of a search, safe to open in Excel/WPS.

- CSV is UTF-8 with a BOM (utf-8-sig): Excel on Chinese Windows otherwise reads GBK and
  garbles every name.
- Formula injection: a cell starting with ``= + - @`` (or tab/CR) would run as a formula in
  the officer's spreadsheet; such cells get a leading apostrophe.
- Document numbers and phones are written as text (Excel would turn an 18-digit ID into
  3.20102E+17 and lose the last digits); they are the masked forms, as on screen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook

COLUMNS = (
    ("id", "登记编号 Registration"),
    ("room_label", "房间 Room"),
    ("status", "状态 Status"),
    ("name", "姓名 Name"),
    ("doc_type", "证件类型 Document type"),
    ("doc_mask", "证件号码 Document number"),
    ("sex", "性别 Sex"),
    ("birth_date", "出生日期 Birth date"),
    ("ethnicity", "民族 Ethnicity"),
    ("phone_mask", "电话 Phone"),
    ("occupation", "工作单位/职业 Occupation"),
    ("relation", "与房东关系 Relation"),
    ("move_in_date", "入住日期 Move-in"),
    ("expected_until", "预计居住至 Expected until"),
    ("submitted_at", "登记时间 Submitted (UTC)"),
    ("moved_out_on", "退租日期 Moved out"),
    ("overdue", "逾期未确认 Overdue"),
)
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """Text for a cell that a spreadsheet will never evaluate as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def to_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for _, title in COLUMNS])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key, _ in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = "registrations"
    sheet.append([title for _, title in COLUMNS])
    for row in rows:
        sheet.append([safe_cell(row.get(key)) for key, _ in COLUMNS])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            cell.data_type = "s"
            cell.number_format = "@"  # text: IDs are never numbers
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
