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
from edge.vocabulary import N_, Gettext, translator

CHINESE = translator("zh")  # exports are in Chinese unless the reader asks otherwise
COLUMNS = (
    ("id", N_("Registration number")),
    ("room_label", N_("Room")),
    ("status", N_("Status")),
    ("name", N_("Name")),
    ("doc_type", N_("Document type")),
    ("doc_mask", N_("Document number")),
    ("sex", N_("Sex")),
    ("birth_year", N_("Birth year")),
    ("age_band", N_("Age band")),
    ("nationality", N_("Nationality")),
    ("ethnicity", N_("Ethnicity")),
    ("phone_mask", N_("Phone")),
    ("occupation", N_("Occupation")),
    ("relation", N_("Relation")),
    ("move_in_date", N_("Move-in")),
    ("expected_until", N_("Expected until")),
    ("submitted_at", N_("Submitted")),
    ("moved_out_on", N_("Moved out on")),
    ("overdue", N_("Overdue")),
)


def columns_for(fields: Iterable[str]) -> list[tuple[str, str]]:
    """The export columns a role may have: the always-shown ones and its own fields."""
    allowed = set(fields)
    personal = {"name", "doc_type", "doc_mask", "sex", "birth_year", "age_band", "nationality",
                "ethnicity", "phone_mask", "occupation", "relation"}  # fmt: skip
    return [(k, t) for k, t in COLUMNS if k not in personal or k in allowed]


def to_csv(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]] = COLUMNS,
    gettext: Gettext = CHINESE,
) -> bytes:
    """Headers are msgids translated with ``gettext`` (Chinese unless told otherwise); the
    rows' values are already in words (the caller's ``export_row``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([gettext(title) for _, title in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key, _ in columns])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]] = COLUMNS,
    gettext: Gettext = CHINESE,
) -> bytes:
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = gettext("Registrations")
    sheet.append([gettext(title) for _, title in columns])
    for row in rows:
        sheet.append([safe_cell(row.get(key)) for key, _ in columns])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            cell.data_type = "s"
            cell.number_format = "@"  # text: IDs are never numbers
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
