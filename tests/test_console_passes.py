"""The visitor-pass console (/passes): roles, issuing each kind and seeing it honoured by
the real gate loops, the QR code shown once, double submits, bad input, revoking.

Real app (create_app) on a real SQLite file, real face and plate models, real photos from
../shared/fixtures/faces; the gate loops run on the app's own database and key.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from helpers import FACES, client_as, db_of, form_fields, qr_token

from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.gates.pedestrian import PedestrianGateLoop, PedestrianSettings
from edge.gates.vehicle import VehicleGateLoop
from edge.people.passes import pass_fact, token_hash
from edge.people.residents import add_resident
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy import person, vehicle
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.door import Door, DoorLock

synth = pytest.importorskip("edge.plates.synth")
PLATE = "沪C0L876"
DOOR = person.GateFacts("east", "pedestrian", (("residents", "always"), ("visitors", "always")))
TABLES = ("qr_passes", "vehicles", "residents", "face_templates", "audit_log", "form_submissions")


@pytest.fixture
def env(tmp_path, console_env):
    env = console_env(tmp_path)  # the clock stands at 2025-06-01 10:00 site time
    db = db_of(env)
    db.execute("INSERT INTO gates VALUES ('east', 'East', 'pedestrian', 'x')")
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    env["host"] = add_resident(db, env["app"].extensions["menwei"].vault, "Host", "3-1-402")
    db.conn.close()
    return env


def counts(env) -> dict[str, int]:
    db = db_of(env)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        db.conn.close()


def form(kind: str, **changes: str) -> dict[str, str]:
    values = {
        "household": "3-1-402",
        "host_resident": "",
        "valid_from": "2025-06-01T10:00",
        "valid_to": "2025-06-01T18:00",
        "uses": "2",
        "note": "plumber",
    }
    if kind == "plate":
        values["plate"] = "沪c·0l876"
    return {**values, **changes}


def issue(client, kind: str, files=None, **changes: str):
    page = client.get(f"/passes/new/{kind}")
    assert page.status_code == 200
    data = {**form_fields(page.text), **form(kind, **changes)}
    if files is not None:
        data.update(files)
        return client.post(f"/passes/new/{kind}", data=data, content_type="multipart/form-data")
    return client.post(f"/passes/new/{kind}", data=data)


# -- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "guard"])
def test_admin_and_guard_see_the_passes(env, role):
    client = client_as(env, role)
    assert client.get("/passes/").status_code == 200
    for kind in ("qr", "plate", "face"):
        assert client.get(f"/passes/new/{kind}").status_code == 200


@pytest.mark.parametrize("role", ["landlord", "police", "grid"])
def test_other_roles_are_refused(env, role):
    client = client_as(env, role)
    assert client.get("/passes/").status_code == 403
    assert client.get("/passes/new/qr").status_code == 403
    fields = form_fields(client.get("/login").text)  # the session's CSRF token is valid
    before = counts(env)
    response = client.post("/passes/new/qr", data={**fields, **form("qr")})
    assert response.status_code == 403 and counts(env) == before
    assert client.post("/passes/qr/1/revoke", data=fields).status_code == 403


def test_anonymous_is_sent_to_login(env):
    client = client_as(env, None)
    response = client.get("/passes/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/passes/new/qr", data=form("qr")).status_code in (400, 401)


# -- QR passes -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


def door_loop(env, recogniser, factory):
    lock = DoorLock(17, "fail_safe", 0.2, active_high=True, pin_factory=factory)
    holder: dict = {}
    door = Door(lock, lambda k, d: holder["loop"].door_event(k, d))
    db = db_of(env)
    vault = env["app"].extensions["menwei"].vault
    loop = PedestrianGateLoop(
        DOOR, door, recogniser, db, vault, None, PedestrianSettings(), clock=env["clock"]
    )
    holder["loop"] = loop
    return loop, door


def qr_frame(token: str) -> np.ndarray:
    canvas = np.full((480, 640, 3), 255, np.uint8)
    code = cv2.QRCodeEncoder.create().encode(token)
    code = cv2.resize(code, None, fx=300 // code.shape[0], fy=300 // code.shape[0],
                      interpolation=cv2.INTER_NEAREST)  # fmt: skip
    h, w = code.shape
    canvas[90 : 90 + h, 170 : 170 + w] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    return canvas


def test_qr_pass_is_shown_once_and_opens_the_door(env, recogniser, pin_factory):
    client = client_as(env, "guard")
    page = client.get("/passes/new/qr")
    data = {**form_fields(page.text), **form("qr")}
    response = client.post("/passes/new/qr", data=data)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = qr_token(response.text)
    assert re.search(r'<a [^>]*href="data:image/png;base64,[^"]+" download="menwei-pass-\d+\.png"',
                     response.text)  # fmt: skip
    db = db_of(env)
    fact = pass_fact(db, token)
    assert fact is not None and (fact.max_uses, fact.label) == (2, "visitor of 3-1-402: plumber")
    stored = str(db.execute("SELECT * FROM qr_passes").fetchall())
    assert token not in stored and token_hash(token) in stored
    audit = db.execute(
        "SELECT actor, action, target, details FROM audit_log WHERE action != 'login'"
    ).fetchall()
    assert [(a[0], a[1]) for a in audit] == [(f"user:{env['ids']['guard']}", "pass_issue")]
    assert token not in str(audit)

    again = client.post("/passes/new/qr", data=data)  # double submit: same nonce
    assert again.status_code == 409 and token not in again.text
    assert db.execute("SELECT COUNT(*) FROM qr_passes").fetchone()[0] == 1
    listing = client.get("/passes/")
    assert token not in listing.text and f'id="pass-qr-{fact.id}"' in listing.text
    loop, door = door_loop(env, recogniser, pin_factory)
    try:
        now = env["clock"]()
        [opened] = loop.process_frame(qr_frame(token), now)
        assert (opened.kind, opened.decision) == ("qr_pass", "open")
        revoke = client.post(
            f"/passes/qr/{fact.id}/revoke",
            data={**form_fields(client.get("/passes/").text), "confirmed": "yes"},
        )
        assert revoke.status_code == 303
        [refused] = loop.process_frame(qr_frame(token), now + timedelta(seconds=30))
        assert refused.decision == "deny" and refused.reasons[0]["code"] == "pass_revoked"
    finally:
        door.close()
        pin_factory.reset()


# -- plate passes ------------------------------------------------------------------------------
def test_plate_pass_is_honoured_and_counted_by_the_vehicle_loop(env, tmp_path, pin_factory):
    client = client_as(env, "admin")
    response = issue(client, "plate", uses="1")
    assert response.status_code == 303 and "done=plate" in response.headers["Location"]
    db = db_of(env)
    row = db.execute("SELECT id, plate, kind, max_uses, uses, issued_by FROM vehicles").fetchone()
    assert tuple(row)[1:] == (PLATE, "visitor", 1, 0, f"user:{env['ids']['admin']}")
    assert 'id="done"' in client.get(response.headers["Location"]).text
    barrier = Barrier(18, pulse_s=0.05, active_high=True, pin_factory=pin_factory)
    loop = VehicleGateLoop(
        vehicle.GateFacts("north", "vehicle"), None, barrier, PlateReader(), PlateVoter(), db,
        SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai")), clock=env["clock"],
    )  # fmt: skip
    try:
        start = env["clock"]()
        outcomes = []
        for visit in (start, start + timedelta(minutes=10)):
            env["clock"].moment = visit
            for i in range(3):
                image = synth.render_scene(PLATE, seed=i)
                outcomes += loop.process_frame(image, visit + timedelta(milliseconds=200 * i))
            outcomes += loop.tick(visit + timedelta(seconds=5))
        assert [o.decision for o in outcomes] == ["open", "deny"]
        assert outcomes[1].reasons[0]["code"] == "visitor_used_up"
        assert db.execute("SELECT uses FROM vehicles").fetchone()[0] == 1
        listing = client.get("/passes/?status=used_up")
        assert f'id="pass-plate-{row[0]}"' in listing.text
    finally:
        barrier.close()


def test_double_submitted_plate_pass_creates_one(env):
    client = client_as(env, "guard")
    page = client.get("/passes/new/plate")
    data = {**form_fields(page.text), **form("plate")}
    assert client.post("/passes/new/plate", data=data).status_code == 303
    second = client.post("/passes/new/plate?lang=en", data=data)
    assert second.status_code == 409 and "nothing was issued twice" in second.text
    db = db_of(env)
    assert db.execute("SELECT COUNT(*) FROM vehicles").fetchone()[0] == 1
    assert (
        db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'pass_issue'").fetchone()[0] == 1
    )


BAD_PLATE_FORMS = [
    ({"plate": "沪CO1234"}, "plate"),
    ({"plate": ""}, "plate"),
    ({"valid_to": "2025-06-01T09:00"}, "valid_to"),
    ({"valid_to": ""}, "valid_to"),
    ({"valid_to": "tomorrow"}, "valid_to"),
    ({"valid_to": "2025-07-02T10:00"}, "valid_to"),
    ({"valid_from": "2025-06-01T09:00"}, "valid_from"),
    ({"valid_from": "2025-02-30T10:00"}, "valid_from"),
    ({"uses": "0"}, "uses"),
    ({"uses": "101"}, "uses"),
    ({"uses": "two"}, "uses"),
    ({"uses": "-1"}, "uses"),
    ({"household": "9-9-999"}, "household"),
    ({"household": ""}, "household"),
    ({"host_resident": "77"}, "host_resident"),
    ({"host_resident": "99999999999999999999"}, "host_resident"),
    ({"note": "call 13800138000"}, "note"),
]


def test_bad_plate_pass_input_is_a_clear_400_and_changes_nothing(env):
    client = client_as(env, "guard")
    before = counts(env)
    for changes, field in BAD_PLATE_FORMS:
        response = issue(client, "plate", **changes)
        assert response.status_code == 400, changes
        assert f'id="error-{field}"' in response.text, changes
    assert counts(env) == before


def test_bad_qr_pass_input_keeps_what_was_typed(env):
    client = client_as(env, "admin")
    before = counts(env)
    response = issue(client, "qr", uses="500", note="for the lift repair")
    assert response.status_code == 400 and 'value="for the lift repair"' in response.text
    assert "使用次数须为 1 至 100 的整数" in response.text  # zh is the default language
    assert counts(env) == before


# -- face passes -------------------------------------------------------------------------------
def photo_file(name: str):
    return (io.BytesIO((FACES / name).read_bytes()), name)


def test_face_pass_with_consent_opens_the_door_for_the_visitor(
    env, recogniser, face_labels, pin_factory
):
    client = client_as(env, "guard")
    files = {"photos": [photo_file("fr_obama.jpg"), photo_file("fr_obama2.jpg")], "consent": "yes"}
    response = issue(client, "face", files=files, host_resident=str(env["host"]), household="")
    assert response.status_code == 303, response.text
    db = db_of(env)
    visitor = db.execute(
        "SELECT id, kind, max_uses, face_consent_by, host_resident_id FROM residents"
        " WHERE kind = 'visitor'"
    ).fetchone()
    assert tuple(visitor)[1:] == ("visitor", 2, "guard1", env["host"])
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 2
    [(details,)] = db.execute("SELECT details FROM audit_log WHERE action = 'pass_issue'")
    assert '"templates": 2' in details
    loop, door = door_loop(env, recogniser, pin_factory)
    try:
        face = read_image_file(FACES / "fr_obama1.jpg")
        now = env["clock"]()
        outcomes = [
            o for i in range(3) for o in loop.process_frame(face, now + timedelta(seconds=0.2 * i))
        ]
        assert [(o.kind, o.decision) for o in outcomes] == [("face_passage", "open")]
        assert outcomes[0].subject.startswith(
            f"visitors: visitor {visitor[0]} of household 3-1-402"
        )
        assert (
            db.execute("SELECT uses FROM residents WHERE id = ?", (visitor[0],)).fetchone()[0] == 1
        )
        revoked = client.post(
            f"/passes/face/{visitor[0]}/revoke",
            data={**form_fields(client.get("/passes/").text), "confirmed": "yes"},
        )
        assert revoked.status_code == 303
        assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
        assert loop.refresh_index() and len(loop.index) == 0
    finally:
        door.close()
        pin_factory.reset()


def noise_png() -> bytes:
    image = np.random.default_rng(3).integers(0, 255, (480, 640, 3), np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


BAD_UPLOADS = {
    "not-an-image": (lambda: [(io.BytesIO(b"not a photo at all"), "a.jpg")], True, "photos"),
    "no-face": (lambda: [(io.BytesIO(noise_png()), "noise.png")], True, "photos"),
    "no-photo": (lambda: [], True, "photos"),
    "no-consent": (lambda: [photo_file("fr_obama.jpg")], False, "consent"),
    "two-faces": (lambda: [photo_file("fr_two_people.jpg")], True, "photos"),
}


def test_bad_face_pass_input_is_a_clear_400_and_changes_nothing(env, face_labels):
    client = client_as(env, "admin")
    before = counts(env)
    for case, (photos, consent, field) in BAD_UPLOADS.items():
        files = {"photos": photos(), **({"consent": "yes"} if consent else {})}
        response = issue(client, "face", files=files)
        assert response.status_code == 400, case
        assert f'id="error-{field}"' in response.text, case
    assert counts(env) == before


# -- the list and revoking ------------------------------------------------------------------------
def test_list_by_status_and_revoke_any_kind(env):
    client = client_as(env, "guard")
    assert issue(client, "plate").status_code == 303
    assert (
        issue(client, "qr", valid_from="2025-06-02T10:00", valid_to="2025-06-02T12:00").status_code
        == 200
    )
    listing = client.get("/passes/?status=upcoming&lang=en")
    assert listing.status_code == 200 and 'id="pass-qr-1"' in listing.text
    assert 'id="pass-plate-1"' not in listing.text
    assert 'id="pass-plate-1"' in client.get("/passes/?status=active").text
    assert client.get("/passes/?status=nonsense").status_code == 400

    fields = {**form_fields(client.get("/passes/").text), "confirmed": "yes"}
    assert client.post("/passes/plate/1/revoke", data=fields).status_code == 303
    assert 'id="pass-plate-1"' in client.get("/passes/?status=revoked").text
    assert client.post("/passes/plate/1/revoke", data=fields).status_code == 409
    before = counts(env)
    for url in ("/passes/plate/999/revoke", "/passes/face/1/revoke", "/passes/bogus/1/revoke",
                "/passes/qr/99999999999999999999/revoke", "/passes/qr/-1/revoke"):  # fmt: skip
        assert client.post(url, data=fields).status_code == 404, url
    assert counts(env) == before
    env["clock"].advance(days=2)
    client = client_as(env, "guard")  # the session idled out meanwhile
    assert 'id="pass-qr-1"' in client.get("/passes/?status=expired").text
    db = db_of(env)
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'pass_%'")]
    assert actions == ["pass_issue", "pass_issue", "pass_revoke"]
