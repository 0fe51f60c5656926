"""Benchmark: a guard at the hub's console opens a gate on a gate box, click to relay.

Run: .venv/bin/python bench/community_open.py [--opens 30]

The whole path as on a LAN, over loopback: the hub's console (the real web app, a guard's
POST with its CSRF token and form nonce, audit row) writes the command into the hub's
database; `menwei hub serve` (its own process) notices it and answers the gate box's
waiting command long-poll; the box's link (`HubLink`, as `menwei hub link` runs it) asks
the gate's control socket; the running vehicle gate (real camera thread and plate reader
busy on frames, real database) records the manual open and pulses the relay (mock pin).
Timed from the POST until the relay pin is energised, and until the console's answer.
Target (issue 19): the relay within 300 ms on the LAN.

Baseline in the same run: the same gate opened by its own box's console path (the control
socket directly), i.e. what the hub adds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path[:0] = [str(_ROOT)]

import cv2  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from bench.shared.relay import wait_high, wait_low  # noqa: E402
from edge.config import load_config  # noqa: E402
from edge.db import connect, transaction, utc_now  # noqa: E402
from edge.gates.assembly import vehicle_gate  # noqa: E402
from edge.gates.control import gate_forwarder, send_gate_command  # noqa: E402
from edge.pii import PiiVault, create_key_file  # noqa: E402
from edge.plates.synth import render_scene  # noqa: E402
from edge.web.accounts import create_user  # noqa: E402
from edge.web.app import create_app  # noqa: E402
from sync.community.boxes import invite  # noqa: E402
from sync.community.link import HubLink, join  # noqa: E402

HUB = """\
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
[web]
secure_cookies = false
[community]
role = "hub"
listen = "127.0.0.1:{port}"
"""
BOX = """\
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
[hardware]
pin_factory = "mock"
[community]
role = "gate"
hub_url = "http://127.0.0.1:{port}"
box_id = "north-box"
[[gates]]
id = "north"
name = "北门车行"
kind = "vehicle"
[gates.camera]
source = "frames"
replay_fps = 10
[gates.barrier]
open_pin = 17
active_high = true
pulse_s = 0.3  # a real barrier pulse: the bench cannot miss it under load
"""
PASSWORD = "bench-guard-Passw0rd!"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe(label: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    return (
        f"{label:<44} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms"
        f"   max {values[-1]:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opens", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        port = free_port()
        for name, text in (("hub", HUB), ("box", BOX)):
            (root / name).mkdir()
            create_key_file(root / name / "pii.key")
            (root / name / "menwei.toml").write_text(text.format(port=port), encoding="utf-8")
        (root / "box" / "frames").mkdir()
        for i in range(5):  # unknown plates: the gate reads every frame, as at a busy gate
            cv2.imwrite(str(root / "box" / "frames" / f"{i}.jpg"), render_scene("沪C0L876", seed=i))
        hub_config = load_config(root / "hub" / "menwei.toml")
        app = create_app(hub_config)
        hub_db = connect(hub_config.storage.database_path)
        with transaction(hub_db) as conn:
            create_user(conn, "guard01", PASSWORD, "guard", utc_now())
        log = open(root / "hub" / "serve.log", "wb")  # noqa: SIM115 - the child's
        serve = subprocess.Popen(
            [sys.executable, "-c", "from edge.cli.main import main; main()", "hub", "serve",
             "-c", str(root / "hub" / "menwei.toml")],
            stdout=log, stderr=log, cwd=_ROOT,
        )  # fmt: skip
        stop = threading.Event()
        try:
            deadline = time.monotonic() + 60
            code = invite(hub_db, "north-box", utc_now(), 600)
            while True:
                try:
                    box_config = load_config(root / "box" / "menwei.toml")
                    key_file = box_config.community.key_file
                    join(f"http://127.0.0.1:{port}", "north-box", code, key_file)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            box_config = load_config(root / "box" / "menwei.toml")
            factory = MockFactory()
            run_dir = box_config.storage.run_dir

            with vehicle_gate(box_config, "north", stop, pin_factory=factory):
                link = HubLink(
                    box_config.storage.database_path, box_config.community,
                    PiiVault.from_key_file(root / "box" / "pii.key"),
                    box_config.storage.snapshot_dir, stop,
                    tuple((g.id, g.name, g.kind) for g in box_config.gates),
                    gate_forwarder(run_dir),
                )  # fmt: skip
                threading.Thread(target=link.run, daemon=True).start()
                while not hub_db.execute(
                    "SELECT 1 FROM community_gates WHERE gate_id = 'north' AND name IS NOT NULL"
                ).fetchone():
                    time.sleep(0.05)
                time.sleep(1.0)  # camera up, reader warm
                client = app.test_client()
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
                client.post("/login", data={"csrf_token": token.group(1), "username": "guard01",
                                            "password": PASSWORD})  # fmt: skip
                pin = factory.pin(17)
                relay, answered, refused = [], [], 0
                for n in range(args.opens):
                    page = client.get("/console/").text
                    form = re.search(r'action="/console/gates/north/open"(.*?)</form>', page, re.S)
                    fields = {
                        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1],
                        "form_nonce": re.search(r'name="form_nonce" value="([^"]+)"', form[1])[1],
                        "reason": f"bench {n}",
                    }
                    wait_low(pin)
                    result: dict = {}

                    def post(fields=fields, result=result) -> None:
                        result["reply"] = client.post("/console/gates/north/open", data=fields)
                        result["at"] = time.perf_counter()

                    started = time.perf_counter()
                    poster = threading.Thread(target=post)
                    poster.start()
                    moved = wait_high(pin, started)
                    poster.join()
                    if moved is None or result["reply"].status_code != 303:
                        refused += 1
                        error = re.search(r'role="alert"[^>]*>([^<]*)<', result["reply"].text)
                        print(f"open {n} failed: relay {moved}, HTTP {result['reply'].status_code}"
                              f" {error[1] if error else ''}")  # fmt: skip
                        continue
                    relay.append(moved)
                    answered.append((result["at"] - started) * 1000)
                direct = []
                request = {"cmd": "open", "operator": "bench", "reason": "baseline"}
                for _ in range(args.opens):
                    wait_low(pin)
                    started = time.perf_counter()
                    send_gate_command(run_dir, "north", request)
                    direct.append(wait_high(pin, started) or 0.0)
                stop.set()
        finally:
            serve.terminate()
            serve.wait(20)
            log.close()
    print(f"open at the hub's console -> gate box relay, {args.opens} opens, over loopback,")
    print("hub serve its own process, gate reading frames at 10 fps")
    print(describe("click -> relay energised (through the hub)", relay))
    print(describe("click -> console's answer (page redirect)", answered))
    print(describe("same gate, its own control socket (baseline)", direct))
    print(f"failed opens: {refused}; load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
