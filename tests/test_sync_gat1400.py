"""GA/T 1400 adapter against the reference platform's VIID endpoints (digest, keepalive)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sync_helpers import make_box, outbox_keys, pending

from edge.db import transaction
from sync.gat1400 import Gat1400Protocol, parse_status_reply, viid_time
from sync.outbox import dead_rows, enqueue
from sync.reference_platform import ReferencePlatform
from sync.transport import Transport
from sync.uplink import UplinkWorker

DEVICE = "34010000001190000001"
ZONE = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def viid():
    with ReferencePlatform(viid_users={DEVICE: "pw"}) as platform:
        yield platform


def make_protocol(platform, clock, password="pw"):
    transport = Transport(platform.url, 1, 1)
    return Gat1400Protocol(transport, DEVICE, DEVICE, password, ZONE, 50, clock=clock)


def test_register_upload_keepalive_and_reregister(tmp_path, viid):
    db = make_box(tmp_path / "box.db", 30)
    clock = Clock()
    proto = make_protocol(viid, clock)
    worker = UplinkWorker(db, proto, batch_size=10)
    while worker.step().delivered:
        pass
    assert pending(db) == 0 and viid.count() == 30 and viid.registrations == 1
    obj = viid.item(viid.keys()[0])
    assert len(obj["MotorVehicleID"]) == 48 and obj["DeviceID"] == DEVICE
    assert obj["PlateNo"] == "皖A00000" and obj["PlateColor"] == "5"
    assert obj["PassTime"] == "20260501160000"  # 08:00 UTC shown in Beijing time
    clock.now += 51
    proto.tick()
    assert viid.keepalives == 1  # string StatusCode "0" accepted
    viid.registered.clear()  # the platform restarts and forgets us
    clock.now += 51
    with pytest.raises(Exception, match="401"):
        proto.tick()
    proto.tick()  # re-registers
    assert viid.registrations == 2 and proto.registered


def test_wrong_password_never_registers(tmp_path, viid):
    proto = make_protocol(viid, Clock(), password="nope")
    with pytest.raises(Exception, match="401"):
        proto.tick()
    assert not proto.registered and viid.registrations == 0


def test_resent_rows_keep_their_object_ids(tmp_path, viid):
    db = make_box(tmp_path / "box.db", 5)
    proto = make_protocol(viid, Clock())
    from sync.outbox import next_batch

    rows = next_batch(db.conn, 10)
    proto.send(rows)
    proto.send(rows)  # ack lost, sent again
    assert viid.count() == 5 and viid.receipts == 10


def test_rows_viid_cannot_carry_are_dead_lettered_not_dropped(tmp_path, viid):
    db = make_box(tmp_path / "box.db", 2)
    with transaction(db) as conn:
        enqueue(conn, "01REGISTRATION0000000000", "registration", {"room": 1}, datetime.now(UTC))
    worker = UplinkWorker(db, make_protocol(viid, Clock()))
    worker.step()
    assert [d["key"] for d in dead_rows(db.conn)] == ["01REGISTRATION0000000000"]
    assert "vehicles and faces only" in dead_rows(db.conn)[0]["reason"]
    assert viid.count() == 2 and len(outbox_keys(db)) == 3


@pytest.mark.parametrize(
    "body, codes",
    [
        ({"ResponseStatusObject": {"StatusCode": 0, "Id": "a"}}, [0]),
        ({"ResponseStatusObject": {"StatusCode": "0"}}, [0]),
        ({"ResponseStatusListObject": {"ResponseStatusObject": [{"StatusCode": "4"}]}}, [4]),
        ({"ResponseStatusListObject": {"ResponseStatusObject": {"StatusCode": 1}}}, [1]),
    ],
)
def test_status_reply_is_parsed_tolerantly(body, codes):
    assert [s["code"] for s in parse_status_reply(json.dumps(body).encode())] == codes


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[1]",
        b'{"ResponseStatusObject": {"StatusCode": "ok"}}',
        b"<xml/>",
        b'{"ResponseStatusObject": {"StatusCode": true}}',
    ],
)
def test_unusable_status_replies_raise(body):
    with pytest.raises(ValueError):
        parse_status_reply(body)


def test_viid_time_is_local_yyyymmddhhmmss():
    assert viid_time(datetime(2026, 12, 31, 16, 30, 5, tzinfo=UTC), ZONE) == "20270101003005"
