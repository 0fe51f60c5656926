"""Bulk import and export of rooms, residents and vehicles (edge.people.bulk_import): a
dry run lists every bad row with its row number and reason, a commit is all-or-nothing in
one transaction with one audit row, a second import of the same file changes nothing, an
export imports back as a no-op, and hostile files are refused before anything is used."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from helpers import workbook
from openpyxl import load_workbook

from edge.db import transaction
from edge.people.addresses import generate_rooms
from edge.people.archive import ArchiveError
from edge.people.bulk_import import PHONE_PURPOSE, export_rows, import_workbook
from edge.people.residents import NAME_PURPOSE
from edge.people.workbook import SHEETS, WorkbookError, build_workbook
from edge.pii import PiiVault

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
VAULT = PiiVault(bytes(range(32)))


def run(db, data: bytes, commit: bool = True):
    return import_workbook(db, VAULT, data, ZONE, "user:1", NOW, commit)


def counts(db) -> dict[str, int]:
    tables = ("rooms", "households", "residents", "vehicles", "audit_log")
    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_the_template_has_chinese_headers_a_sample_row_and_drop_down_lists():
    data = build_workbook({k: [] for k in SHEETS}, {"group": ["住户"], "kind": ["住户车辆"]}, True)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[:3] == ["房间", "住户", "车辆"]
    residents = book["住户"]
    assert [c.value for c in residents[1]] == [
        "住户编号",
        "楼栋",
        "单元",
        "房号",
        "姓名",
        "手机号",
        "通行组",
    ]
    assert residents["E2"].value == "张三"
    assert any("G2" in str(rule.sqref) for rule in residents.data_validations.dataValidation)
    assert book["选项"].sheet_state == "hidden"


def test_5000_residents_import_in_one_transaction_and_again_change_nothing(db):
    rooms = [
        [f"{b}幢", f"{u}单元", f"{f}{r:02d}", ""]
        for b in (1, 2)
        for u in (1, 2, 3)
        for f in range(1, 19)
        for r in range(1, 5)
    ]  # 432 rooms
    people = [
        ["", row[0], row[1], row[2], f"住户{i}", f"138{i:08d}", "住户"]
        for i, row in enumerate(rooms * 12)
    ][:5000]
    cars = [[f"京A{i:05d}", r[0], r[1], r[2], "住户车辆", "", ""] for i, r in enumerate(rooms)]
    data = workbook(rooms=rooms, residents=people, vehicles=cars)

    preview = run(db, data, commit=False)
    assert preview.problems == [] and not preview.committed
    assert counts(db)["residents"] == 0
    plan = run(db, data)
    assert plan.committed and plan.counts()["residents_added"] == 5000
    after = counts(db)
    assert after["rooms"] == 432 and after["residents"] == 5000 and after["vehicles"] == 432
    assert after["households"] == 432
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log")]
    assert actions == ["bulk_import"]
    # names and phones are stored encrypted, never in the clear
    name_enc, phone_enc, mask, plain = db.execute(
        "SELECT name_enc, phone_enc, phone_mask, name FROM residents ORDER BY id LIMIT 1"
    ).fetchone()
    assert plain == "" and VAULT.decrypt_text(name_enc, NAME_PURPOSE) == "住户0"
    assert VAULT.decrypt_text(phone_enc, PHONE_PURPOSE) == "13800000000" and mask == "138****0000"

    again = run(db, data)
    assert again.changes == 0 and not again.committed
    assert again.counts()["residents_unchanged"] == 5000
    assert counts(db) == after


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_imported(db):
    with transaction(db) as conn:
        generate_rooms(conn, "1幢", [1], [1], [1, 2], NOW)
    before = counts(db)
    data = workbook(
        residents=[
            ["", "1幢", "1单元", "101", "王五", "", "住户"],  # 2: fine
            ["", "1幢", "1单元", "999", "赵六", "", "住户"],  # 3: unknown room
            ["", "1幢", "1单元", "101", "王五", "", "住户"],  # 4: duplicate of row 2
            ["", "1幢", "1单元", "102", "孙七", "12345", "住户"],  # 5: bad phone
            ["", "1幢", "1单元", "102", "周八", "", "保安队"],  # 6: unknown access group
            ["", "1幢", "1单元", "102", '=HYPERLINK("http://x")', "", "住户"],  # 7: formula
            ["", "1幢", "1单元", "102", "", "", "住户"],  # 8: no name
            ["", "楼", "1单元", "102", "吴九", "", "住户"],  # 9: not an address
        ],
        vehicles=[
            ["京A1234", "1幢", "1单元", "101", "住户车辆", "", ""],  # 2: bad plate
            ["京A12345", "1幢", "1单元", "101", "访客车辆", "2026-13-01", "2026-14-01"],  # 3
            ["京B12345", "1幢", "1单元", "101", "访客车辆", "2026-05-01", ""],  # 4: no end
            ["京C12345", "1幢", "1单元", "101", "住户车辆", "", ""],  # 5: fine
        ],
    )
    plan = run(db, data)
    found = [(p.sheet, p.row, p.code) for p in plan.problems]
    assert found == [
        ("住户", 3, "unknown_room"),
        ("住户", 4, "duplicate_row"),
        ("住户", 5, "bad_phone"),
        ("住户", 6, "unknown_group"),
        ("住户", 7, "formula"),
        ("住户", 8, "bad_name"),
        ("住户", 9, "bad_address"),
        ("车辆", 2, "bad_plate"),
        ("车辆", 3, "bad_date"),
        ("车辆", 4, "bad_date"),
    ]
    assert not plan.committed and counts(db) == before


def test_an_export_imports_back_as_a_no_op_and_escapes_formulas(db):
    data = workbook(
        rooms=[["5幢", "2单元", "1202", ""]],
        residents=[
            ["", "5幢", "2单元", "1202", "工程师;=1+1", "13800138000", "住户"],
            ["", "5幢", "2单元", "1202", "李四", "", "住户"],
        ],
        vehicles=[["沪A88888", "5幢", "2单元", "1202", "临时车辆", "2026-03-01", "2026-03-31"]],
    )
    assert run(db, data).committed
    rows = export_rows(db, VAULT, ZONE)
    exported = build_workbook(rows, {}, with_sample=False)
    sheet = load_workbook(io.BytesIO(exported))["住户"]
    assert sheet["E2"].value == "工程师;'=1+1"  # a spreadsheet never runs it
    assert sheet["F2"].value == "138****8000"  # the phone leaves masked
    assert rows["vehicles"][0][5:] == ["2026-03-01", "2026-03-31"]
    before = counts(db)
    again = run(db, exported)
    assert again.problems == [] and again.changes == 0 and counts(db) == before
    # an edit in the exported sheet is an update, not a second resident
    book = load_workbook(io.BytesIO(exported))
    book["住户"]["G3"] = "residents"
    book["住户"]["F3"] = "13900139000"
    out = io.BytesIO()
    book.save(out)
    edit = run(db, out.getvalue())
    assert edit.counts()["residents_changed"] == 1 and counts(db)["residents"] == 2


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"name,room\n=1+1,3-1-402\n", "not_xlsx"),
        (zip_of({"../../etc/evil.xml": b"x"}), "unsafe_name"),
        (zip_of({"/abs.xml": b"x"}), "unsafe_name"),
        (zip_of({"xl/worksheets/sheet1.xml": b"\0" * (50 << 20)}), "zip_bomb"),
        (zip_of({"[Content_Types].xml": b"<x/>"}), "not_xlsx"),
        (b"PK" + b"\0" * (9 << 20), "too_large"),
    ],
)
def test_hostile_workbooks_are_refused_with_nothing_stored(db, data, code):
    before = counts(db)
    with pytest.raises(ArchiveError) as refused:
        run(db, data)
    assert refused.value.code == code
    assert counts(db) == before


def test_a_workbook_over_the_row_limit_is_refused(db, monkeypatch):
    monkeypatch.setattr("edge.people.workbook.MAX_ROWS", 10)
    data = workbook(rooms=[["1幢", "1单元", str(100 + i), ""] for i in range(20)])
    with pytest.raises(WorkbookError) as refused:
        run(db, data)
    assert refused.value.code == "too_many_rows" and counts(db)["rooms"] == 0
