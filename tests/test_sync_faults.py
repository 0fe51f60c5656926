"""`menwei sync` as a real process, SIGKILLed at random moments while it sends.

The platform misbehaves at the same time (5xx, dropped connections after storing, slow
answers). Afterwards the platform must hold every event exactly once (after dedupe) and
the box must hold nothing undelivered: an ack lost to a kill means a resend, never a loss.
"""

from __future__ import annotations

import random

import pytest
from helpers import outbox_keys, pending, write_secret

from edge.db import connect

KILLS = 55
EVENTS = 3000

CONFIG = """\
[storage]
data_dir = "data"

[sync]
platform_url = "{url}"
device_id = "box-1"
secret_file = "sync.secret"
batch_size = 10
backoff_initial_s = 0.01
backoff_max_s = 0.05
idle_poll_s = 0.02
read_timeout_s = 1.0
downlink = false
"""


@pytest.mark.slow
def test_sigkill_during_sending_loses_and_duplicates_nothing(
    tmp_path, make_box, reference_platform, sync_process
):
    rng = random.Random(1400)
    write_secret(tmp_path)
    db = make_box(tmp_path / "data" / "menwei.db", EVENTS)
    db.conn.close()
    platform = reference_platform(tmp_path / "platform.db", seed=7)
    config_path = tmp_path / "menwei.toml"
    config_path.write_text(CONFIG.format(url=platform.url), encoding="utf-8")
    sync = sync_process(config_path)
    platform.faults.error_rate = 0.1
    platform.faults.drop_rate = 0.15  # stored, then the connection dies: ack lost
    platform.faults.slow_s = 0.03
    kills_while_sending = sum(
        sync.kill_while_sending(lambda: platform.receipts, rng) for _ in range(KILLS)
    )
    assert kills_while_sending >= 50, kills_while_sending
    box = connect(tmp_path / "data" / "menwei.db")
    assert pending(box) > 0, "backlog drained before the kills ended; raise EVENTS"
    # recovery: a clean run drains the rest, then stops on SIGTERM
    platform.faults.error_rate = platform.faults.drop_rate = platform.faults.slow_s = 0
    sync.drain_and_stop(box, wait_s=60, stop_s=10)
    assert pending(box) == 0
    assert box.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0] == 0
    assert platform.keys() == outbox_keys(box)  # every event, once after dedupe
    assert len(platform.keys()) == EVENTS
    assert platform.receipts > EVENTS  # lost acks really caused resends
    status = (tmp_path / "data" / "sync-status.json").read_text()
    assert '"worker": "stopped"' in status and '"queued": 0' in status
