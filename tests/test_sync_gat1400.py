"""GA/T 1400 conformance: the box against three simulated VIID server implementations.

Every profile (sync.gat1400.simulator: standard, legacy, subscriber) is a real HTTP server
on 127.0.0.1; the box talks to it through the real adapter and worker, and the test reads
what the platform holds.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests
from helpers import outbox_keys, pending

from edge.config.sync import SyncConfig
from edge.db import connect, iso, transaction
from edge.events.record import NewEvent, record_event
from edge.migrations import MIGRATIONS, TABLE_REBUILDS
from edge.people.memory_copy import PeopleCopy
from edge.people.vehicles import add_watch, facts_for_plate
from edge.people.watch_faces import add_watch_face, load_watch_index, watch_signature
from edge.pii import PiiVault, create_key_file
from edge.policy.vehicle import GateFacts, Sighting, decide_vehicle
from edge.store.outbox import dead_rows, enqueue, next_batch
from sync.auth import DigestVerdict, NonceLedger, digest_response
from sync.gat1400 import codes
from sync.gat1400.client import (
    Gat1400Protocol,
    RegistrationRefusedError,
    parse_status_reply,
    parse_time_reply,
)
from sync.gat1400.objects import object_id, viid_time
from sync.gat1400.server import start_viid_server
from sync.gat1400.simulator import ViidSimulator
from sync.gat1400.store import Disposition, apply_disposition, fan_out
from sync.protocol import PlatformUnavailableError
from sync.transport import Transport, TransportError
from sync.uplink import UplinkWorker

DEVICE = "34010000001190000001"
APE = "34010000001190000011"
TOLLGATE = "34010000001210000001"
ZONE = ZoneInfo("Asia/Shanghai")
PROFILES = ("standard", "legacy", "subscriber")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sync_config(url: str, **gat: object) -> SyncConfig:
    apes = [{"gate": "g1", "ape_id": APE, "tollgate_id": TOLLGATE, "lane_no": 2, "direction": "3"}]
    return SyncConfig(
        platform_url=url,
        protocol="gat1400",
        device_id=DEVICE,
        secret_file="unused",
        gat1400={"apes": apes, **gat},
    )


def make_protocol(platform, db=None, password="pw", clock=None, **gat):
    config = sync_config(platform.url, **gat)
    return Gat1400Protocol(
        Transport(platform.url, 2, 2), config, password, ZONE, db, clock=clock or Clock()
    )


def drain(worker: UplinkWorker, steps: int = 50) -> None:
    for _ in range(steps):
        if worker.step().idle:
            return


@pytest.fixture(params=["standard", "legacy"])
def platform(request):
    with ViidSimulator(request.param, {DEVICE: "pw"}) as sim:
        yield sim


def test_register_upload_keepalive_time_and_unregister(tmp_path, platform, make_box):
    db = make_box(tmp_path / "box.db", 30)
    clock = Clock()
    proto = make_protocol(platform, db, clock=clock)
    drain(UplinkWorker(db, proto, batch_size=10))
    assert pending(db) == 0 and platform.count("/VIID/MotorVehicles") == 30
    assert sorted(platform.registrations) == [DEVICE, APE]  # the box and its APE
    # every request spoke VIID+JSON and named the registered sender
    posts = [h for m, p, h in platform.requests if m == "POST" and "Register" not in p]
    assert all(h["Content-Type"].startswith("application/VIID+JSON") for h in posts)
    assert all(h["User-Identify"] in (DEVICE, APE) for h in posts)
    assert platform.time_requests == 1 and abs(proto.status()["clock_skew_s"]) <= 1.5
    clock.now += 51
    proto.tick()
    assert platform.keepalives == 2  # one per identity
    platform.registered.clear()  # the platform restarts and forgets us
    clock.now += 51
    with pytest.raises(PlatformUnavailableError):
        proto.tick()
    proto.tick()  # registers again
    assert len(platform.registrations) == 4 and proto.registered
    proto.close()
    assert sorted(platform.unregistrations) == [DEVICE, APE]


def test_digest_forms_are_found_and_kept(tmp_path, platform):
    proto = make_protocol(platform)
    proto.tick()
    expected = "absolute" if platform.profile.digest_uri == "absolute" else "path"
    assert proto.status()["digest_uri"] == expected
    auth = [h.get("Authorization", "") for m, p, h in platform.requests if p.endswith("Register")]
    signed = [a for a in auth if a]
    assert signed and all(("qop=" in a) == platform.profile.qop for a in signed)
    assert all(a.count('"') >= 8 for a in signed)  # quoted values


@pytest.mark.parametrize("profile", PROFILES)
def test_wrong_password_never_registers(profile):
    with ViidSimulator(profile, {DEVICE: "pw"}) as sim:
        proto = make_protocol(sim, password="nope")
        with pytest.raises(PlatformUnavailableError, match="401"):
            proto.tick()
        assert not proto.registered and sim.registrations == []


@pytest.mark.parametrize("status", [400, 403, 404, 405])
def test_a_refused_registration_is_not_an_outage(status):
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        sim.faults.register_http = status
        proto = make_protocol(sim)
        with pytest.raises(RegistrationRefusedError, match=f"HTTP {status}"):
            proto.tick()
        assert "check platform_url" in proto.status()["refused"]


def test_time_reply_shapes():
    local = b'{"SystemTimeObject": {"LocalTime": "20260501080000", "TimeZone": "Asia/Shanghai"}}'
    millis = b'{"SystemTimeObject": {"LocalTime": 1777593600000}}'
    bare = b'{"LocalTime": "1777593600000"}'
    want = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert parse_time_reply(local, ZONE) - want == timedelta(seconds=0.5)
    assert parse_time_reply(millis, ZONE) == want == parse_time_reply(bare, ZONE)
    for bad in (b'{"SystemTimeObject": {}}', b'{"LocalTime": "yesterday"}', b"[]"):
        with pytest.raises((ValueError, TypeError, AttributeError)):
            parse_time_reply(bad, ZONE)


def test_clock_skew_is_reported_in_health():
    with ViidSimulator("legacy", {DEVICE: "pw"}) as sim:
        sim.faults.clock_offset_s = 42
        proto = make_protocol(sim)
        proto.tick()
        status = proto.status()
        assert 40 <= status["clock_skew_s"] <= 44 and status["clock_alarm"]


# -- status codes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code, attempts, action",
    [
        (0, 0, "deliver"),
        (1, 0, "retry"),
        (1, codes.OTHER_ERROR_ATTEMPTS - 1, "dead"),
        (2, 99, "retry"),
        (3, 99, "retry"),
        (4, 0, "dead"),
        (5, 0, "dead"),
        (6, 0, "dead"),
        (7, 0, "dead"),
        (8, 0, "dead"),
        (9, 99, "retry"),
        (42, 0, "dead"),
        (-1, 0, "dead"),
    ],
)
def test_every_status_code_has_an_action(code, attempts, action):
    assert codes.action_for(code, "", attempts) == action


def test_other_error_saying_already_held_is_an_acknowledgement():
    assert codes.action_for(1, "对象已存在", 0) == "deliver"


@pytest.mark.parametrize("profile", ["standard", "legacy"])
def test_invalid_objects_are_dead_lettered_and_the_rest_delivered(tmp_path, profile, make_box):
    db = make_box(tmp_path / "box.db", 12)
    with ViidSimulator(profile, {DEVICE: "pw"}) as sim:
        proto = make_protocol(sim, db)
        rows = next_batch(db.conn, 100)
        bad = [object_id(APE, rows[i].key, codes.OBJECT_MOTOR_VEHICLE, ZONE) for i in (3, 8)]
        sim.faults.codes = {bad[0]: 6, bad[1]: 42}
        drain(UplinkWorker(db, proto, batch_size=12))
        dead = {d["key"]: d["reason"] for d in dead_rows(db.conn)}
        assert set(dead) == {rows[3].key, rows[8].key}
        assert "StatusCode 6" in dead[rows[3].key] and "StatusCode 42" in dead[rows[8].key]
        assert pending(db) == 0 and sim.count() == 10


def test_busy_platform_keeps_rows_and_other_error_ends_in_dead_letter(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 3)
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        proto = make_protocol(sim, db)
        worker = UplinkWorker(db, proto, batch_size=3)
        sim.faults.busy_rate = 1.0
        for _ in range(codes.OTHER_ERROR_ATTEMPTS + 2):
            assert worker.step().error
        assert pending(db) == 3  # busy forever means pending forever: the platform's trouble
        sim.faults.busy_rate = 0
        rows = next_batch(db.conn, 10)
        sim.faults.codes = {object_id(APE, rows[0].key, codes.OBJECT_MOTOR_VEHICLE, ZONE): 1}
        drain(worker)
        [dead] = dead_rows(db.conn)
        assert dead["key"] == rows[0].key and "StatusCode 1" in dead["reason"]
        assert pending(db) == 0 and sim.count() == 2


@pytest.mark.parametrize(
    "body, codes_seen",
    [
        ({"ResponseStatusObject": {"StatusCode": 0, "Id": "a"}}, [0]),
        ({"ResponseStatusObject": {"StatusCode": "0"}}, [0]),
        ({"ResponseStatusListObject": {"ResponseStatusObject": [{"StatusCode": "4"}]}}, [4]),
        ({"ResponseStatusListObject": {"ResponseStatusObject": {"StatusCode": 1}}}, [1]),
        ({"ResponseStatus": [{"StatusCode": 0, "Id": "n"}, {"StatusCode": 2}]}, [0, 2]),
    ],
)
def test_status_reply_is_parsed_tolerantly(body, codes_seen):
    assert [s["code"] for s in parse_status_reply(json.dumps(body).encode())] == codes_seen


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[1]",
        b'{"ResponseStatusObject": {"StatusCode": "ok"}}',
        b"<xml/>",
        b'{"ResponseStatusObject": {"StatusCode": true}}',
        b'{"ResponseStatusListObject": {"ResponseStatusObject": []}}',
    ],
)
def test_unusable_status_replies_raise(body):
    with pytest.raises(ValueError):
        parse_status_reply(body)


# -- objects -------------------------------------------------------------------------------
def record(db, kind, at, **kw):
    return record_event(db, NewEvent("g1", kind, at, kw.pop("decision", "none"), **kw))


def test_event_kinds_map_to_their_objects(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 0)
    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    passage = record(db, "vehicle_passage", at, plate="皖A12345", details={"colour": "blue"})
    unread = record(db, "plate_unread", at + timedelta(seconds=1))
    face = record(db, "face_passage", at + timedelta(seconds=2), subject="resident 3")
    manual = record(db, "manual_open", at + timedelta(seconds=3), subject="operator: li")
    door = record(db, "door_forced", at + timedelta(seconds=4))
    with transaction(db) as conn:
        enqueue(conn, "01REGISTRATION0000000000", "registration", {"room": 1}, at)
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        proto = make_protocol(sim, db)
        drain(UplinkWorker(db, proto))
        [vehicle, unread_obj] = sim.objects("/VIID/MotorVehicles")
        vehicle, unread_obj = sorted(
            sim.objects("/VIID/MotorVehicles"), key=lambda o: o["PassTime"]
        )
        assert vehicle["PlateNo"] == "皖A12345" and vehicle["HasPlate"] is True
        assert unread_obj["PlateNo"] == "未识别" and unread_obj["HasPlate"] is True
        assert unread_obj["PlateClass"] == "99"
        [face_obj] = sim.objects("/VIID/Faces")
        assert face_obj["FaceID"] == object_id(APE, face.id, codes.OBJECT_FACE, ZONE)
        assert "PlateNo" not in face_obj and face_obj["IsDriver"] is False
        assert sim.count() == 3  # the manual open and the door alarm are not 1400 objects
        assert proto.status()["not_carried"] == 2
        dead = {d["key"]: d["reason"] for d in dead_rows(db.conn)}
        assert list(dead) == ["01REGISTRATION0000000000"]  # visible, not dropped
        assert {passage.id, unread.id, face.id, manual.id, door.id} <= set(outbox_keys(db))


def test_object_time_is_the_event_time_not_the_outbox_time(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 0)
    at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    stored = record(db, "vehicle_passage", at, plate="皖A12345")
    with transaction(db) as conn:  # the row was written late (a storage fault retried)
        conn.execute("UPDATE outbox SET created_at = '2026-05-03T00:00:00+00:00'")
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        drain(UplinkWorker(db, make_protocol(sim, db)))
        [obj] = sim.objects("/VIID/MotorVehicles")
    assert obj["PassTime"] == "20260501160000" == obj["MotorVehicleID"][22:36]
    assert obj["MotorVehicleID"] == object_id(APE, stored.id, "02", ZONE)


def test_resent_rows_keep_their_object_ids(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 5)
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        proto = make_protocol(sim, db)
        rows = next_batch(db.conn, 10)
        proto.send(rows)
        proto.send(rows)  # ack lost, sent again
        assert sim.count() == 5 and sim.receipts == 10 and sim.duplicates() == 5


def test_viid_time_is_local_yyyymmddhhmmss():
    assert viid_time(datetime(2026, 12, 31, 16, 30, 5, tzinfo=UTC), ZONE) == "20270101003005"


# -- transport -----------------------------------------------------------------------------
def test_plain_http_only_to_loopback_and_no_redirects():
    with pytest.raises(ValueError):
        Transport("http://10.1.2.3:80")
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        transport = Transport(sim.url, 2, 2)
        with pytest.raises(TransportError, match="refused URL"):
            transport.request_url("POST", "http://192.0.2.1/VIID/x", b"{}")
        reply = transport.request("GET", "/VIID/Nowhere")
        assert reply.status == 404


def test_response_size_is_capped(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 100)
    with ViidSimulator("standard", {DEVICE: "pw"}) as sim:
        config = sync_config(sim.url)
        transport = Transport(sim.url, 2, 2, max_response_bytes=4096)
        proto = Gat1400Protocol(transport, config, "pw", ZONE, db, clock=Clock())
        result = UplinkWorker(db, proto, batch_size=100).step()  # 100 statuses: ~15 KB
        assert "exceeds" in (result.error or "") and pending(db) == 100


# -- subscriptions -------------------------------------------------------------------------
@pytest.fixture
def subscriber(tmp_path, make_box):
    """A subscription-only platform, a box with its 1400 server, and what links them."""
    db = make_box(tmp_path / "box.db", 0)
    with ViidSimulator("subscriber", {DEVICE: "pw"}) as sim:
        config = sync_config(sim.url, listen="127.0.0.1:0", direct_upload=False)
        proto = Gat1400Protocol(Transport(sim.url, 2, 2), config, "pw", ZONE, db)
        server = start_viid_server(db, config, proto, None)
        try:
            yield sim, db, proto, server.url
        finally:
            server.stop()


def test_subscription_only_platform_gets_events_by_notification(subscriber):
    sim, db, proto, box_url = subscriber
    at = datetime.now(UTC)
    record(db, "vehicle_passage", at - timedelta(minutes=5), plate="皖A00001")  # before it
    reply = sim.subscribe(box_url, DEVICE, "pw", "SUB1", categories="13", resources=APE)
    assert reply["ResponseStatusListObject"]["ResponseStatusObject"][0]["StatusCode"] == 0
    passages = [record(db, "vehicle_passage", at + timedelta(seconds=i), plate=f"皖A1000{i}")
                for i in range(3)]  # fmt: skip
    record(db, "face_passage", at)  # not in category 13
    worker = UplinkWorker(db, proto)
    while fan_out(db, DEVICE, proto.apes, datetime.now(UTC)) == 500:
        pass
    drain(worker)
    notes = sim.objects("/VIID/SubscribeNotifications")
    assert len(notes) == 3 and {n["SubscribeID"] for n in notes} == {"SUB1"}
    held = {n["MotorVehicleObjectList"]["MotorVehicleObject"][0]["PlateNo"] for n in notes}
    assert held == {"皖A10000", "皖A10001", "皖A10002"}
    assert all(n["InfoIDs"] for n in notes) and pending(db) == 0
    assert sim.count("/VIID/MotorVehicles") == 0  # nothing uploaded directly
    # a cancel stops the notifications; events after it are not sent
    doc = {"SubscribeObject": {"OperateType": 1, "CancelReason": "done"}}
    sim.call_box(box_url, "PUT", "/VIID/Subscribes/SUB1", doc, DEVICE, "pw")
    record(db, "vehicle_passage", at + timedelta(seconds=9), plate="皖A19999")
    fan_out(db, DEVICE, proto.apes, datetime.now(UTC))
    drain(worker)
    assert len(sim.objects("/VIID/SubscribeNotifications")) == 3 and pending(db) == 0
    del passages


def test_subscriptions_are_validated_and_authenticated(subscriber):
    sim, db, _, box_url = subscriber
    assert requests.post(box_url + "/VIID/Subscribes", json={}, timeout=5).status_code == 401
    bad = {
        "SubscribeID": "S2",
        "SubscribeDetail": "13",
        "BeginTime": "20260101000000",
        "EndTime": "20990101000000",
        "ReceiveAddr": "http://203.0.113.9/steal",
    }
    reply = sim.call_box(
        box_url, "POST", "/VIID/Subscribes", {"SubscribeListObject": {"SubscribeObject": [bad]}},
        DEVICE, "pw",
    )  # fmt: skip
    [status] = reply["ResponseStatusListObject"]["ResponseStatusObject"]
    assert status["StatusCode"] == 4 and "ReceiveAddr" in status["StatusString"]
    assert db.execute("SELECT COUNT(*) FROM viid_subscriptions").fetchone()[0] == 0


def test_a_captured_request_cannot_be_replayed(subscriber):
    """Someone who captured the platform's subscribe request (digest headers and body)
    replays it after the platform cancelled: the box refuses it and changes nothing."""
    sim, db, _, box_url = subscriber
    platform = requests.Session()
    platform.auth = requests.auth.HTTPDigestAuth(DEVICE, "pw")
    doc = {"SubscribeListObject": {"SubscribeObject": [{
        "SubscribeID": "SUBR", "SubscribeDetail": "13", "BeginTime": "20260101000000",
        "EndTime": "20990101000000", "ReceiveAddr": f"{sim.url}/VIID/SubscribeNotifications",
    }]}}  # fmt: skip
    sent = platform.post(box_url + "/VIID/Subscribes", json=doc, timeout=10)
    assert sent.status_code == 200
    captured = sent.request  # what went over the wire, Authorization included
    assert "nc=00000001" in captured.headers["Authorization"]
    # the platform goes on with the same nonce (nc 2) and cancels the subscription
    cancel = platform.delete(box_url + "/VIID/Subscribes?IDList=SUBR", timeout=10)
    assert cancel.status_code == 200 and len(cancel.history) == 0  # no new challenge needed
    status = "SELECT status FROM viid_subscriptions WHERE id = 'SUBR'"
    assert db.execute(status).fetchone()[0] == 1
    replay = requests.post(
        captured.url, data=captured.body, headers=dict(captured.headers), timeout=10
    )
    assert replay.status_code == 401 and "stale" not in replay.headers["WWW-Authenticate"]
    assert db.execute(status).fetchone()[0] == 1  # still cancelled


def test_nonce_counts_must_rise_and_nonces_expire():
    clock = Clock()
    ledger = NonceLedger(lifetime_s=300, clock=clock)
    users = {DEVICE: "pw"}

    def header(nonce: str, nc: int | None) -> str:
        params = {"username": DEVICE, "realm": "r", "nonce": nonce, "uri": "/VIID/Subscribes"}
        if nc is not None:
            params |= {"qop": "auth", "nc": f"{nc:08x}", "cnonce": "c0ffee"}
        params["response"] = digest_response(params, "pw", "POST")
        return "Digest " + ", ".join(f'{k}="{v}"' for k, v in params.items())

    nonce = ledger.issue()
    assert ledger.check(header(nonce, 1), users, "POST").user == DEVICE
    assert ledger.check(header(nonce, 1), users, "POST").user is None  # replay
    assert ledger.check(header(nonce, 3), users, "POST").user == DEVICE
    assert ledger.check(header(nonce, 2), users, "POST").user is None  # went backwards
    forged = header(nonce, 9).replace('response="', 'response="0')
    assert ledger.check(forged, users, "POST").user is None
    assert ledger.check(header(nonce, 4), users, "POST").user == DEVICE  # forgery spent nothing
    # RFC 2069 (no qop, so no count): a nonce is good for one request
    once = ledger.issue()
    assert ledger.check(header(once, None), users, "POST").user == DEVICE
    assert ledger.check(header(once, None), users, "POST").user is None
    # a nonce past its lifetime is stale: the client may retry with the new challenge
    clock.now += 301
    verdict = ledger.check(header(nonce, 5), users, "POST")
    assert verdict.user is None and verdict.stale
    assert ledger.check(header("never-issued", 1), users, "POST") == DigestVerdict(None)


def test_expired_subscription_stops(subscriber):
    sim, db, proto, box_url = subscriber
    sim.subscribe(box_url, DEVICE, "pw", "SUB3", categories="12,13", minutes=1)
    from sync.gat1400.store import expire_subscriptions

    assert expire_subscriptions(db, datetime.now(UTC) + timedelta(minutes=2)) == 1
    record(db, "vehicle_passage", datetime.now(UTC), plate="皖A20000")
    fan_out(db, DEVICE, proto.apes, datetime.now(UTC))
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE topic = 'viid_notify'").fetchone()[0] == 0


# -- dispositions --------------------------------------------------------------------------
def test_disposition_becomes_a_watch_and_its_hits_go_back_linked(subscriber):
    sim, db, proto, box_url = subscriber
    disposition = {
        "DispositionID": "340100000000012026050108000000001",
        "Title": "stolen car",
        "DispositionCategory": "3",
        "TargetFeature": "皖A66666",
        "BeginTime": "20260101000000",
        "EndTime": "20991231000000",
        "OperateType": 0,
        "ReceiveAddr": f"{sim.url}/VIID/DispositionNotifications",
    }
    doc = {"DispositionListObject": {"DispositionObject": [disposition]}}
    sim.call_box(box_url, "POST", "/VIID/Dispositions", doc, DEVICE, "pw")
    [watch] = db.execute("SELECT id, plate, source FROM watchlist").fetchall()
    assert watch[1:] == ("皖A66666", "district")
    add_watch(db, "皖A77777", "local note")  # a local watch entry: not a 布控
    at = datetime.now(UTC)
    for plate, ids in (("皖A66666", [watch[0]]), ("皖A77777", [watch[0] + 1])):
        alert = NewEvent("g1", "watchlist_alert", at, plate=plate, details={"watch_ids": ids})
        passage = NewEvent("g1", "vehicle_passage", at, "deny", plate=plate)
        stored = record_event(db, passage, linked=[alert])
        at += timedelta(seconds=1)
    drain(UplinkWorker(db, proto))
    [note] = sim.objects("/VIID/DispositionNotifications")
    assert note["DispositionID"] == disposition["DispositionID"]
    first_passage = db.execute(
        "SELECT id FROM events WHERE kind = 'vehicle_passage' ORDER BY occurred_at"
    ).fetchone()[0]
    assert note["CntObjectID"] == object_id(APE, first_passage, "02", ZONE)
    assert note["MotorVehicleObject"]["PlateNo"] == "皖A66666"
    # 撤控 removes exactly the row it made
    sim.call_box(box_url, "DELETE", f"/VIID/Dispositions?IDList={disposition['DispositionID']}",
                 None, DEVICE, "pw")  # fmt: skip
    assert [r[0] for r in db.execute("SELECT plate FROM watchlist")] == ["皖A77777"]
    del stored


def vehicle_disposition(sim, disp_id: str, plate: str) -> dict:
    return {"DispositionListObject": {"DispositionObject": [{
        "DispositionID": disp_id, "Title": "stolen car", "DispositionCategory": "3",
        "TargetFeature": plate, "BeginTime": "20260101000000", "EndTime": "20991231000000",
        "ReceiveAddr": f"{sim.url}/VIID/DispositionNotifications",
    }]}}  # fmt: skip


def record_hit(db, plate: str, watch_id: int, at: datetime) -> None:
    alert = NewEvent("g1", "watchlist_alert", at, plate=plate, details={"watch_ids": [watch_id]})
    record_event(db, NewEvent("g1", "vehicle_passage", at, "deny", plate=plate), linked=[alert])


def test_a_hit_under_disposition_is_sent_after_its_cancellation(subscriber):
    """The alert of a hit that happened while the 布控 stood is still queued when the
    platform sends 撤控: it goes back to the platform all the same (the hit happened under
    the disposition); a hit after the 撤控 never links to it."""
    sim, db, proto, box_url = subscriber
    disposition = vehicle_disposition(sim, "D9", "皖A66666")
    sim.call_box(box_url, "POST", "/VIID/Dispositions", disposition, DEVICE, "pw")
    [watch_id] = [r[0] for r in db.execute("SELECT id FROM watchlist")]
    record_hit(db, "皖A66666", watch_id, datetime.now(UTC))
    # a new version of the disposition replaces its watch row; the queued alert stays its own
    sim.call_box(box_url, "PUT", "/VIID/Dispositions/D9", disposition, DEVICE, "pw")
    sim.call_box(box_url, "DELETE", "/VIID/Dispositions?IDList=D9", None, DEVICE, "pw")
    assert db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 0
    # a gate still holding the old list raises an alert after the 撤控: not the platform's
    record_hit(db, "皖A66666", watch_id, datetime.now(UTC) + timedelta(seconds=1))
    drain(UplinkWorker(db, proto))
    [note] = sim.objects("/VIID/DispositionNotifications")
    assert note["DispositionID"] == "D9" and note["MotorVehicleObject"]["PlateNo"] == "皖A66666"
    assert pending(db) == 0 and not dead_rows(db.conn)
    # a local watch row that reuses the cancelled row's id is the community's, not D9's
    reused = add_watch(db, "皖A88888", "local note")
    assert reused == watch_id
    record_hit(db, "皖A88888", reused, datetime.now(UTC) + timedelta(seconds=2))
    drain(UplinkWorker(db, proto))
    assert len(sim.objects("/VIID/DispositionNotifications")) == 1


def test_a_hit_outside_the_dispositions_own_time_is_not_sent(subscriber):
    """A 布控 whose BeginTime is still to come (the platform sends it ahead) or whose EndTime
    has passed covers no hit outside that time: such an alert stays the box's own; a hit
    inside it goes to the platform."""
    sim, db, proto, box_url = subscriber
    begin = datetime.now(UTC) + timedelta(hours=1)
    end = begin + timedelta(hours=1)
    doc = vehicle_disposition(sim, "D7", "皖A55555")
    [item] = doc["DispositionListObject"]["DispositionObject"]
    item["BeginTime"] = viid_time(begin, ZONE)
    item["EndTime"] = viid_time(end, ZONE)
    sim.call_box(box_url, "POST", "/VIID/Dispositions", doc, DEVICE, "pw")
    [watch_id] = [r[0] for r in db.execute("SELECT id FROM watchlist")]
    record_hit(db, "皖A55555", watch_id, datetime.now(UTC))  # before it begins
    record_hit(db, "皖A55555", watch_id, end + timedelta(seconds=1))  # after it ended
    drain(UplinkWorker(db, proto))
    assert sim.objects("/VIID/DispositionNotifications") == []
    assert pending(db) == 0 and not dead_rows(db.conn)  # honoured, not retried
    record_hit(db, "皖A55555", watch_id, begin + timedelta(minutes=5))
    drain(UplinkWorker(db, proto))
    [note] = sim.objects("/VIID/DispositionNotifications")
    assert note["DispositionID"] == "D7"


def test_a_disposition_sent_ahead_alerts_at_the_gate_only_inside_its_time(subscriber):
    """Before: a 布控 whose BeginTime is still to come made its watch row at once, and the
    gate alerted on that plate before the window began. Now the row carries BeginTime and
    EndTime and the gate's decision raises the watch alert only inside [BeginTime, EndTime)."""
    sim, db, _, box_url = subscriber
    now = datetime.now(UTC).replace(microsecond=0)
    begin, end = now + timedelta(hours=1), now + timedelta(hours=2)
    doc = vehicle_disposition(sim, "D8", "皖A44444")
    [item] = doc["DispositionListObject"]["DispositionObject"]
    item["BeginTime"], item["EndTime"] = viid_time(begin, ZONE), viid_time(end, ZONE)
    sim.call_box(box_url, "POST", "/VIID/Dispositions", doc, DEVICE, "pw")
    [row] = db.execute("SELECT starts_at, expires_at FROM watchlist").fetchall()
    assert row == (iso(begin), iso(end))  # made at once, with its window
    facts = facts_for_plate(db, "皖A44444")
    sighting, gate = Sighting("皖A44444", 0.99, True), GateFacts("g1", "vehicle")
    for at, alerts in (
        (now, False),  # sent ahead: not yet
        (begin - timedelta(seconds=1), False),
        (begin, True),
        (begin + timedelta(minutes=30), True),
        (end, False),  # ended
        (end + timedelta(days=1), False),
    ):
        decision = decide_vehicle(sighting, gate, at, facts)
        assert bool(decision.alerts) is alerts, at
    # the gate's last good copy in memory (when the store cannot be read) decides the same
    copy = PeopleCopy()
    copy.refresh(db.conn)
    held = copy.read(lambda copied: facts_for_plate(copied, "皖A44444"))
    assert not decide_vehicle(sighting, gate, now, held).alerts
    assert decide_vehicle(sighting, gate, begin, held).alerts


def test_a_face_disposition_sent_ahead_joins_the_gates_watch_index_at_its_begin(tmp_path):
    """The face watch index a pedestrian gate loads holds a 布控's face only from BeginTime
    to EndTime, and its signature changes at both, so the gate reloads then."""
    db = connect(tmp_path / "box.db")
    create_key_file(tmp_path / "pii.key")
    vault = PiiVault.from_key_file(tmp_path / "pii.key")
    now = datetime.now(UTC).replace(microsecond=0)
    begin, end = now + timedelta(hours=1), now + timedelta(hours=2)
    vector = np.random.default_rng(8).normal(size=128).astype("<f4")
    template = SimpleNamespace(vector=vector / np.linalg.norm(vector))

    def add_face(conn, photo: bytes, label: str, expires_at: datetime | None) -> int:
        return add_watch_face(
            conn, vault, template, "model", label, "", "district", now, expires_at
        )

    disposition = Disposition("F1", codes.DISPOSITION_FACE, "wanted", None, b"jpeg", "",
                              begin, end, False)  # fmt: skip
    apply_disposition(db, disposition, now, add_face)
    signatures = []
    for at, size in ((now, 0), (begin, 1), (end - timedelta(seconds=1), 1), (end, 0)):
        assert len(load_watch_index(db, vault, "model", at)) == size, at
        signatures.append(watch_signature(db, at))
    assert signatures[0] != signatures[1] and signatures[2] != signatures[3]


def test_upgrading_gives_the_watch_rows_of_standing_dispositions_their_begin(tmp_path):
    """A box upgraded with dispositions sent ahead already in force: their watch rows get
    the BeginTime (migration 17); a local row and a cancelled disposition's get none."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _title, sql in MIGRATIONS:
        if version > 16:
            break
        if version in TABLE_REBUILDS:
            conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        conn.execute("PRAGMA foreign_keys = ON")
    at, begin = "2026-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"
    for plate, source in (
        ("皖A11111", "district"),
        ("皖A22222", "district"),
        ("皖A33333", "local"),
    ):
        conn.execute(
            "INSERT INTO watchlist (plate, source, created_at) VALUES (?, ?, ?)",
            (plate, source, at),
        )
    for disp_id, status, watch_id in (("D1", 0, 1), ("D2", 1, 2)):
        conn.execute(
            "INSERT INTO viid_dispositions (id, category, begin_at, status, watchlist_id,"
            " created_at, updated_at) VALUES (?, '3', ?, ?, ?, ?, ?)",
            (disp_id, begin, status, watch_id, at, at),
        )
    conn.close()
    db = connect(path)
    rows = db.execute("SELECT plate, starts_at FROM watchlist ORDER BY id").fetchall()
    assert rows == [("皖A11111", begin), ("皖A22222", None), ("皖A33333", None)]


def test_bad_dispositions_change_nothing(subscriber):
    sim, db, _, box_url = subscriber
    for bad in (
        {"DispositionID": "D1", "DispositionCategory": "3", "TargetFeature": "not a plate"},
        {"DispositionID": "D2", "DispositionCategory": "2"},  # face without a photo
        {"DispositionID": "D3", "DispositionCategory": "5", "TargetFeature": "keyword"},
        {"DispositionID": "D 4", "DispositionCategory": "3", "TargetFeature": "皖A66666"},
    ):
        doc = {"DispositionListObject": {"DispositionObject": [bad]}}
        reply = sim.call_box(box_url, "POST", "/VIID/Dispositions", doc, DEVICE, "pw")
        [status] = reply["ResponseStatusListObject"]["ResponseStatusObject"]
        assert status["StatusCode"] in (4, 8), bad
    assert db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM viid_dispositions").fetchone()[0] == 0


def test_box_database_survives_reopen(tmp_path, make_box):
    db = make_box(tmp_path / "box.db", 1)
    db.conn.close()
    assert connect(tmp_path / "box.db").execute("SELECT COUNT(*) FROM viid_subscriptions")
