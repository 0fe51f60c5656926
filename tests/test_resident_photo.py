"""A resident's enrolment photo thumbnail: kept (encrypted, the aligned face) only when the
resident agreed to it, shown on the resident's page to admins and guards, a placeholder
otherwise; replaced or removed by the next enrolment, deleted with the templates and with
the resident; no other role gets it.

Real SQLite file, real app and test client, the real face models and the face photos of
../shared/fixtures/faces (skipped with a reason when absent).
"""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from helpers import FACES, client_as, db_of, form_fields

from edge.people.resident_faces import PHOTO_PURPOSE


@pytest.fixture
def env(tmp_path, console_env, face_labels):
    return console_env(tmp_path)


def nonce_in(html: str, form_id: str) -> str:
    section = html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    return re.search(r'name="form_nonce" value="([^"]+)"', section).group(1)


def add_resident(client) -> int:
    fields = form_fields(client.get("/people/new").text)
    data = {**fields, "name": "王小明", "household": "3-1-402", "group": "residents"}
    response = client.post("/people/new", data=data)
    assert response.status_code == 303, response.text
    return int(re.search(r"/people/(\d+)\?done=added", response.headers["Location"]).group(1))


def enrol(client, rid: int, name: str, keep_photo: bool):
    page = client.get(f"/people/{rid}").text
    data = {
        "csrf_token": form_fields(page)["csrf_token"],
        "form_nonce": nonce_in(page, "faces-form"),
        "photos": [(io.BytesIO((FACES / name).read_bytes()), name)],
        "consent": "yes",
    }
    if keep_photo:
        data["keep_photo"] = "yes"
    response = client.post(f"/people/{rid}/faces", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.text


def photo_rows(env) -> list:
    return db_of(env).execute("SELECT resident_id, photo FROM resident_face_photos").fetchall()


def test_photo_kept_only_with_consent_encrypted_and_deleted_with_templates(env):
    guard = client_as(env, "guard")
    rid = add_resident(guard)
    page = guard.get(f"/people/{rid}").text
    assert 'id="face-placeholder"' in page and 'id="face-photo"' not in page
    assert guard.get(f"/people/{rid}/photo.jpg").status_code == 404

    enrol(guard, rid, "fr_obama.jpg", keep_photo=False)
    assert photo_rows(env) == []
    assert 'id="face-placeholder"' in guard.get(f"/people/{rid}").text

    enrol(guard, rid, "fr_obama2.jpg", keep_photo=True)
    [(resident, blob)] = photo_rows(env)
    assert resident == rid and not blob.startswith(b"\xff\xd8")  # not a plain JPEG
    vault = env["app"].extensions["menwei"].vault
    jpeg = vault.decrypt(blob, PHOTO_PURPOSE)
    assert jpeg not in env["config"].storage.database_path.read_bytes()
    page = guard.get(f"/people/{rid}").text
    assert 'id="face-photo"' in page and 'id="face-placeholder"' not in page
    response = guard.get(f"/people/{rid}/photo.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data == jpeg
    assert "no-store" in response.headers.get("Cache-Control", "")
    image = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (112, 112)  # the aligned face, not the uploaded photo
    assert client_as(env, "admin").get(f"/people/{rid}/photo.jpg").status_code == 200

    enrol(guard, rid, "fr_obama3.jpg", keep_photo=False)  # agreement not renewed: removed
    assert photo_rows(env) == []
    enrol(guard, rid, "fr_obama3.jpg", keep_photo=True)
    assert len(photo_rows(env)) == 1

    page = guard.get(f"/people/{rid}").text
    withdrawn = guard.post(
        f"/people/{rid}/faces/delete",
        data={"csrf_token": form_fields(page)["csrf_token"], "confirmed": "yes"},
    )
    assert withdrawn.status_code == 303 and photo_rows(env) == []
    assert guard.get(f"/people/{rid}/photo.jpg").status_code == 404


def test_photo_goes_with_the_resident_and_other_roles_never_get_it(env):
    guard = client_as(env, "guard")
    rid = add_resident(guard)
    enrol(guard, rid, "fr_obama.jpg", keep_photo=True)
    for role in ("police", "grid", "landlord"):
        assert client_as(env, role).get(f"/people/{rid}/photo.jpg").status_code == 403
    anonymous = client_as(env, None).get(f"/people/{rid}/photo.jpg")
    assert anonymous.status_code == 302
    page = guard.get(f"/people/{rid}/delete").text
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', page)
    data = {
        "csrf_token": form_fields(page)["csrf_token"],
        "confirm_id": str(rid),
        "confirmed": "yes",
    }
    if nonce:
        data["form_nonce"] = nonce.group(1)
    deleted = guard.post(f"/people/{rid}/delete", data=data)
    assert deleted.status_code in (303, 302), deleted.text
    assert photo_rows(env) == []
