"""Thumbnails in gate-event search rows: the plate (vehicles) or the face (people) cropped
from the snapshot by the box the gate wrote, through the authenticated snapshot route, with
each role's rights (grid workers see plates, never faces or whole pictures; landlords
nothing) and police and grid views audit-logged.

Real SQLite file, real app and test client, snapshots written by edge.store.snapshots.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from helpers import audit_rows, client_as, db_of

from edge.store.snapshot_access import stored_box
from edge.vocabulary import Vocabulary

NOW = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
PLATE_BOX = [200, 150, 300, 180]  # in the 640-px frame of helpers.picture
FACE_BOX = [400, 60, 480, 160]


@pytest.fixture(scope="module")
def scene(tmp_path_factory, gate_config, console_env, event_recorder):
    tmp = tmp_path_factory.mktemp("thumbs")
    config = gate_config(tmp)
    env = console_env(tmp, config=config)
    writer = event_recorder(config)
    at = NOW - timedelta(minutes=5)
    env["car"] = writer.write(
        at, decision="open", plate="皖A12345", snapshot=True,
        details={"plate_box": PLATE_BOX, "frame_w": 640},
    ).id  # fmt: skip
    env["face"] = writer.write(
        at + timedelta(seconds=1), kind="face_passage", gate="east", decision="open",
        subject="resident: 3-1-402", snapshot=True,
        details={"face_box": FACE_BOX, "frame_w": 640},
    ).id  # fmt: skip
    env["old"] = writer.write(at + timedelta(seconds=2), plate="皖B54321", snapshot=True).id
    env["outside"] = writer.write(
        at + timedelta(seconds=3), plate="皖C11111", snapshot=True,
        details={"plate_box": [5000, 5000, 5100, 5050]},
    ).id  # fmt: skip
    env["junk"] = writer.write(
        at + timedelta(seconds=4), plate="皖D22222", snapshot=True,
        details={"plate_box": ["a", True, None, 3], "frame_w": "x"},
    ).id  # fmt: skip
    yield env
    writer.close()


def jpeg_width(body: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return int(image.shape[1])


def test_admin_search_rows_show_plate_and_face_crops(scene):
    admin = client_as(scene, "admin")
    html = admin.get("/events/").text
    for key in ("car", "face"):
        assert f"/events/{scene[key]}/snapshot?size=crop" in html
    assert f"/events/{scene['old']}/snapshot?size=thumb" in html  # no box: the small picture
    assert "是</a>" not in html
    for key in ("car", "face"):
        response = admin.get(f"/events/{scene[key]}/snapshot?size=crop")
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert jpeg_width(response.data) == 160


def test_the_crop_is_the_box_not_the_picture(scene):
    """The crop's mean colour matches the box's region of the stored snapshot."""
    admin = client_as(scene, "admin")
    whole = cv2.imdecode(
        np.frombuffer(admin.get(f"/events/{scene['car']}/snapshot").data, np.uint8),
        cv2.IMREAD_COLOR,
    )
    crop = cv2.imdecode(
        np.frombuffer(admin.get(f"/events/{scene['car']}/snapshot?size=crop").data, np.uint8),
        cv2.IMREAD_COLOR,
    )
    x1, y1, x2, y2 = PLATE_BOX
    assert crop.shape[1] / crop.shape[0] == pytest.approx((x2 - x1) / (y2 - y1), rel=0.15)
    region = whole[y1 - 10 : y2 + 10, x1 - 35 : x2 + 35].mean(axis=(0, 1))
    assert np.abs(crop.mean(axis=(0, 1)) - region).max() < 25


def test_boxes_outside_the_picture_or_malformed_are_404(scene):
    admin = client_as(scene, "admin")
    for key in ("outside", "junk", "old"):
        assert admin.get(f"/events/{scene[key]}/snapshot?size=crop").status_code == 404


def test_box_scaled_to_a_shrunk_snapshot():
    assert stored_box({"plate_box": [960, 540, 1152, 600], "frame_w": 1920}, 1280) == (
        640, 360, 768, 400,
    )  # fmt: skip
    assert stored_box({"face_box": [1, 2, 1, 5]}, 640) is None
    assert stored_box({"plate_box": [1, 2, 3]}, 640) is None


def test_grid_sees_plates_only(scene):
    grid = client_as(scene, "grid")
    db = db_of(scene)
    refused_before = len(audit_rows(db, "snapshot_refused"))
    html = grid.get("/events/").text
    assert f"/events/{scene['car']}/snapshot?size=crop" in html
    assert f"/events/{scene['face']}/snapshot" not in html
    assert f"/events/{scene['old']}/snapshot" not in html
    assert "您的角色无权查看" in html
    assert grid.get(f"/events/{scene['car']}/snapshot?size=crop").status_code == 200
    for key, size in (("car", ""), ("car", "thumb"), ("face", "crop"), ("face", ""),
                      ("face", "thumb"), ("old", "thumb")):  # fmt: skip
        response = grid.get(f"/events/{scene[key]}/snapshot?size={size}")
        assert response.status_code == 403, (key, size)
        assert response.mimetype == "text/html"
    assert len(audit_rows(db, "snapshot_refused")) == refused_before + 6
    page = grid.get(f"/events/{scene['face']}").text
    assert f"/events/{scene['face']}/snapshot" not in page


def test_police_views_of_crops_are_audited(scene):
    police = client_as(scene, "police")
    db = db_of(scene)
    before = len(audit_rows(db, "view_snapshot"))
    assert police.get(f"/events/{scene['face']}/snapshot?size=crop").status_code == 200
    rows = audit_rows(db, "view_snapshot")
    assert len(rows) == before + 1
    assert rows[-1]["target"] == f"event:{scene['face']}" and rows[-1]["details"] == {
        "size": "crop"
    }


def test_guard_views_are_not_audited(scene):
    guard = client_as(scene, "guard")
    db = db_of(scene)
    before = len(audit_rows(db, "view_snapshot"))
    assert guard.get(f"/events/{scene['face']}/snapshot?size=crop").status_code == 200
    assert len(audit_rows(db, "view_snapshot")) == before


@pytest.mark.parametrize("role", ["landlord", None])
def test_no_pictures_for_landlords_or_anyone(scene, role):
    client = client_as(scene, role)
    response = client.get(f"/events/{scene['car']}/snapshot?size=crop")
    assert response.status_code in (302, 403)
    assert response.mimetype != "image/jpeg"


def test_unknown_size_is_400(scene):
    assert (
        client_as(scene, "admin").get(f"/events/{scene['car']}/snapshot?size=huge").status_code
        == 400
    )


def test_the_event_page_shows_pixel_boxes_only_as_a_diagnostic_in_zh(scene):
    """A guard reads the plate (the crop), not "[200, 150, 300, 180]": the box, the face box
    and the picture width are labelled in zh, marked for support and listed after the
    details a guard reads; a detail key this version has no words for is a diagnostic too."""
    guard = client_as(scene, "guard")
    for key, label in (("car", "车牌在图中的位置"), ("face", "人脸在图中的位置")):
        html = guard.get(f"/events/{scene[key]}").text
        details = html[
            html.index('id="details"') : html.index("</table>", html.index('id="details"'))
        ]
        assert label in details and "图片宽度" in details, key
        assert "face_box" not in details and "frame_w" not in details and "[" not in details
        rows = re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", details)
        assert rows and all(value.startswith('<code class="diagnostic"') for _label, value in rows
                            if "像素" in _label), rows  # fmt: skip
        assert "x 200–300, y 150–180" in details or key == "face"
    words = Vocabulary(lambda text: text, UTC)
    shown = words.details({"colour": "blue", "plate_box": PLATE_BOX, "new_key": 3})
    assert [(label, diagnostic) for label, _value, diagnostic in shown] == [
        ("Plate colour", False),
        ("new_key", True),
        ("Plate position in the picture (pixels, for support)", True),
    ]
