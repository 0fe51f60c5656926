"""Residents, face templates, PINs, QR passes (real SQLite) and the pure person policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from helpers import FACES

from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.people.passes import consume_use, issue_pass, pass_fact
from edge.people.resident_faces import FaceEnrolmentError, enrol_faces
from edge.people.residents import (
    add_resident,
    check_pin,
    list_residents,
    load_face_index,
    remove_resident,
    resident_fact,
    set_pin,
)
from edge.people.vehicles import EnrolmentError
from edge.pii import PiiVault
from edge.policy.person import (
    Facts,
    GateFacts,
    ResidentFact,
    Schedule,
    Sighting,
    decide_person,
)

GATE = GateFacts("east-door", "pedestrian", (("residents", "always"), ("staff", "day")))
DAY = Schedule(
    days=("mon", "tue", "wed", "thu", "fri"), start=time(7), end=time(19), holidays="closed"
)
# 2026-06-03 is a Wednesday; 10:00 Shanghai = 02:00 UTC
WED_10 = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


@pytest.fixture
def vault():
    return PiiVault(bytes(range(32)))


def test_policy_face_pin_and_schedule():
    resident = ResidentFact(1, True, "residents", "resident 1 of household 3-1-402")
    facts = Facts(resident=resident, schedules=(("day", DAY),))
    for credential in ("face", "pin"):
        decision = decide_person(Sighting(credential, 1, score=0.7), GATE, WED_10, facts)
        assert decision.action == "open"
    assert decide_person(Sighting("face", None), GATE, WED_10, facts).reasons[0].code == (
        "unknown_face"
    )
    inactive = Facts(resident=ResidentFact(1, False, "residents", "r1"))
    assert decide_person(Sighting("face", 1), GATE, WED_10, inactive).action == "deny"
    staff = Facts(resident=ResidentFact(2, True, "staff", "r2"), schedules=(("day", DAY),))
    assert decide_person(Sighting("pin", 2), GATE, WED_10, staff).action == "open"
    night = WED_10 + timedelta(hours=12)  # 22:00 local
    assert decide_person(Sighting("pin", 2), GATE, night, staff).reasons[0].code == (
        "outside_schedule"
    )
    saturday = WED_10 + timedelta(days=3)
    assert decide_person(Sighting("pin", 2), GATE, saturday, staff).action == "deny"
    holiday = Facts(
        resident=staff.resident, schedules=staff.schedules, holidays=frozenset({date(2026, 6, 3)})
    )
    assert decide_person(Sighting("pin", 2), GATE, WED_10, holiday).reasons[0].code == (
        "holiday_closed"
    )
    guest = Facts(resident=ResidentFact(3, True, "cleaners", "r3"))
    assert decide_person(Sighting("face", 3), GATE, WED_10, guest).reasons[0].code == (
        "group_not_allowed"
    )
    vehicle_gate = GateFacts("north", "vehicle", GATE.access)
    assert decide_person(Sighting("face", 1), vehicle_gate, WED_10, facts).action == "deny"
    with pytest.raises(ValueError):
        decide_person(Sighting("face", 1), GATE, WED_10.replace(tzinfo=None), facts)


def test_qr_pass_validity_uses_and_revocation(db):
    gate = GateFacts("east-door", "pedestrian", (("visitors", "always"),))
    pass_id, token = issue_pass(db, "plumber for 3-1-402", WED_10, WED_10 + timedelta(hours=2), 2)
    fact = pass_fact(db, token)
    assert fact is not None and fact.id == pass_id
    assert pass_fact(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert pass_fact(db, "hello") is None
    sighting = Sighting("qr_pass", pass_id=pass_id)
    now = WED_10 + timedelta(minutes=5)
    assert decide_person(sighting, gate, now, Facts(qr_pass=fact)).action == "open"
    assert consume_use(db, pass_id, now) and consume_use(db, pass_id, now)
    assert not consume_use(db, pass_id, now)  # used up
    used = pass_fact(db, token)
    assert decide_person(sighting, gate, now, Facts(qr_pass=used)).reasons[0].code == (
        "pass_used_up"
    )
    late = WED_10 + timedelta(hours=3)
    assert decide_person(sighting, gate, late, Facts(qr_pass=fact)).reasons[0].code == (
        "pass_expired"
    )
    with pytest.raises(EnrolmentError):
        issue_pass(db, "x", WED_10, WED_10, 1)
    assert db.execute("SELECT COUNT(*) FROM qr_passes").fetchone()[0] == 1
    assert token not in str(db.execute("SELECT * FROM qr_passes").fetchall())


def test_pin_is_hashed_and_checked(db, vault):
    rid = add_resident(db, vault, "张三", "3-1-402")
    with pytest.raises(EnrolmentError):
        set_pin(db, rid, "111111")
    with pytest.raises(EnrolmentError):
        set_pin(db, rid, "12ab56")
    set_pin(db, rid, "480915")
    stored = db.execute("SELECT pin_hash FROM residents WHERE id = ?", (rid,)).fetchone()[0]
    assert "480915" not in stored and stored.startswith("scrypt$")
    assert check_pin(db, rid, "480915") and not check_pin(db, rid, "480916")
    assert not check_pin(db, rid + 1, "480915")
    assert "张三".encode() not in (
        db.conn.execute("SELECT name, name_enc FROM residents").fetchone()[1] or b""
    )


def test_enrol_faces_stores_encrypted_templates_with_consent_and_remove_deletes(
    db, vault, recogniser, face_labels
):
    rid = add_resident(db, vault, "Resident A", "3-1-402")
    photos = [(n, read_image_file(FACES / n)) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    with pytest.raises(EnrolmentError, match="consent"):
        enrol_faces(db, vault, recogniser, rid, photos, "admin", consent=False)
    bad = [*photos, ("two.jpg", read_image_file(FACES / "fr_two_people.jpg"))]
    with pytest.raises(FaceEnrolmentError) as info:
        enrol_faces(db, vault, recogniser, rid, bad, "admin", consent=True)
    assert [r.code for r in info.value.refused] == ["several_faces"]
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0  # nothing half-way
    assert list_residents(db)[0]["face_consent_at"] is None
    junk = [("black", np.zeros((480, 640, 3), np.uint8))]
    with pytest.raises(FaceEnrolmentError):
        enrol_faces(db, vault, recogniser, rid, junk, "admin", consent=True)

    ids = enrol_faces(db, vault, recogniser, rid, photos, "admin", consent=True)
    assert len(ids) == 2
    row = list_residents(db)[0]
    assert row["templates"] == 2 and row["face_consent_at"]
    index = load_face_index(db, vault, recogniser.model_sha256)
    probe = recogniser.probe(read_image_file(FACES / "fr_obama1.jpg"))
    assert probe is not None
    assert index.search(probe.vector, 0.55, 0.05).identity == rid
    assert len(load_face_index(db, vault, "other-model")) == 0
    with pytest.raises(Exception, match="decrypt"):
        load_face_index(db, PiiVault(bytes(32)), recogniser.model_sha256)

    assert remove_resident(db, rid) == 2
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert resident_fact(db, rid) is None
    with pytest.raises(EnrolmentError):
        remove_resident(db, rid)
