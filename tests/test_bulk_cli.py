"""`menwei rooms generate`, `menwei data template/import/export` and `menwei data faces`
through click's CliRunner on a real site, with real face photos for the ZIP."""

from __future__ import annotations

import io
import zipfile

import pytest
from helpers import FACES


def test_generate_a_building_then_import_export_round_trip(cli_site, tmp_path):
    made = cli_site.run(
        "rooms", "generate", "3幢", "--units", "1-3", "--floors", "1-18", "--rooms", "1-4"
    )
    assert made.exit_code == 0, made.output
    assert "216 rooms made, 0 already there" in made.output
    again = cli_site.run(
        "rooms", "generate", "3幢", "--units", "1", "--floors", "1", "--rooms", "1"
    )
    assert "0 rooms made, 1 already there" in again.output
    bad = cli_site.run(
        "rooms", "generate", "3幢", "--units", "3-1", "--floors", "1", "--rooms", "1"
    )
    assert bad.exit_code == 1 and "units must lie within 1-99" in bad.output

    template = tmp_path / "t.xlsx"
    assert cli_site.run("data", "template", "-o", str(template)).exit_code == 0
    from openpyxl import load_workbook

    book = load_workbook(template)
    book["住户"].append(["", "3幢", "2单元", "1804", "王五", "", "住户"])
    book["住户"].append(["", "3幢", "2单元", "1904", "赵六", "", "住户"])
    book.save(template)
    dry = cli_site.run("data", "import", str(template))
    assert dry.exit_code == 1
    assert "住户 row 4: room 3-2-1904 does not exist" in dry.output
    assert "nothing imported" in dry.output
    book["住户"].delete_rows(4)
    book.save(template)
    dry = cli_site.run("data", "import", str(template))
    assert (
        dry.exit_code == 0
        and "dry run" in dry.output
        and "row 2: the template's example" in dry.output
    )
    assert cli_site.count("residents") == 0
    done = cli_site.run("data", "import", str(template), "--commit")
    assert done.exit_code == 0 and "imported" in done.output
    assert cli_site.count("residents") == 1
    assert "nothing to change" in cli_site.run("data", "import", str(template), "--commit").output

    exported = tmp_path / "e.xlsx"
    out = cli_site.run("data", "export", "-o", str(exported))
    assert "216 rooms, 1 residents, 0 vehicles" in out.output
    assert "nothing to change" in cli_site.run("data", "import", str(exported), "--commit").output

    listed = cli_site.run("rooms", "list", "--json")
    assert listed.output.count('"room"') == 216
    first = listed.output.split('"id": ')[1].split(",")[0]
    assert cli_site.run("rooms", "delete", first).exit_code == 0
    in_use = cli_site.run("rooms", "list", "--json").output
    assert in_use.count('"room"') == 215


def photo_zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_faces_from_a_zip_each_photo_judged_refused_ones_store_nothing(
    cli_site, tmp_path, face_labels
):
    cli_site.run("rooms", "generate", "1幢", "--units", "1", "--floors", "1", "--rooms", "1-2")
    assert cli_site.run("resident", "add", "甲", "--household", "1-1-101").exit_code == 0
    assert cli_site.run("resident", "add", "乙", "--household", "1-1-102").exit_code == 0
    archive = tmp_path / "faces.zip"
    archive.write_bytes(
        photo_zip(
            {
                "photos/1.jpg": (FACES / "fr_obama.jpg").read_bytes(),
                "photos/1_2.jpg": (FACES / "fr_obama1.jpg").read_bytes(),
                "photos/2.jpg": b"this is not a photo",
                "photos/99.jpg": (FACES / "fr_biden.jpg").read_bytes(),
                "photos/notes.txt": b"hello",
            }
        )
    )
    refused = cli_site.run("data", "faces", str(archive), "--consent-by", "admin", "--commit")
    assert refused.exit_code == 1 and "consent" in refused.output
    report = cli_site.run(
        "data", "faces", str(archive), "--consent", "--consent-by", "admin", "--commit"
    )
    assert report.exit_code == 0, report.output
    assert "1.jpg: ok" in report.output and "1_2.jpg: ok" in report.output
    assert "2.jpg: refused: not a JPEG or PNG photo" in report.output
    assert "99.jpg: refused: there is no resident with this number" in report.output
    assert "notes.txt: refused: name the photo by resident number" in report.output
    assert "2 accepted, 3 refused, 2 stored" in report.output
    assert cli_site.count("face_templates") == 2


@pytest.mark.parametrize(
    ("members", "code"),
    [
        ({"../1.jpg": b"\xff\xd8\xff"}, "unsafe file name"),
        ({"/etc/1.jpg": b"\xff\xd8\xff"}, "unsafe file name"),
        ({"C:/1.jpg": b"\xff\xd8\xff"}, "unsafe file name"),
        ({"1.jpg": b"\xff\xd8\xff" + b"\0" * (40 << 20)}, "too large"),
        ({"1.jpg": b"\xff\xd8\xff" + b"\0" * (8 << 20)}, "compressed suspiciously well"),
    ],
)
def test_hostile_face_zips_are_refused_with_nothing_stored(cli_site, tmp_path, members, code):
    assert cli_site.run("resident", "add", "甲", "--household", "1-1-101").exit_code == 0
    archive = tmp_path / "faces.zip"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    archive.write_bytes(out.getvalue())
    result = cli_site.run(
        "data", "faces", str(archive), "--consent", "--consent-by", "admin", "--commit"
    )
    assert result.exit_code == 1 and code in result.output, result.output
    assert cli_site.count("face_templates") == 0


def test_access_groups_are_named_from_the_command_line(cli_site, tmp_path):
    assert (
        cli_site.run("data", "group", "cleaners", "保洁").output.strip() == "group cleaners: 保洁"
    )
    assert cli_site.run("data", "group", "Bad!", "x").exit_code == 1
    template = tmp_path / "t.xlsx"
    cli_site.run("data", "template", "-o", str(template))
    from openpyxl import load_workbook

    lists = load_workbook(template)["选项"]
    assert "保洁" in [c.value for c in lists["B"]]
