"""Power-cut safety: the event writer SIGKILLed at random moments, many times.

SIGKILL gives the process no chance to clean up — the closest a test gets to pulling the
plug on the process (the OS page cache survives, so this proves SQLite's transaction and
our ordering; fsync on real power loss is SQLite's synchronous=FULL, set in edge.db).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.db import connect

WRITER = Path(__file__).with_name("crash_writer.py")


def run_and_kill(db_path: Path, snaps: Path, rng: random.Random) -> list[str]:
    """Start the writer, SIGKILL it at a random moment, return what it acknowledged."""
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), str(snaps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []

    def collect() -> None:
        for line in process.stdout:
            if line.startswith("ACK "):
                acked.append(line[4:].strip())

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    # Wait for the first acknowledgement (imports take a moment), then kill at random.
    deadline = time.monotonic() + 30
    while not acked and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert acked, f"writer never acknowledged: {process.stderr.read() if process.poll() else ''}"
    time.sleep(rng.uniform(0.0, 0.15))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    reader.join(timeout=10)
    return acked


def test_every_acknowledged_event_survives_sigkill(tmp_path):
    rng = random.Random(20261122)
    db_path, snaps = tmp_path / "menwei.db", tmp_path / "snapshots"
    acknowledged: list[str] = []
    kills = 0
    while len(acknowledged) < 500 or kills < 30:
        acknowledged += run_and_kill(db_path, snaps, rng)
        kills += 1
    print(f"{kills} SIGKILLs, {len(acknowledged)} acknowledged events")
    db = connect(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in db.execute("SELECT id FROM events")}
    outbox = {row[0] for row in db.execute("SELECT key FROM outbox")}
    missing = [event_id for event_id in acknowledged if event_id not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost after {kills} kills"
    assert set(acknowledged) <= outbox
    assert stored == outbox, "every event has its outbox row and no outbox row is orphaned"
    snapshot_paths = [r[0] for r in db.execute("SELECT snapshot_path FROM events")]
    assert all((snaps / p).is_file() for p in snapshot_paths if p)
