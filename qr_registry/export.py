"""CSV and Excel exports of a search, safe to open in Excel/WPS.

- CSV is UTF-8 with a BOM (utf-8-sig): Excel on Chinese Windows otherwise reads GBK and
  garbles every name.
- Formula injection: a cell starting with ``= + - @`` (or tab/CR) would run as a formula in
  the officer's spreadsheet; such cells get a leading apostrophe, and so does every trigger
  that follows a separator inside a cell (``edge.cells.safe_cell``). Every CSV field is
  also quoted.
- Document numbers and phones are written as text (Excel would turn an 18-digit ID into
  3.20102E+17 and lose the last digits); they are the masked forms, as on screen.
- Columns follow the reader's role (qr_registry.masking.ROLE_FIELDS): a grid worker's
  export has an age band, never a birth date or year, beside the masked number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from edge.cells import safe_cell

COLUMNS = (
    ("id", "登记编号 Registration"),
    ("room_label", "房间 Room"),
    ("status", "状态 Status"),
    ("name", "姓名 Name"),
    ("doc_type", "证件类型 Document type"),
    ("doc_mask", "证件号码 Document number"),
    ("sex", "性别 Sex"),
    ("birth_year", "出生年份 Birth year"),
    ("age_band", "年龄段 Age band"),
    ("nationality", "国籍 Nationality"),
    ("ethnicity", "民族 Ethnicity"),
    ("phone_mask", "电话 Phone"),
    ("occupation", "工作单位/职业 Occupation"),
    ("relation", "与房东关系 Relation"),
    ("move_in_date", "入住日期 Move-in"),
    ("expected_until", "预计居住至 Expected until"),
    ("submitted_at", "登记时间 Submitted"),
    ("moved_out_on", "退租日期 Moved out"),
    ("overdue", "逾期未确认 Overdue"),
)


def columns_for(fields: Iterable[str]) -> list[tuple[str, str]]:
    """The export columns a role may have: the always-shown ones and its own fields."""
    allowed = set(fields)
    personal = {"name", "doc_type", "doc_mask", "sex", "birth_year", "age_band", "nationality",
                "ethnicity", "phone_mask", "occupation", "relation"}  # fmt: skip
    return [(k, t) for k, t in COLUMNS if k not in personal or k in allowed]


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([title for _, title in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key, _ in columns])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]] = COLUMNS) -> bytes:
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = "registrations"
    sheet.append([title for _, title in columns])
    for row in rows:
        sheet.append([safe_cell(row.get(key)) for key, _ in columns])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            cell.data_type = "s"
            cell.number_format = "@"  # text: IDs are never numbers
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
