"""Uplink against the reference platform over real loopback HTTP: batches, faults, dead letters."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import UTC, datetime

import pytest
from helpers import SECRET, outbox_keys, pending

from edge.store.outbox import dead_rows, requeue_dead
from edge.store.snapshots import SnapshotStore
from sync.json_protocol import JsonProtocol, parse_uplink_reply
from sync.protocol import PlatformUnavailableError
from sync.reference_platform import ReferencePlatform
from sync.transport import Transport
from sync.uplink import Backoff, UplinkWorker

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def protocol_for(platform: ReferencePlatform, secret: bytes = SECRET, mode: str = "hmac", **kw):
    transport = Transport(platform.url, 1.0, kw.pop("read_timeout_s", 1.0))
    return JsonProtocol(transport, "box-1", mode, secret, **kw)


def drain(worker: UplinkWorker, max_steps: int = 2000) -> int:
    """Step until nothing is pending; returns the steps that failed on transport."""
    failures = 0
    for _ in range(max_steps):
        result = worker.step()
        failures += result.error is not None
        if result.idle:
            return failures
    raise AssertionError("backlog did not drain")


@pytest.fixture
def platform(reference_platform):
    server = reference_platform(seed=5)
    yield server


def test_batches_oldest_first_marked_only_after_ack_with_snapshots(tmp_path, platform, make_box):
    from zoneinfo import ZoneInfo

    snaps = SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai"))
    db = make_box(tmp_path / "box.db", 120, snapshots=snaps)
    sent: list[list[str]] = []
    proto = protocol_for(platform, snapshot_dir=tmp_path / "snaps")
    original = proto.send
    proto.send = lambda rows: (sent.append([r.key for r in rows]), original(rows))[1]
    worker = UplinkWorker(db, proto, batch_size=50)
    assert drain(worker) == 0
    assert [len(b) for b in sent] == [50, 50, 20]
    flat = [k for batch in sent for k in batch]
    assert flat == sorted(flat) == outbox_keys(db)  # ULIDs: oldest first
    assert platform.keys() == outbox_keys(db) and pending(db) == 0
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0] == 0
    held = platform.item(flat[0])
    assert held["plate"] == "皖A00000" and held["kind"] == "vehicle_passage"
    with platform.lock:
        snapshots = platform.db.execute("SELECT SUM(has_snapshot) FROM received").fetchone()[0]
    assert snapshots == 120


def test_snapshot_above_bound_travels_as_a_note(tmp_path, platform, make_box):
    from zoneinfo import ZoneInfo

    from edge.store.outbox import next_batch
    from sync.json_protocol import encode_batch

    snaps = SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai"))
    db = make_box(tmp_path / "box.db", 1, snapshots=snaps)
    rows = next_batch(db.conn, 10)
    small = json.loads(encode_batch("d", rows, tmp_path / "snaps", 10))["items"][0]["snapshot"]
    assert small == {"content_type": "image/jpeg", "data_b64": None, "omitted": "too_large"}
    full = json.loads(encode_batch("d", rows, tmp_path / "snaps", 10**6))["items"][0]["snapshot"]
    assert base64.b64decode(full["data_b64"])[:2] == b"\xff\xd8"  # a JPEG


def test_outage_for_the_whole_run_then_recovery(tmp_path, platform, make_box):
    db = make_box(tmp_path / "box.db", 80)
    worker = UplinkWorker(db, protocol_for(platform), batch_size=30)
    platform.faults.outage = True
    for _ in range(20):
        assert worker.step().error is not None
    assert pending(db) == 80 and platform.count() == 0
    attempts = db.execute("SELECT MIN(attempts), MAX(last_error) FROM outbox").fetchone()
    assert attempts[0] == 0 and "503" in attempts[1]  # only the first batch was ever tried
    platform.faults.outage = False
    drain(worker)
    assert pending(db) == 0 and platform.keys() == outbox_keys(db)


def test_random_5xx_timeouts_drops_and_garbage_deliver_exactly_once(tmp_path, platform, make_box):
    db = make_box(tmp_path / "box.db", 300)
    platform.faults.error_rate = 0.2
    platform.faults.timeout_rate = 0.1
    platform.faults.hang_s = 0.4
    platform.faults.drop_rate = 0.2  # stored, ack lost
    platform.faults.garbage_rate = 0.1
    worker = UplinkWorker(db, protocol_for(platform, read_timeout_s=0.2), batch_size=20)
    failures = drain(worker)
    assert failures > 5  # the faults really happened
    assert platform.receipts > 300  # some rows arrived twice (lost acks) ...
    assert platform.keys() == outbox_keys(db)  # ... and are held exactly once
    assert pending(db) == 0


@pytest.mark.parametrize("mode", ["batch", "row"])
def test_invalid_row_is_isolated_dead_lettered_and_never_blocks(tmp_path, platform, mode, make_box):
    db = make_box(tmp_path / "box.db", 64)
    keys = outbox_keys(db)
    bad = {keys[5], keys[40]}
    platform.faults.invalid_keys = bad
    platform.faults.reject_mode = mode
    alarms = []
    worker = UplinkWorker(
        db, protocol_for(platform), batch_size=32, on_dead=lambda row, why: alarms.append(row.key)
    )
    drain(worker)
    assert sorted(alarms) == sorted(bad)
    dead = dead_rows(db.conn)
    assert {d["key"] for d in dead} == bad and all(d["reason"] for d in dead)
    assert set(platform.keys()) == set(keys) - bad and pending(db) == 0
    # nothing was deleted: after the platform is fixed, requeue delivers them
    platform.faults.invalid_keys = set()
    assert requeue_dead(db) == 2
    drain(worker)
    assert platform.keys() == keys


def test_wrong_secret_delivers_nothing_and_keeps_rows(tmp_path, platform, make_box):
    db = make_box(tmp_path / "box.db", 5)
    result = UplinkWorker(db, protocol_for(platform, secret=b"wrong")).step()
    assert "401" in (result.error or "") and pending(db) == 5 and platform.count() == 0


def test_bearer_token_mode(tmp_path, make_box, reference_platform):
    server = reference_platform(auth_mode="token")
    db = make_box(tmp_path / "box.db", 5)
    drain(UplinkWorker(db, protocol_for(server, mode="token")))
    assert server.count() == 5


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"results": "x"}',
        b'{"results": [{"key": "A", "status": "weird"}]}',
        b'{"results": [{"key": 5, "status": "accepted"}]}',
        b'{"results": [{"key": "A", "status": "accepted"}]}',  # B missing
        b"[]",
    ],
)
def test_unusable_replies_leave_the_batch_pending(body):
    with pytest.raises(PlatformUnavailableError):
        parse_uplink_reply(body, ["A", "B"])


def test_reply_statuses():
    body = b'{"results": [{"key": "A", "status": "duplicate"}, {"key": "B", "status": "rejected"}]}'
    assert parse_uplink_reply(body, ["A", "B"]) == {
        "A": None,
        "B": "rejected by the platform (no reason given)",
    }


def test_backoff_grows_with_jitter_up_to_the_cap():
    import random

    backoff = Backoff(1.0, 60.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    for n, delay in enumerate(delays):
        ceiling = min(60.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[-4:]}) == 4  # jittered, not constant at the cap
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_registration_arrives_with_its_personal_part_opened(
    tmp_path, platform, registry_config, seed_registry
):
    """The outbox holds a registration's personal data sealed with the box's key; the
    uplink opens it just before sending (inside TLS), so the district can read it."""
    from datetime import UTC, date, datetime

    from helpers import tenant_form

    from edge.db import connect
    from edge.pii import PiiVault
    from qr_registry.form import parse_tenant_form
    from qr_registry.registrations import decide, submit

    config = registry_config(tmp_path)
    when = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    ids = seed_registry(config, when)
    db = connect(config.storage.database_path)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    form, errors = parse_tenant_form(tenant_form(7), date(2025, 6, 1), 3650)
    assert form is not None, errors
    reg = submit(db, vault, ids["room_a1"], form, when, 72, "v1").reg_id
    decide(db, vault, reg, ids["landlord_a"], True, "", when)
    stored = db.execute("SELECT payload FROM outbox").fetchone()[0]
    assert form.doc_number not in stored and "personal_sealed" in stored
    worker = UplinkWorker(db, protocol_for(platform, vault=vault), batch_size=10)
    assert drain(worker) == 0
    held = platform.item(platform.keys()[0])
    assert "personal_sealed" not in held and held["personal"]["doc_number"] == form.doc_number
    assert held["personal"]["room"] == "幸福小区 3幢 1单元 401" and held["change"] == "confirmed"
    # A box with the wrong key dead-letters the row rather than sending a blob nobody reads.
    db.execute("UPDATE outbox SET state = 'pending', delivered_at = NULL")
    other = PiiVault(b"\x01" * 32)
    worker = UplinkWorker(db, protocol_for(platform, vault=other), batch_size=10)
    drain(worker)
    assert len(dead_rows(db.conn)) == 1


def test_a_signed_audit_checkpoint_reaches_the_platform(tmp_path, platform, make_box):
    """The district keeps the box's checkpoints off the box and can check the signature
    with the public key inside (edge.audit; `menwei audit checkpoint` queues them)."""
    from edge import audit
    from edge.cli.web import CHECKPOINT_TOPIC
    from edge.store.outbox import enqueue

    db = make_box(tmp_path / "box.db", 3)
    audit.record(db, "user:1", "view", "event:1")

    def to_district(conn, checkpoint) -> None:
        enqueue(conn, "01JDCHECKPOINT000000000000", CHECKPOINT_TOPIC, asdict(checkpoint), NOW)

    made = audit.make_checkpoint(db, tmp_path / "cp.jsonl", NOW, to_district)
    assert drain(UplinkWorker(db, protocol_for(platform), batch_size=50)) == 0
    held = platform.item("01JDCHECKPOINT000000000000")
    received = audit.Checkpoint.from_json(json.dumps(held))
    assert received == made and received.signed_by(received.public_key)


def _one_item_bytes(db, snapshot_dir) -> int:
    from edge.store.outbox import next_batch
    from sync.json_protocol import encode_batch

    return len(encode_batch("box-1", next_batch(db.conn, 1), snapshot_dir, 256 * 1024))


def test_a_batch_over_the_request_budget_goes_in_parts(tmp_path, platform, make_box):
    """Snapshots travel inline, so 200 rows can outgrow what a platform takes in one request:
    the batch is split until each part fits, and every row arrives once."""
    from zoneinfo import ZoneInfo

    snaps = SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai"))
    db = make_box(tmp_path / "box.db", 40, snapshots=snaps)
    budget = 3 * _one_item_bytes(db, tmp_path / "snaps")
    sizes: list[int] = []
    proto = protocol_for(platform, snapshot_dir=tmp_path / "snaps", max_request_bytes=budget)
    original = proto.send
    proto.send = lambda rows: (sizes.append(len(rows)), original(rows))[1]
    assert drain(UplinkWorker(db, proto, batch_size=40)) == 0
    assert pending(db) == 0 and not dead_rows(db.conn) and platform.keys() == outbox_keys(db)
    assert max(sizes) == 40 and 0 < min(sizes) <= 3  # tried whole, sent in parts


def test_the_platforms_413_splits_the_batch_and_one_row_too_large_is_dead(
    tmp_path, platform, make_box, monkeypatch
):
    """A platform whose limit is below ours answers 413: the box sends smaller parts instead
    of retrying the same batch for ever; a row that alone is too large is dead-lettered
    (with the reason) so that it cannot block the rows behind it."""
    from zoneinfo import ZoneInfo

    import sync.reference_platform as reference

    snaps = SnapshotStore(tmp_path / "snaps", ZoneInfo("Asia/Shanghai"))
    db = make_box(tmp_path / "box.db", 20, snapshots=snaps)
    monkeypatch.setattr(reference, "MAX_BODY", 4 * _one_item_bytes(db, tmp_path / "snaps"))
    worker = UplinkWorker(db, protocol_for(platform, snapshot_dir=tmp_path / "snaps"), 20)
    assert drain(worker) == 0
    assert pending(db) == 0 and not dead_rows(db.conn) and platform.count() == 20
    monkeypatch.setattr(reference, "MAX_BODY", 100)  # now not even one row fits
    more = make_box(tmp_path / "more.db", 2, snapshots=snaps)
    assert drain(UplinkWorker(more, protocol_for(platform, snapshot_dir=tmp_path / "snaps"))) == 0
    dead = dead_rows(more.conn)
    assert len(dead) == 2 and all("413" in row["reason"] for row in dead)
