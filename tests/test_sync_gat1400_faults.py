"""`menwei sync` speaking GA/T 1400, SIGKILLed while it sends, its platform restarting.

The box uploads every event directly *and* pushes it to a subscription the platform made
(both through the one outbox). The platform misbehaves (500s, connections dropped after
storing, slow answers) and is restarted twice, forgetting every registration. Afterwards it
must hold every object and every notification exactly once (it dedupes by ID, as a
platform must: a resend keeps its ID), and the box nothing undelivered.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import outbox_keys, pending, write_secret

from edge.db import connect, transaction
from sync.gat1400.objects import object_id
from sync.gat1400.simulator import ViidSimulator
from sync.gat1400.store import parse_subscription, save_subscription

KILLS = 30
EVENTS = 1500
DEVICE = "34010000001190000001"
APE = "34010000001190000011"
ZONE = ZoneInfo("Asia/Shanghai")
SECRET = "viid-password-1"

CONFIG = """\
[site]
timezone = "Asia/Shanghai"

[storage]
data_dir = "data"

[sync]
platform_url = "{url}"
protocol = "gat1400"
device_id = "{device}"
secret_file = "sync.secret"
batch_size = 20
backoff_initial_s = 0.01
backoff_max_s = 0.05
idle_poll_s = 0.02
read_timeout_s = 1.0
keepalive_s = 5

[sync.gat1400]
listen = "127.0.0.1:0"
time_sync_s = 0

[[sync.gat1400.apes]]
gate = "g1"
ape_id = "{ape}"
lane_no = 1
direction = "3"
"""


def subscribe(db, receive_addr: str) -> None:
    """The platform's subscription, as the box's server stores it (persisted before start)."""
    now = datetime.now(ZONE)
    doc = {
        "SubscribeID": "340100000000022026050100000000001",
        "SubscribeDetail": "13",
        "ResourceURI": APE,
        "BeginTime": (now - timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
        "EndTime": (now + timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
        "ReceiveAddr": receive_addr,
    }
    with transaction(db) as conn:
        save_subscription(conn, parse_subscription(doc, ZONE, {"127.0.0.1"}), doc, now, 8)


@pytest.mark.slow
def test_sigkill_and_platform_restarts_lose_and_duplicate_nothing(tmp_path, make_box, sync_process):
    rng = random.Random(1400)
    write_secret(tmp_path, SECRET.encode())
    box_path = tmp_path / "data" / "menwei.db"
    db = make_box(box_path, EVENTS, start=datetime.now(UTC) - timedelta(minutes=5))
    users = {DEVICE: SECRET}
    platform = ViidSimulator("standard", users, tmp_path / "platform.db", seed=7).start()
    port = platform.server.server_address[1]
    subscribe(db, f"{platform.url}/VIID/SubscribeNotifications")
    db.conn.close()
    config_path = tmp_path / "menwei.toml"
    config_path.write_text(
        CONFIG.format(url=platform.url, device=DEVICE, ape=APE), encoding="utf-8"
    )
    sync = sync_process(config_path)
    try:
        restarts = 0
        for n in range(KILLS):
            platform.faults.error_rate = 0.1
            platform.faults.drop_rate = 0.15  # stored, then the connection dies: ack lost
            platform.faults.slow_s = 0.02
            sync.kill_while_sending(lambda p=platform: p.receipts, rng)
            if n in (KILLS // 3, 2 * KILLS // 3):  # the platform restarts, forgets sessions
                platform.stop()
                platform = ViidSimulator("standard", users, tmp_path / "platform.db", port)
                platform.start()
                restarts += 1
        box = connect(box_path)
        assert pending(box) > 0, "backlog drained before the kills ended; raise EVENTS"
        platform.faults.error_rate = platform.faults.drop_rate = platform.faults.slow_s = 0
        sync.drain_and_stop(box, wait_s=120, stop_s=20)
        assert pending(box) == 0
        assert box.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0] == 0
        events = [k for k in outbox_keys(box) if "." not in k]
        expected = sorted(object_id(APE, key, "02", ZONE) for key in events)
        assert platform.ids("/VIID/MotorVehicles") == expected  # every event, once
        notes = platform.objects("/VIID/SubscribeNotifications")
        infos = sorted(n["InfoIDs"] for n in notes)
        assert infos == expected  # every event notified once to the subscriber
        assert platform.duplicates() > 0  # lost acks really caused resends (deduped)
        assert platform.unregistrations == [DEVICE, APE]  # the clean stop said goodbye
        assert restarts == 2
    finally:
        platform.stop()
