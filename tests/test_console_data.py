"""The admin's bulk-data and rooms pages (/data, /rooms) through Flask's test client on a
real database: upload → preview with every bad row → commit; a building's rooms at once;
landlords for many rooms; a new sticker code only after a confirmation; deleting a room in
use refused with the reason; sticker PDFs whose QR codes decode back to the rooms' URLs."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest
from helpers import FACES, client_as, csrf_of, db_of, form_fields, workbook

from edge.db import transaction
from edge.demo.console import served_stickers
from edge.people.addresses import household_for_label
from qr_registry.stickers import LAYOUTS

BASE = "http://192.0.2.10:8080"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def env(tmp_path, console_env, registry_config):
    return console_env(tmp_path, config=registry_config(tmp_path, base_url=BASE))


def count(env, table: str) -> int:
    db = db_of(env)
    try:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        db.conn.close()


def upload(client, data: bytes):
    token = csrf_of(client.get("/data/").text)
    return client.post(
        "/data/import",
        data={"csrf_token": token, "workbook": (io.BytesIO(data), "people.xlsx")},
        content_type="multipart/form-data",
    )


def test_only_the_admin_opens_the_data_and_rooms_pages(env):
    for role in ("guard", "landlord", "police", "grid"):
        client = client_as(env, role)
        assert client.get("/data/").status_code == 403
        assert client.get("/rooms/").status_code == 403
    assert client_as(env, None).get("/rooms/").status_code == 302


def test_upload_previews_every_bad_row_then_commits_all_at_once(env):
    admin = client_as(env, "admin")
    bad = workbook(
        rooms=[["2幢", "1单元", "101", ""]],
        residents=[
            ["", "2幢", "1单元", "101", "王五", "", "住户"],
            ["", "2幢", "1单元", "909", "赵六", "", "住户"],
        ],
    )
    page = upload(admin, bad)
    assert page.status_code == 400
    assert "住户" in page.text and ">3<" in page.text and "2-1-909" in page.text
    assert "nothing was imported" in page.text or "未导入" in page.text
    assert count(env, "rooms") == 0
    good = workbook(
        rooms=[["2幢", "1单元", "101", "landlord1"]],
        residents=[["", "2幢", "1单元", "101", "王五", "13800138000", "住户"]],
    )
    page = upload(admin, good)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    fields["handle"] = re.search(r'name="handle" value="([^"]+)"', page.text).group(1)
    assert count(env, "residents") == 0  # the preview writes nothing
    done = admin.post(
        "/data/import/commit", data={"csrf_token": fields["csrf_token"], "handle": fields["handle"]}
    )
    assert done.status_code == 200 and 'id="imported"' in done.text
    assert count(env, "residents") == 1 and count(env, "rooms") == 1
    again = admin.post(
        "/data/import/commit", data={"csrf_token": fields["csrf_token"], "handle": fields["handle"]}
    )
    assert again.status_code == 400  # the staged file is gone after its commit
    assert 'id="no-change"' in upload(admin, good).text
    db = db_of(env)
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'bulk%'")]
    db.conn.close()
    assert actions == ["bulk_import"]


def test_hostile_upload_is_a_400_with_the_reason(env):
    admin = client_as(env, "admin")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../../x.xml", b"x")
    page = upload(admin, out.getvalue())
    assert page.status_code == 400 and "../../x.xml" in page.text


def decode_qr_codes(pdf: bytes, tmp: Path, layout: str = "a4") -> list[str]:
    """Render the PDF with pdftoppm and decode the QR code of every sticker cell on every
    page (OpenCV: the classic QRCodeDetector, then the ArUco-based one, which reads the
    odd code the classic one misses; one cell at a time: the layout says where they are)."""
    source = tmp / "stickers.pdf"
    source.write_bytes(pdf)
    dpi = 200
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(tmp / "page")], check=True)
    sheet = LAYOUTS[layout]
    cols, rows, left, top = sheet.grid()
    scale = dpi / 72
    found: list[str] = []
    detectors = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    for page in sorted(tmp.glob("page*.png")):
        image = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
        for row in range(rows):
            for col in range(cols):
                x = int((left + col * (sheet.cell[0] + sheet.gutter)) * scale)
                y = int((top + row * (sheet.cell[1] + sheet.gutter)) * scale)
                cell = image[y : y + int(sheet.cell[1] * scale), x : x + int(sheet.cell[0] * scale)]
                for detector in detectors:
                    text, _points, _code = detector.detectAndDecode(cell)
                    if text:
                        found.append(text)
                        break
    return found


def test_generate_rooms_assign_landlords_print_stickers_that_decode(env, tmp_path):
    admin = client_as(env, "admin")
    page = admin.get("/data/")
    fields = form_fields(page.text)
    made = admin.post(
        "/data/rooms/generate",
        data={
            "csrf_token": fields["csrf_token"],
            "form_nonce": fields["form_nonce"],
            "building": "7幢",
            "units": "1-2",
            "floors": "1-3",
            "rooms": "1-2",
        },
    )
    assert made.status_code == 303
    listed = admin.get(made.headers["Location"])
    assert "12" in listed.text and "7幢1单元 101" in listed.text
    db = db_of(env)
    rooms = [r[0] for r in db.execute("SELECT id FROM rooms ORDER BY id")]
    landlord = env["ids"]["landlord"]
    token = csrf_of(listed.text)
    assigned = admin.post(
        "/rooms/landlord", data={"csrf_token": token, "room": rooms[:5], "landlord": str(landlord)}
    )
    assert assigned.status_code == 303
    assert (
        db.execute("SELECT COUNT(*) FROM rooms WHERE landlord_id = ?", [landlord]).fetchone()[0]
        == 5
    )

    building = db.execute("SELECT id FROM buildings WHERE name = '7幢'").fetchone()[0]
    pdf = admin.post(
        "/rooms/stickers.pdf", data={"csrf_token": token, "building": building, "layout": "a4"}
    )
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    tokens = {r[0] for r in db.execute("SELECT token FROM room_tokens WHERE retired_at IS NULL")}
    assert len(tokens) == 12
    decoded = decode_qr_codes(pdf.data, tmp_path)
    assert len(decoded) == 12 and set(decoded) == {f"{BASE}/r/{t}" for t in tokens}
    label = admin.post(
        "/rooms/stickers.pdf", data={"csrf_token": token, "room": rooms[0], "layout": "label"}
    )
    assert label.status_code == 200
    (tmp_path / "label").mkdir()
    first_url = db.execute(
        "SELECT token FROM room_tokens WHERE room_id = ? AND retired_at IS NULL", [rooms[0]]
    ).fetchone()[0]
    assert decode_qr_codes(label.data, tmp_path / "label", "label") == [f"{BASE}/r/{first_url}"]

    # a new code only after the confirmation; the old one is retired
    first = rooms[0]
    old = db.execute(
        "SELECT token FROM room_tokens WHERE room_id = ? AND retired_at IS NULL", [first]
    ).fetchone()[0]
    confirm = admin.get(f"/rooms/{first}/token")
    assert 'name="confirm"' in confirm.text
    unconfirmed = admin.post(f"/rooms/{first}/token", data={"csrf_token": token})
    assert unconfirmed.status_code == 200  # shows the confirmation again, changes nothing
    assert (
        db.execute("SELECT retired_at FROM room_tokens WHERE token = ?", [old]).fetchone()[0]
        is None
    )
    replaced = admin.post(f"/rooms/{first}/token", data={"csrf_token": token, "confirm": "yes"})
    assert replaced.status_code == 303
    assert db.execute("SELECT retired_at FROM room_tokens WHERE token = ?", [old]).fetchone()[0]

    # deleting: refused with the reason while a resident lives there, fine when empty
    db.execute(
        "INSERT INTO households (label, room_id, created_at) VALUES ('7-1-101', ?, 'x')", [first]
    )
    hid = db.execute("SELECT id FROM households WHERE room_id = ?", [first]).fetchone()[0]
    db.execute("INSERT INTO residents (household_id, name, created_at) VALUES (?, '', 'x')", [hid])
    db.conn.commit() if db.conn.in_transaction else None
    refused = admin.post(f"/rooms/{first}/delete", data={"csrf_token": token})
    assert refused.status_code == 409 and "1" in refused.text
    asked = admin.post(f"/rooms/{rooms[-1]}/delete", data={"csrf_token": token})
    assert asked.status_code == 200 and 'name="confirmed"' in asked.text  # asks, deletes nothing
    sure = {"csrf_token": token, "confirmed": "yes"}
    assert admin.post(f"/rooms/{rooms[-1]}/delete", data=sure).status_code == 303
    assert db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 11
    db.conn.close()


def test_demo_serve_points_stickers_at_the_served_address(env):
    served_stickers(env["app"], env["config"], "http://127.0.0.1:9123")
    assert env["app"].extensions["menwei"].config.registry.base_url == "http://127.0.0.1:9123"


def test_a_flagged_household_is_put_in_its_room_and_an_empty_one_deleted(env):
    db = db_of(env)
    with transaction(db) as conn:
        odd = household_for_label(conn, "物业办公室", NOW)
        conn.execute(
            "INSERT INTO vehicles (plate, kind, household_id, created_at)"
            " VALUES ('京A00001', 'resident', ?, 'x')",
            (odd,),
        )
        empty = household_for_label(conn, "8-1-101", NOW)
        room = conn.execute("SELECT room_id FROM households WHERE id = ?", (empty,)).fetchone()[0]
    guard = client_as(env, "guard")
    page = guard.get("/people/households")
    assert "物业办公室" in page.text and page.text.count('name="room"') == 1, (
        "a picker: flagged only"
    )
    assert page.text.index("物业办公室") < page.text.index("8-1-101"), "flagged ones first"
    token = csrf_of(page.text)
    refused = guard.post(f"/people/households/{odd}/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    linked = guard.post(
        f"/people/households/{odd}/link", data={"csrf_token": token, "room": f"room:{room}"}
    )
    assert linked.status_code == 303
    assert db.execute("SELECT household_id FROM vehicles").fetchone()[0] == empty
    assert db.execute("SELECT COUNT(*) FROM households WHERE id = ?", [odd]).fetchone()[0] == 0
    with transaction(db) as conn:
        spare = household_for_label(conn, "8-1-102", NOW)
    asked = guard.post(f"/people/households/{spare}/delete", data={"csrf_token": token})
    assert asked.status_code == 200 and 'name="confirmed"' in asked.text  # asks first
    sure = {"csrf_token": token, "confirmed": "yes"}
    assert guard.post(f"/people/households/{spare}/delete", data=sure).status_code == 303
    assert db.execute("SELECT COUNT(*) FROM households WHERE id = ?", [spare]).fetchone()[0] == 0
    db.conn.close()


def test_access_groups_are_named_with_labels_and_chosen_from_the_list(env):
    admin = client_as(env, "admin")
    token = csrf_of(admin.get("/data/").text)
    bad = admin.post("/data/groups", data={"csrf_token": token, "name": "Bad Name", "label": "x"})
    assert bad.status_code == 400 and "cleaners" in bad.text
    done = admin.post(
        "/data/groups", data={"csrf_token": token, "name": "cleaners", "label": "保洁"}
    )
    assert done.status_code == 303
    form = admin.get("/people/new").text
    assert '<option value="cleaners">保洁</option>' in form
    assert '<option value="residents"' in form and "visitors" not in form


def test_faces_zip_in_the_browser_needs_consent_and_reports_each_photo(env, face_labels):
    admin = client_as(env, "admin")
    db = db_of(env)
    with transaction(db) as conn:
        hid = household_for_label(conn, "1-1-101", NOW)
        rid = conn.execute(
            "INSERT INTO residents (household_id, name, created_at) VALUES (?, '', 'x')", (hid,)
        ).lastrowid
    face = next(f for f, who in face_labels.items() if who == "obama" and f.endswith(".jpg"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(f"{rid}.jpg", (FACES / face).read_bytes())
        archive.writestr(f"{rid}_2.jpg", b"not a photo")
    token = csrf_of(admin.get("/data/").text)

    def send(consent: bool):
        data = {"csrf_token": token, "archive": (io.BytesIO(out.getvalue()), "faces.zip")}
        if consent:
            data["consent"] = "yes"
        return admin.post("/data/faces", data=data, content_type="multipart/form-data")

    refused = send(consent=False)
    assert refused.status_code == 400 and "同意" in refused.text
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    report = send(consent=True)
    assert report.status_code == 200 and 'id="faces-report"' in report.text
    assert "1 张通过，1 张未通过，已保存 1 个" in report.text
    assert f"<td>{rid}_2.jpg</td><td>{rid}</td><td>不是 JPEG 或 PNG 照片</td>" in report.text
    consent_by = db.execute("SELECT face_consent_by FROM residents WHERE id = ?", [rid]).fetchone()
    assert consent_by[0] == "admin1"
    db.conn.close()


def test_the_admin_renames_a_community_audited_and_a_bad_name_changes_nothing(env):
    from qr_registry.rooms import add_room

    db = db_of(env)
    with transaction(db) as conn:
        add_room(conn, "本小区", "3幢", "1单元", "402", None, datetime(2026, 12, 1, tzinfo=UTC))
        add_room(conn, "幸福小区", "3幢", "1单元", "402", None, datetime(2026, 12, 1, tzinfo=UTC))
    default = db.execute("SELECT id FROM properties WHERE name = '本小区'").fetchone()[0]
    db.conn.close()
    admin = client_as(env, "admin")
    page = admin.get("/rooms/").text
    assert 'value="本小区"' in page and "2 个房间" not in page  # one room each
    # two communities: the room picker names each building with its community
    picker = admin.get("/people/new").text
    assert 'label="幸福小区 3幢 1单元"' in picker and 'label="本小区 3幢 1单元"' in picker
    url = f"/rooms/community/{default}/name"
    token = csrf_of(page)
    taken = ("幸福小区", "已有小区名为 幸福小区")
    for bad, said in (("", "1 到 40 个字"), taken, ("长" * 41, "1 到 40")):
        response = admin.post(url, data={"csrf_token": token, "name": bad})
        assert response.status_code == 400 and said in response.text, bad
    assert admin.post("/rooms/community/999/name",
                      data={"csrf_token": token, "name": "x"}).status_code == 404  # fmt: skip
    response = admin.post(url, data={"csrf_token": token, "name": "  阳光花园  "})
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).text
    assert "小区名称已保存" in page and 'value="阳光花园"' in page
    db = db_of(env)
    names = {r[0] for r in db.execute("SELECT name FROM properties")}
    audit_rows = list(db.execute("SELECT actor, target, details FROM audit_log"
                                 " WHERE action = 'community_rename'"))  # fmt: skip
    db.conn.close()
    assert names == {"阳光花园", "幸福小区"}
    assert len(audit_rows) == 1 and audit_rows[0][1] == f"community:{default}"
    assert '"from": "本小区"' in audit_rows[0][2] and '"to": "阳光花园"' in audit_rows[0][2]
    audit_page = admin.get("/admin/audit?action=community_rename").text
    assert "小区改名" in audit_page and f"小区 {default}" in audit_page
    guard = client_as(env, "guard")
    assert guard.post(url, data={"csrf_token": csrf_of(guard.get("/console/").text),
                                 "name": "x"}).status_code == 403  # fmt: skip
