"""`menwei sync` as a real process whose data disk fills up while it sends: it keeps
running (a storage fault is the disk's weather, not a reason to exit and be restarted
every 5 s by systemd), says so once, and sends the rest by itself once the disk has room;
nothing is lost or sent twice.

Real tmpfs mount (the suite runs as root, as on a box; skipped where mounting is refused).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from helpers import (
    clear_fault,
    fault_disk,
    mount_tmpfs,
    outbox_keys,
    pending,
    unmount,
    write_secret,
)

from edge.db import connect

EVENTS = 600
CONFIG = """\
[storage]
data_dir = "data"

[sync]
platform_url = "{url}"
device_id = "box-1"
secret_file = "sync.secret"
batch_size = 10
backoff_initial_s = 0.01
backoff_max_s = 0.2
idle_poll_s = 0.02
downlink = false
"""


def wait_for(predicate, timeout_s: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sync_rides_out_a_full_disk_and_sends_the_rest_when_it_clears(
    tmp_path, make_box, reference_platform
):
    data = tmp_path / "data"
    mount_tmpfs(data, "8m")
    try:
        write_secret(tmp_path)
        make_box(data / "menwei.db", EVENTS).conn.close()
        platform = reference_platform(tmp_path / "platform.db")
        platform.faults.slow_s = 0.02  # slow enough that the disk fills mid-run
        (tmp_path / "menwei.toml").write_text(CONFIG.format(url=platform.url), "utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from edge.cli.main import main; main()", "sync", "-c",
             "menwei.toml"],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "LANG": "zh_CN.UTF-8"},
        )  # fmt: skip
        lines: list[str] = []
        assert proc.stderr is not None
        stderr = proc.stderr
        threading.Thread(target=lambda: lines.extend(stderr), daemon=True).start()
        try:
            assert wait_for(lambda: platform.receipts >= 30 or proc.poll() is not None)
            fault_disk(data, "full")
            assert wait_for(lambda: "storage fault" in "".join(lines) or proc.poll() is not None)
            assert proc.poll() is None, "".join(lines)  # still running on the full disk
            clear_fault(data, "full")
            box = connect(data / "menwei.db")
            assert wait_for(lambda: pending(box) == 0 or proc.poll() is not None), "".join(lines)
            assert proc.poll() is None, "".join(lines)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        assert code == 0, "".join(lines)
        assert "Traceback" not in "".join(lines)
        assert platform.keys() == outbox_keys(box) and len(platform.keys()) == EVENTS
        box.conn.close()
    finally:
        unmount(data)
