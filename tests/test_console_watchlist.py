"""The watchlist console (/watchlist): roles, plates and faces added and removed with their
audit rows, district entries read-only, bad input refused, and a face added here raising
an alert at a real pedestrian gate loop on the app's database and key."""

from __future__ import annotations

import io
from datetime import timedelta

import cv2
import numpy as np
import pytest
from helpers import FACES, client_as, db_of, form_fields

from edge.db import transaction
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.people.watch_faces import PURPOSE, add_watch_face
from edge.policy.person import GateFacts
from gate_drivers.door import Door, DoorLock
from sync.downlink import apply_watchlist, parse_watchlist

TABLES = ("watchlist", "watch_faces", "audit_log", "form_submissions")


@pytest.fixture
def env(tmp_path, console_env):
    return console_env(tmp_path)  # 2025-06-01 10:00 site time


def counts(env) -> dict[str, int]:
    db = db_of(env)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        db.conn.close()


def audit_actions(env) -> list[str]:
    db = db_of(env)
    return [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action != 'login'")]


def fields_of(client, form_id: str) -> dict[str, str]:
    """CSRF token and the nonce of the form with ``form_id`` on the watchlist page."""
    html = client.get("/watchlist/").text
    section = html[html.index(f'id="{form_id}"') :]
    fields = form_fields(html)
    fields["form_nonce"] = form_fields(section)["form_nonce"] if "form_nonce" in section else ""
    return fields


def add_plate(client, **values: str):
    data = {**fields_of(client, "plate-form"), "plate": "京a·88888", "reason": "reported stolen"}
    return client.post("/watchlist/plates", data={**data, **values})


def add_face(client, photos, **values: str):
    data = {**fields_of(client, "face-form"), "label": "wanted person 2026-118", "reason": "theft"}
    data.update(values)
    data["photo"] = photos
    return client.post("/watchlist/faces", data=data, content_type="multipart/form-data")


def photo(name: str):
    return (io.BytesIO((FACES / name).read_bytes()), name)


# -- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "police"])
def test_admin_and_police_see_the_watchlist(env, role):
    client = client_as(env, role)
    assert client.get("/watchlist/").status_code == 200
    viewed = "view" in audit_actions(env)
    assert viewed == (role == "police")  # every police access is audit-logged


def test_a_watch_sent_ahead_says_when_it_starts_to_alert(env):
    """A 布控 the platform sent ahead is listed at once, with the time it starts to alert."""
    db = db_of(env)
    starts = env["clock"]() + timedelta(days=1)
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO watchlist (plate, reason, source, created_at, starts_at)"
            " VALUES ('京A12321', '布控 D8', 'district', ?, ?)",
            (env["clock"]().isoformat(), starts.isoformat()),
        )
    page = client_as(env, "police").get("/watchlist/?lang=en").text
    assert "京A12321" in page and "alerts from 2025-06-02 10:00" in page
    assert "自 2025-06-02 10:00 起报警" in client_as(env, "police").get("/watchlist/?lang=zh").text


@pytest.mark.parametrize("role", ["guard", "landlord", "grid"])
def test_other_roles_are_refused(env, role):
    client = client_as(env, role)
    assert client.get("/watchlist/").status_code == 403
    fields = form_fields(client.get("/login").text)
    before = counts(env)
    response = client.post("/watchlist/plates", data={**fields, "plate": "京A88888", "reason": "x"})
    assert response.status_code == 403
    assert client.post("/watchlist/plates/1/remove", data=fields).status_code == 403
    assert counts(env) == before


def test_anonymous_is_sent_to_login(env):
    client = client_as(env, None)
    response = client.get("/watchlist/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- plates -----------------------------------------------------------------------------------
def test_add_and_remove_a_local_plate_with_audit_rows(env):
    client = client_as(env, "police")
    response = add_plate(client, expires_at="2025-07-01T10:00")
    assert response.status_code == 303 and "done=plate_added" in response.headers["Location"]
    db = db_of(env)
    row = db.execute("SELECT id, plate, reason, source, expires_at FROM watchlist").fetchone()
    assert tuple(row)[1:] == (
        "京A88888",
        "reported stolen",
        "local",
        "2025-07-01T02:00:00.000+00:00",
    )
    page = client.get("/watchlist/").text
    assert 'id="watch-plate-1"' in page and "京A88888" in page
    assert (
        client.post(
            f"/watchlist/plates/{row[0]}/remove",
            data={**fields_of(client, "plate-form"), "confirmed": "yes"},
        ).status_code
        == 303
    )
    assert db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 0
    assert [a for a in audit_actions(env) if a != "view"] == [
        "watch_plate_add",
        "watch_plate_remove",
    ]


def test_double_submit_adds_one_plate(env):
    client = client_as(env, "admin")
    data = {**fields_of(client, "plate-form"), "plate": "京A88888", "reason": "stolen"}
    assert client.post("/watchlist/plates", data=data).status_code == 303
    assert client.post("/watchlist/plates", data=data).status_code == 409
    assert counts(env)["watchlist"] == 1


def test_bad_plate_input_is_a_clear_400_and_changes_nothing(env):
    client = client_as(env, "admin")
    assert add_plate(client).status_code == 303
    before = counts(env)
    for values, field in [
        ({"plate": "京AO8888"}, "plate"),
        ({"plate": ""}, "plate"),
        ({"reason": " "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"expires_at": "2025-05-01T10:00"}, "expires_at"),
        ({"expires_at": "soon"}, "expires_at"),
        ({}, "plate"),  # already on the local watchlist
    ]:
        response = add_plate(client, **values)
        assert response.status_code == 400, values
        assert f'id="error-plate-{field}"' in response.text, values
    assert counts(env) == before


def test_district_entries_are_shown_but_not_removable(env):
    db = db_of(env)
    items = parse_watchlist({"items": [{"plate": "粤B12345", "reason": "district case"}]})
    apply_watchlist(db, items, "e1")
    client = client_as(env, "admin")
    page = client.get("/watchlist/").text
    [watch_id] = [r[0] for r in db.execute("SELECT id FROM watchlist")]
    assert "粤B12345" in page and f"/watchlist/plates/{watch_id}/remove" not in page
    before = counts(env)
    fields = fields_of(client, "plate-form")
    assert client.post(f"/watchlist/plates/{watch_id}/remove", data=fields).status_code == 409
    assert client.post("/watchlist/plates/999/remove", data=fields).status_code == 404
    assert (
        client.post("/watchlist/plates/99999999999999999999/remove", data=fields).status_code == 404
    )
    assert counts(env) == before


# -- faces -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


def test_face_added_here_is_encrypted_and_raises_an_alert_at_the_door(
    env, recogniser, face_labels, pin_factory
):
    client = client_as(env, "police")
    response = add_face(client, [photo("fr_biden_biden2.jpg")], expires_at="2025-12-31T23:00")
    assert response.status_code == 303, response.text
    db = db_of(env)
    row = db.execute("SELECT id, label, source, template, added_by FROM watch_faces").fetchone()
    assert (row[1], row[2], row[4]) == (
        "wanted person 2026-118",
        "local",
        f"user:{env['ids']['police']}",
    )
    vault = env["app"].extensions["menwei"].vault
    vector = np.frombuffer(vault.decrypt(row[3], PURPOSE), "<f4")
    assert vector.shape == (128,) and vector.tobytes() not in row[3]  # stored encrypted
    assert "watch_face_add" in audit_actions(env)

    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    lock = DoorLock(17, "fail_safe", 0.2, active_high=True, pin_factory=pin_factory)
    holder: dict = {}
    door = Door(lock, lambda k, d: holder["loop"].door_event(k, d))
    gate = GateFacts("east", "pedestrian", (("residents", "always"),))
    loop = holder["loop"] = PedestrianGateLoop(
        gate, door, recogniser, db, vault, None, PedestrianSettings(), clock=env["clock"]
    )
    try:
        frame, now = read_image_file(FACES / "fr_biden.jpg"), env["clock"]()
        outcomes = [
            o for i in range(3) for o in loop.process_frame(frame, now + timedelta(seconds=0.2 * i))
        ]
        assert [(o.kind, o.decision) for o in outcomes] == [("face_unknown", "deny")]
        [alert] = db.execute(
            "SELECT related_event_id, decision FROM events WHERE kind = 'watchlist_alert'"
        ).fetchall()
        assert tuple(alert) == (outcomes[0].event_id, "none")

        remove = client.post(
            f"/watchlist/faces/{row[0]}/remove",
            data={**fields_of(client, "face-form"), "confirmed": "yes"},
        )
        assert remove.status_code == 303
        assert db.execute("SELECT COUNT(*) FROM watch_faces").fetchone()[0] == 0
        assert loop.refresh_index() and len(loop.watch.index) == 0
    finally:
        door.close()
        pin_factory.reset()


def test_double_submit_adds_one_face(env, face_labels):
    client = client_as(env, "admin")
    data = {**fields_of(client, "face-form"), "label": "case 3", "reason": "theft"}
    for expected in (303, 409):
        upload = {**data, "photo": [photo("fr_biden.jpg")]}
        response = client.post("/watchlist/faces", data=upload, content_type="multipart/form-data")
        assert response.status_code == expected
    assert counts(env)["watch_faces"] == 1


def noise_png() -> bytes:
    image = np.random.default_rng(5).integers(0, 255, (480, 640, 3), np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def test_bad_face_input_is_a_clear_400_and_changes_nothing(env, face_labels):
    client = client_as(env, "admin")
    before = counts(env)
    for case, photos, values, field in [
        ("not an image", lambda: [(io.BytesIO(b"GIF89a....."), "x.gif")], {}, "photo"),
        ("no face", lambda: [(io.BytesIO(noise_png()), "noise.png")], {}, "photo"),
        ("two faces", lambda: [photo("fr_two_people.jpg")], {}, "photo"),
        ("no photo", lambda: [], {}, "photo"),
        ("two photos", lambda: [photo("fr_biden.jpg"), photo("fr_obama.jpg")], {}, "photo"),
        ("no label", lambda: [photo("fr_biden.jpg")], {"label": ""}, "label"),
        ("no reason", lambda: [photo("fr_biden.jpg")], {"reason": ""}, "reason"),
        (
            "past end",
            lambda: [photo("fr_biden.jpg")],
            {"expires_at": "2024-01-01T00:00"},
            "expires_at",
        ),
    ]:
        response = add_face(client, photos(), **values)
        assert response.status_code == 400, case
        assert f'id="error-face-{field}"' in response.text, case
    assert counts(env) == before


def test_district_faces_are_not_removable(env, recogniser, face_labels):
    db = db_of(env)
    from edge.people.resident_faces import check_photos

    [template] = check_photos(recogniser, [(0, "b", read_image_file(FACES / "fr_biden.jpg"))])
    vault = env["app"].extensions["menwei"].vault
    with transaction(db) as conn:
        wid = add_watch_face(
            conn,
            vault,
            template,
            recogniser.model_sha256,
            "district case",
            "",
            "sync",
            env["clock"](),
        )
        conn.execute("UPDATE watch_faces SET source = 'district' WHERE id = ?", (wid,))
    client = client_as(env, "admin")
    page = client.get("/watchlist/").text
    assert 'id="watch-face-1"' in page and "/watchlist/faces/1/remove" not in page
    before = counts(env)
    fields = fields_of(client, "face-form")
    assert client.post(f"/watchlist/faces/{wid}/remove", data=fields).status_code == 409
    assert client.post("/watchlist/faces/42/remove", data=fields).status_code == 404
    assert counts(env) == before
