"""Benchmark: a community hub and its gate boxes over loopback.

Run: .venv/bin/python bench/community.py [--boxes 20] [--changes 10] [--residents 5000]
     [--events 20000] [--idle-s 30]

What it measures, each for a question an integrator asks:

- **propagation delay**: the hub (its own process, `HubServer`) and ``--boxes`` simulated
  gate boxes (threads, each with its own SQLite file and HMAC key, long-polling exactly as
  `menwei hub link` does); a change is written at the hub (a pass revoked) and timed until
  every box has applied it. Median and worst over boxes × changes.
- **full resync**: ``--residents`` residents with 3 face templates each, sent as a snapshot
  to one new box (decrypted at the hub, sealed again on the box): seconds and bytes.
- **events up**: ``--events`` events with their outbox rows on one box, drained to the hub
  by the uplink worker (batch 200): events/s, and lost/duplicated afterwards.
- **hub CPU while idle**: the hub process's CPU time over ``--idle-s`` with every box
  connected and waiting.

Baseline in the same run for the delay: a box that polls every 5 s instead of waiting on
the hub (what the delay would be without the push).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path[:0] = [str(_ROOT)]

import numpy as np  # noqa: E402
from ulid import ULID  # noqa: E402

from edge.db import connect, iso, transaction, utc_now  # noqa: E402
from edge.people.passes import issue_pass, revoke_pass  # noqa: E402
from edge.people.resident_faces import TEMPLATE_PURPOSE  # noqa: E402
from edge.pii import PiiVault  # noqa: E402
from edge.store.outbox import enqueue  # noqa: E402
from sync.community.boxes import enrol, invite  # noqa: E402
from sync.community.hub import HubServer  # noqa: E402
from sync.community.link import HubClient, pull_once  # noqa: E402
from sync.community.lists import held_version  # noqa: E402
from sync.json_protocol import JsonProtocol  # noqa: E402
from sync.transport import TransportError  # noqa: E402
from sync.uplink import UplinkWorker  # noqa: E402

HUB_VAULT = PiiVault(bytes(range(32)))
BOX_VAULT = PiiVault(bytes(range(1, 33)))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def serve(db_path: str, snapshot_dir: str, urls: mp.Queue, stop) -> None:
    with HubServer(Path(db_path), HUB_VAULT, Path(snapshot_dir)) as hub:
        urls.put((hub.url, os.getpid()))
        stop.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def keys_for(hub_db, boxes: list[str]) -> dict[str, bytes]:
    return {
        b: enrol(hub_db, HUB_VAULT, b, invite(hub_db, b, utc_now(), 600), utc_now()) for b in boxes
    }


class Box(threading.Thread):
    """A simulated gate box: long-polls and applies, noting when each version arrived, and
    holds the command long-poll open as `menwei hub link` does."""

    def __init__(self, folder: Path, url: str, name: str, key: bytes, wait_s: float) -> None:
        super().__init__(daemon=True)
        self.path, self.url, self.name, self.key, self.wait_s = (
            folder / f"{name}.db",
            url,
            name,
            key,
            wait_s,
        )
        self.arrivals: list[tuple[int, float]] = []
        self.errors = 0
        self.stop = threading.Event()

    def commands(self) -> None:
        """The link's third long-poll: waits at the hub for a guard's open (none come)."""
        client = HubClient(self.url, self.name, self.key, read_timeout_s=50)
        gates = [{"id": f"{self.name}-door", "name": self.name, "kind": "pedestrian"}]
        while not self.stop.is_set():
            try:
                client.request("POST", "/community/v1/commands", {"gates": gates, "wait": 20})
            except TransportError:
                self.stop.wait(0.5)

    def run(self) -> None:
        if self.wait_s:
            threading.Thread(target=self.commands, daemon=True).start()
        db = connect(self.path)
        client = HubClient(self.url, self.name, self.key, read_timeout_s=self.wait_s + 30)
        more = True
        while not self.stop.is_set():
            try:
                wait = (0 if more else self.wait_s) if self.wait_s else 0
                more = pull_once(db, client, BOX_VAULT, wait)
            except TransportError as exc:  # as the link does: note it, back off, retry
                self.errors += 1
                print(f"{self.name}: {exc}", file=sys.stderr)
                self.stop.wait(0.5)
                continue
            self.arrivals.append((held_version(db.conn)[0], time.monotonic()))
            if not self.wait_s:  # the baseline: poll every 5 s without waiting at the hub
                self.stop.wait(5)


def propagation(hub_db, url: str, boxes: list[Box], changes: int) -> list[float]:
    for box in boxes:
        box.start()
    time.sleep(2)  # first contact: snapshots
    delays = []
    for _ in range(changes):
        now = utc_now()
        pass_id, _ = issue_pass(hub_db, "bench", now, now + timedelta(hours=1), 1)
        time.sleep(0.5)
        start = time.monotonic()
        revoke_pass(hub_db, pass_id)
        version = hub_db.execute("SELECT MAX(seq) FROM community_changes").fetchone()[0]
        for box in boxes:
            while not any(v >= version for v, _ in box.arrivals):
                time.sleep(0.005)
            arrived = min(t for v, t in box.arrivals if v >= version)
            delays.append(arrived - start)
    return delays


def populate_residents(hub_db, residents: int) -> None:
    rng = np.random.default_rng(5)
    now = iso(utc_now())
    with transaction(hub_db) as conn:
        for n in range(residents):
            rid = conn.execute(
                "INSERT INTO residents (name, name_enc, face_consent_at, created_at)"
                " VALUES ('', ?, ?, ?)",
                (HUB_VAULT.encrypt_text(f"resident {n}", "resident.name"), now, now),
            ).lastrowid
            for _ in range(3):
                vector = rng.normal(size=128).astype("<f4")
                blob = (vector / np.linalg.norm(vector)).astype("<f4").tobytes()
                conn.execute(
                    "INSERT INTO face_templates (resident_id, template, model_sha256, created_at)"
                    " VALUES (?, ?, 'bench', ?)",
                    (rid, HUB_VAULT.encrypt(blob, TEMPLATE_PURPOSE), now),
                )


def write_events(db, gate: str, count: int) -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    with transaction(db) as conn:
        conn.execute("INSERT INTO gates VALUES (?, ?, 'pedestrian', 'x')", (gate, gate))
        for n in range(count):
            at = t0 + timedelta(milliseconds=n)
            key = str(ULID.from_datetime(at))
            row = {
                "id": key,
                "occurred_at": iso(at),
                "gate_id": gate,
                "kind": "pin_passage",
                "decision": "open",
                "reasons": [],
                "details": {},
            }
            conn.execute(
                "INSERT INTO events (id, occurred_at, gate_id, kind, decision)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, row["occurred_at"], gate, "pin_passage", "open"),
            )
            enqueue(conn, key, "event", row, at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boxes", type=int, default=20)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--residents", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} x {os.cpu_count()}; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        hub_db = connect(folder / "hub.db")
        urls: mp.Queue = mp.Queue()
        stop = mp.Event()
        server = mp.Process(
            target=serve, args=(str(folder / "hub.db"), str(folder / "snaps"), urls, stop)
        )
        server.start()
        url, pid = urls.get(timeout=60)
        names = [f"box{n:02d}" for n in range(args.boxes)] + ["baseline", "resync", "events"]
        keys = keys_for(hub_db, names)

        boxes = [Box(folder, url, b, keys[b], 20.0) for b in names[: args.boxes]]
        baseline = Box(folder, url, "baseline", keys["baseline"], 0)
        delays = propagation(hub_db, url, [*boxes, baseline], args.changes)
        pushed = [d for i, d in enumerate(delays) if (i % (args.boxes + 1)) != args.boxes]
        polled = [d for i, d in enumerate(delays) if (i % (args.boxes + 1)) == args.boxes]
        print(
            f"propagation to {args.boxes} boxes x {args.changes} changes: median "
            f"{statistics.median(pushed) * 1000:.0f} ms, worst {max(pushed) * 1000:.0f} ms;"
            f" baseline 5 s polling: median {statistics.median(polled) * 1000:.0f} ms,"
            f" worst {max(polled) * 1000:.0f} ms"
        )

        before = cpu_seconds(pid)
        start = time.monotonic()
        time.sleep(args.idle_s)
        used = cpu_seconds(pid) - before
        print(
            f"hub CPU with {args.boxes + 1} boxes connected and idle: {used:.2f} s over"
            f" {time.monotonic() - start:.0f} s = {100 * used / args.idle_s:.1f} % of one core"
        )
        for box in [*boxes, baseline]:
            box.stop.set()
        errors = sum(box.errors for box in [*boxes, baseline])
        print(f"failed polls during the runs above: {errors}")

        populate_residents(hub_db, args.residents)
        resync_db = connect(folder / "resync.db")
        client = HubClient(url, "resync", keys["resync"], read_timeout_s=600)
        start = time.perf_counter()
        pull_once(resync_db, client, BOX_VAULT, 0)
        took = time.perf_counter() - start
        templates = resync_db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0]
        print(
            f"full resync of {args.residents} residents / {templates} templates to one box:"
            f" {took:.2f} s"
        )

        events_db = connect(folder / "events.db")
        write_events(events_db, "events-door", args.events)
        worker = UplinkWorker(
            events_db,
            JsonProtocol(
                HubClient(url, "events", keys["events"]).transport, "events", "hmac", keys["events"]
            ),
            200,
        )
        start = time.perf_counter()
        sent = 0
        while True:
            result = worker.step()
            if result.error:
                raise SystemExit(f"uplink failed: {result.error}")
            if result.idle:
                break
            sent += result.delivered
        took = time.perf_counter() - start
        held = hub_db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT id) FROM events WHERE gate_id = 'events-door'"
        ).fetchone()
        print(
            f"events up: {sent} in {took:.2f} s = {sent / took:.0f} events/s; at the hub"
            f" {held[1]} distinct of {args.events} (lost {args.events - held[1]},"
            f" duplicated {held[0] - held[1]})"
        )
        stop.set()
        server.join(30)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
