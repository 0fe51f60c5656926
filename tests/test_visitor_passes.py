"""Visitor passes: the policy rules for counted plate and face passes (pure), issuing,
spending, revoking and listing them on a real SQLite file, and retention of visitors'
biometric data."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from helpers import FACES

from edge.box.retention import run_retention
from edge.config.retention import RetentionConfig
from edge.db import connect, transaction
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.people.passes import pass_fact
from edge.people.resident_faces import check_photos
from edge.people.residents import add_resident, load_face_index
from edge.people.vehicles import consume_vehicle_use, facts_for_plate
from edge.people.visitors import (
    PassTermsError,
    check_note,
    check_terms,
    consume_visitor_use,
    count_by_status,
    issue_face,
    issue_plate,
    issue_qr,
    list_passes,
    resolve_host,
    revoke,
    status_of,
    visit_terms,
)
from edge.pii import PiiVault
from edge.plates.grammar import PlateFormatError
from edge.policy import person, vehicle
from edge.policy.person import ResidentFact, VisitFact, decide_person
from edge.policy.vehicle import PolicySettings, VehicleFact, decide_vehicle

NOW = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai
PLATE = "沪C0L876"
VEHICLE_GATE = vehicle.GateFacts("north", "vehicle")
DOOR = person.GateFacts("east", "pedestrian", (("residents", "always"), ("visitors", "always")))


# -- the vehicle policy: counted plate passes -------------------------------------------------
def plate_pass(uses=0, max_uses=2, last=None, revoked=False, start=None, end=None) -> VehicleFact:
    return VehicleFact(
        7,
        PLATE,
        "visitor",
        start or NOW - timedelta(hours=1),
        end or NOW + timedelta(hours=4),
        "household 3-1-402",
        max_uses=max_uses,
        uses=uses,
        revoked=revoked,
        last_use_at=last,
    )


def decide(fact: VehicleFact, now=NOW):
    return decide_vehicle(
        vehicle.Sighting(PLATE, 0.95, True), VEHICLE_GATE, now, vehicle.Facts((fact,))
    )


def test_counted_plate_pass_opens_and_asks_for_one_use():
    decision = decide(plate_pass(uses=1))
    assert decision.action == "open" and decision.spend_use
    assert decision.reasons[0].code == "visitor_pass_valid"
    assert "use 2 of 2" in decision.reasons[0].message


def test_spent_plate_pass_is_denied_as_used_up():
    decision = decide(plate_pass(uses=2))
    assert decision.action == "deny" and not decision.spend_use
    assert decision.reasons[0].code == "visitor_used_up"
    assert "visitor pass used up" in decision.reasons[0].message


def test_same_visit_reopens_without_spending_and_only_within_the_window():
    last = NOW - timedelta(seconds=90)
    again = decide(plate_pass(uses=2, last=last))  # its last use, 90 s ago: the same car
    assert again.action == "open" and not again.spend_use
    assert "same visit" in again.reasons[0].message
    later = decide(plate_pass(uses=2, last=NOW - timedelta(seconds=121)))
    assert later.action == "deny" and later.reasons[0].code == "visitor_used_up"
    short = PolicySettings(same_visit_s=30)
    decision = decide_vehicle(
        vehicle.Sighting(PLATE, 0.95, True),
        VEHICLE_GATE,
        NOW,
        vehicle.Facts((plate_pass(2, 2, last),)),
        short,
    )
    assert decision.action == "deny"


@pytest.mark.parametrize(
    ("fact", "code"),
    [
        (plate_pass(revoked=True), "visitor_revoked"),
        (plate_pass(end=NOW), "visitor_expired"),
        (plate_pass(start=NOW + timedelta(minutes=1)), "visitor_not_yet_valid"),
    ],
)
def test_revoked_expired_and_early_plate_passes_are_denied(fact, code):
    decision = decide(fact)
    assert decision.action == "deny" and decision.reasons[0].code == code


def test_a_second_valid_pass_is_used_when_the_first_is_spent():
    spent, fresh = (
        plate_pass(uses=2),
        VehicleFact(
            8, PLATE, "visitor", NOW, NOW + timedelta(hours=1), "household 5-2-101", max_uses=1
        ),
    )
    decision = decide_vehicle(
        vehicle.Sighting(PLATE, 0.95, True), VEHICLE_GATE, NOW, vehicle.Facts((spent, fresh))
    )
    assert decision.action == "open" and decision.vehicle.id == 8 and decision.spend_use


def test_used_up_after_a_lost_race_keeps_the_watchlist_alert():
    from edge.policy.vehicle import WatchFact

    facts = vehicle.Facts((plate_pass(),), (WatchFact(1, PLATE, "stolen", "local", None),))
    decision = decide_vehicle(vehicle.Sighting(PLATE, 0.95, True), VEHICLE_GATE, NOW, facts)
    lost = decision.used_up()
    assert lost.action == "deny" and [r.code for r in lost.reasons] == [
        "visitor_used_up",
        "watchlisted",
    ]
    assert lost.alerts == decision.alerts


# -- the person policy: face passes -------------------------------------------------------------
def visitor(active=True, start=None, end=None, uses=0, max_uses=2, last=None) -> ResidentFact:
    visit = VisitFact(
        start or NOW - timedelta(hours=1), end or NOW + timedelta(hours=4), uses, max_uses, last
    )
    return ResidentFact(9, active, "visitors", "visitor 9 of household 3-1-402", visit)


@pytest.mark.parametrize(
    ("fact", "code"),
    [
        (visitor(active=False), "visitor_revoked"),
        (visitor(start=NOW + timedelta(hours=1)), "visitor_not_yet_valid"),
        (visitor(end=NOW), "visitor_expired"),
        (visitor(uses=2), "visitor_used_up"),
        (visitor(uses=2, last=NOW - timedelta(minutes=3)), "visitor_used_up"),
    ],
)
def test_face_pass_refusals(fact, code):
    decision = decide_person(person.Sighting("face", 9, score=0.8), DOOR, NOW, person.Facts(fact))
    assert decision.action == "deny" and decision.reasons[0].code == code
    assert decision.subject == "visitors: visitor 9 of household 3-1-402"


def test_face_pass_opens_spends_and_same_visit_does_not():
    sighting = person.Sighting("face", 9, score=0.8)
    first = decide_person(sighting, DOOR, NOW, person.Facts(visitor(uses=1)))
    assert first.action == "open" and first.spend_use and "use 2 of 2" in first.reasons[0].message
    lingering = visitor(uses=2, last=NOW - timedelta(seconds=20))
    again = decide_person(sighting, DOOR, NOW, person.Facts(lingering))
    assert again.action == "open" and not again.spend_use
    assert "same visit" in again.reasons[0].message


def test_face_pass_still_bound_by_the_gate_schedule():
    residents_only = person.GateFacts("east", "pedestrian", (("residents", "always"),))
    decision = decide_person(
        person.Sighting("face", 9), residents_only, NOW, person.Facts(visitor())
    )
    assert decision.reasons[0].code == "group_not_allowed"


# -- issuing, spending, revoking on a real database --------------------------------------------
@pytest.fixture
def vault() -> PiiVault:
    return PiiVault(bytes(range(32)))


@pytest.fixture
def db(db, vault):
    """The fresh database with two residents (3-1-402 hosts, 5-2-101 does not)."""
    add_resident(db, vault, "Host Resident", "3-1-402")
    add_resident(db, vault, "Other Resident", "5-2-101")
    return db


@pytest.mark.parametrize(
    ("start", "end", "uses", "code"),
    [
        (NOW - timedelta(minutes=11), NOW + timedelta(hours=1), 1, "start_in_past"),
        (NOW + timedelta(days=31), NOW + timedelta(days=32), 1, "start_too_far"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), 1, "end_before_start"),
        (NOW, NOW, 1, "end_before_start"),
        (NOW, NOW + timedelta(days=30, seconds=1), 1, "too_long"),
        (NOW, NOW + timedelta(hours=1), 0, "uses_out_of_range"),
        (NOW, NOW + timedelta(hours=1), 101, "uses_out_of_range"),
        (NOW, NOW + timedelta(hours=1), True, "uses_out_of_range"),
    ],
)
def test_pass_terms_are_refused_with_a_code(start, end, uses, code):
    with pytest.raises(PassTermsError) as info:
        check_terms(start, end, uses, NOW)
    assert info.value.code == code


def test_pass_terms_accept_a_slightly_past_start_and_the_longest_window():
    terms = check_terms(NOW - timedelta(minutes=9), NOW + timedelta(days=29), 100, NOW)
    assert terms.max_uses == 100
    with pytest.raises(PassTermsError):
        check_terms(NOW.replace(tzinfo=None), NOW + timedelta(hours=1), 1, NOW)


@pytest.mark.parametrize(
    ("note", "code"),
    [
        ("x" * 41, "note_too_long"),
        ("call 138 0013 8000", "note_has_number"),
        ("<b>", "note_bad_chars"),
    ],
)
def test_notes_refuse_numbers_and_markup(note, code):
    with pytest.raises(PassTermsError) as info:
        check_note(note)
    assert info.value.code == code
    assert check_note("  plumber   for the kitchen ") == "plumber for the kitchen"


def test_host_must_exist_and_agree(db):
    with transaction(db) as conn:
        assert resolve_host(conn, "3-1-402", None).household == "3-1-402"
        assert resolve_host(conn, "", 1).household == "3-1-402"
        for household, resident, code in [
            ("", None, "no_host"),
            ("9-9-999", None, "no_household"),
            ("", 99, "no_host_resident"),
            ("5-2-101", 1, "host_not_in_household"),
        ]:
            with pytest.raises(PassTermsError) as info:
                resolve_host(conn, household, resident)
            assert info.value.code == code


def _plate_pass(db, plate=PLATE, uses=2, start=NOW, hours=4):
    terms = check_terms(start, start + timedelta(hours=hours), uses, NOW)
    with transaction(db) as conn:
        return issue_plate(conn, plate, resolve_host(conn, "3-1-402", 1), terms, "", "user:1", NOW)


def test_plate_pass_uses_are_spent_one_by_one_and_never_beyond(db):
    vid = _plate_pass(db)
    at = NOW + timedelta(minutes=1)
    assert [consume_vehicle_use(db, vid, at) for _ in range(3)] == [1, 2, None]
    assert consume_vehicle_use(db, vid, NOW + timedelta(hours=5)) is None  # expired anyway
    [fact] = facts_for_plate(db, PLATE).vehicles
    assert (fact.uses, fact.max_uses, fact.kind) == (2, 2, "visitor")


def test_two_gates_cannot_both_spend_the_last_use(tmp_path, db):
    vid = _plate_pass(db, uses=1)
    results: list = []
    barrier = threading.Barrier(4)

    def gate() -> None:
        other = connect(tmp_path / "menwei.db")
        barrier.wait()
        results.append(consume_vehicle_use(other, vid, NOW + timedelta(minutes=1)))

    threads = [threading.Thread(target=gate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [1, None, None, None]


def test_overlapping_plate_pass_refused_and_malformed_plate_refused(db):
    _plate_pass(db)
    with pytest.raises(PassTermsError) as info:
        _plate_pass(db, start=NOW + timedelta(hours=3))
    assert info.value.code == "plate_has_pass"
    _plate_pass(db, start=NOW + timedelta(hours=4))  # right after it: fine
    with pytest.raises(PlateFormatError):
        _plate_pass(db, plate="沪CO1234")
    assert db.execute("SELECT COUNT(*) FROM vehicles").fetchone()[0] == 2


def test_revoked_plate_pass_is_a_fact_the_gate_explains(db):
    vid = _plate_pass(db)
    with transaction(db) as conn:
        assert revoke(conn, "plate", vid) == {"kind": "plate", "plate": PLATE}
        with pytest.raises(PassTermsError) as info:
            revoke(conn, "plate", vid)
        assert info.value.code == "already_revoked"
    [fact] = facts_for_plate(db, PLATE).vehicles
    assert fact.revoked
    assert decide(fact, NOW + timedelta(minutes=1)).reasons[0].code == "visitor_revoked"
    assert consume_vehicle_use(db, vid, NOW + timedelta(minutes=1)) is None


def test_qr_pass_issue_stores_only_the_hash_and_revoke_stops_it(db):
    terms = check_terms(NOW, NOW + timedelta(hours=2), 3, NOW)
    with transaction(db) as conn:
        pass_id, token = issue_qr(
            conn, resolve_host(conn, "3-1-402", None), terms, "plumber", "user:1", NOW
        )
    fact = pass_fact(db, token)
    assert fact is not None and fact.label == "visitor of 3-1-402: plumber" and fact.max_uses == 3
    assert token not in str(db.execute("SELECT * FROM qr_passes").fetchall())
    with transaction(db) as conn:
        revoke(conn, "qr", pass_id)
    assert pass_fact(db, token).revoked
    with transaction(db) as conn, pytest.raises(PassTermsError) as info:
        revoke(conn, "qr", pass_id + 1)
    assert info.value.code == "no_pass"


def test_statuses_of_the_pass_list(db):
    vid = _plate_pass(db, uses=1)
    _plate_pass(db, plate="皖A12345", start=NOW + timedelta(hours=2))
    consume_vehicle_use(db, vid, NOW + timedelta(minutes=1))
    rows = list_passes(db, NOW + timedelta(minutes=5))
    assert {r["plate"]: r["status"] for r in rows} == {PLATE: "used_up", "皖A12345": "upcoming"}
    later = list_passes(db, NOW + timedelta(hours=7))
    assert count_by_status(later)["expired"] == 1 and count_by_status(later)["used_up"] == 1
    assert [r["plate"] for r in list_passes(db, NOW, status="upcoming")] == ["皖A12345"]
    assert status_of(NOW, None, None, 0, None, True) == "revoked"
    assert status_of(NOW, NOW, NOW + timedelta(hours=1), 0, None, False) == "active"


def test_a_live_pass_stays_listed_behind_any_number_of_newer_ended_ones(db):
    """A month-long pass must stay findable (and revocable) among hundreds of day passes."""
    long_pass = _plate_pass(db, uses=100, hours=20 * 24)
    with transaction(db) as conn:
        host = resolve_host(conn, "3-1-402", None)
        for n in range(30):
            start = NOW + timedelta(hours=n + 1)
            terms = check_terms(start, start + timedelta(minutes=30), 1, start)
            pass_id, _ = issue_qr(conn, host, terms, f"courier {n}", "user:1", start)
            if n % 3 == 0:
                revoke(conn, "qr", pass_id)
    at = NOW + timedelta(days=5)
    rows = list_passes(db, at, ended=20)
    assert len(rows) == 21
    assert rows[-1]["kind"] == "plate" and rows[-1]["id"] == long_pass
    assert rows[-1]["status"] == "active"
    assert [r["what"] for r in rows[:2]] == ["courier 29", "courier 28"], "newest first"
    assert count_by_status(rows) == {
        "active": 1,
        "upcoming": 0,
        "used_up": 0,
        "expired": 14,
        "revoked": 6,
    }
    assert [r["id"] for r in list_passes(db, at, status="active", ended=0)] == [long_pass]


# -- face passes: templates, uses, revoke and retention ----------------------------------------
@pytest.fixture(scope="module")
def recogniser(face_labels) -> FaceRecogniser:  # skips the face tests without the photos
    return FaceRecogniser()


def _face_pass(db, vault, recogniser, hours=4, uses=2) -> int:
    photos = [(0, n, read_image_file(FACES / n)) for n in ("fr_obama.jpg",)]
    templates = check_photos(recogniser, photos)
    terms = check_terms(NOW, NOW + timedelta(hours=hours), uses, NOW)
    with transaction(db) as conn:
        host = resolve_host(conn, "3-1-402", 1)
        return issue_face(
            conn,
            vault,
            recogniser.model_sha256,
            templates,
            host,
            terms,
            "user:2",
            "guard1",
            True,
            NOW,
        )


def test_face_pass_is_a_visitor_in_the_index_with_its_terms(db, vault, recogniser):
    vid = _face_pass(db, vault, recogniser)
    row = db.execute(
        "SELECT kind, access_group, name, name_enc, face_consent_by, issued_by FROM residents"
        " WHERE id = ?",
        (vid,),
    ).fetchone()
    assert tuple(row) == ("visitor", "visitors", "", None, "guard1", "user:2")
    index = load_face_index(db, vault, recogniser.model_sha256)
    assert set(index.identities.tolist()) == {vid}
    label, visit = visit_terms(db, vid, "east", NOW - timedelta(minutes=2))
    assert label == f"visitor {vid} of household 3-1-402 (host resident 1)"
    assert (visit.uses, visit.max_uses, visit.last_use_at) == (0, 2, None)
    assert visit_terms(db, 1, "east", NOW) is None  # a resident has no pass terms
    assert [consume_visitor_use(db, vid, NOW + timedelta(minutes=1)) for _ in range(3)] == [
        1,
        2,
        None,
    ]


def test_face_pass_needs_consent(db, vault, recogniser, face_labels):
    templates = check_photos(recogniser, [(0, "a", read_image_file(FACES / "fr_obama.jpg"))])
    terms = check_terms(NOW, NOW + timedelta(hours=1), 1, NOW)
    with transaction(db) as conn, pytest.raises(PassTermsError) as info:
        host = resolve_host(conn, "3-1-402", None)
        issue_face(conn, vault, "m", templates, host, terms, "user:2", "guard1", False, NOW)
    assert info.value.code == "no_consent"
    assert db.execute("SELECT COUNT(*) FROM residents WHERE kind = 'visitor'").fetchone()[0] == 0


def test_revoking_a_face_pass_deletes_its_templates_at_once(db, vault, recogniser):
    vid = _face_pass(db, vault, recogniser)
    with transaction(db) as conn:
        assert revoke(conn, "face", vid) == {"kind": "face", "templates_deleted": 1}
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert len(load_face_index(db, vault, recogniser.model_sha256)) == 0
    assert list_passes(db, NOW)[0]["status"] == "revoked"


def test_retention_purges_ended_visitor_faces_then_old_passes(tmp_path, db, vault, recogniser):
    ending = _face_pass(db, vault, recogniser, hours=1)
    lasting = _face_pass(db, vault, recogniser, hours=20)
    _plate_pass(db)
    config = RetentionConfig(visitor_pass_days=30)
    report = run_retention(db, tmp_path / "snaps", config, NOW + timedelta(hours=2))
    assert (report.visitor_faces_purged, report.visitor_passes_purged) == (1, 0)
    templates = db.execute("SELECT resident_id FROM face_templates").fetchall()
    assert [r[0] for r in templates] == [lasting]  # the ended pass's biometric data is gone
    assert db.execute("SELECT COUNT(*) FROM residents WHERE id = ?", (ending,)).fetchone()[0] == 1
    again = run_retention(db, tmp_path / "snaps", config, NOW + timedelta(hours=3))
    assert again.visitor_faces_purged == 0  # nothing left to purge twice
    month = run_retention(db, tmp_path / "snaps", config, NOW + timedelta(days=31))
    assert month.visitor_faces_purged == 1 and month.visitor_passes_purged == 3
    assert db.execute("SELECT COUNT(*) FROM residents WHERE kind = 'visitor'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM vehicles").fetchone()[0] == 0
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("purge_visitor_face") == 2 and "purge_visitor_passes" in actions


def test_retention_deletes_expired_watch_faces(tmp_path, db, vault, recogniser, face_labels):
    from edge.people.watch_faces import add_watch_face, list_watch_faces

    [template] = check_photos(recogniser, [(0, "b", read_image_file(FACES / "fr_biden.jpg"))])
    with transaction(db) as conn:
        for hours in (1, None):
            add_watch_face(
                conn, vault, template, recogniser.model_sha256, "case", "", "user:1", NOW,
                NOW + timedelta(hours=hours) if hours else None,
            )  # fmt: skip
    report = run_retention(db, tmp_path / "snaps", RetentionConfig(), NOW + timedelta(hours=2))
    assert report.watch_faces_purged == 1
    assert [w["expires_at"] for w in list_watch_faces(db)] == [None]
