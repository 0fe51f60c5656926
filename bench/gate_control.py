"""Benchmark: manual open from the console to the relay, over the gate's control socket.

Run: .venv/bin/python bench/gate_control.py [--opens N]

Times a request sent with edge.gates.control.send_gate_command until the mock OPEN relay
pin is energised, against a running vehicle gate (real camera thread, real plate reader
loop busy on frames, real database). Baseline in the same run: calling Barrier.open()
directly in-process, i.e. the cost of the channel and the logged event on top of the
relay itself. Target: the relay pulses within 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path[:0] = [str(_ROOT)]  # bench.shared; the package `sync`, not bench/sync.py

import cv2  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from bench.shared.relay import wait_high, wait_low  # noqa: E402
from edge.config import load_config  # noqa: E402
from edge.gates.assembly import vehicle_gate  # noqa: E402
from edge.gates.control import send_gate_command  # noqa: E402
from edge.plates.synth import render_scene  # noqa: E402
from gate_drivers.barrier import Barrier  # noqa: E402


def relay_ms(pin, started: float) -> float:
    moved = wait_high(pin, started)
    if moved is None:
        raise SystemExit("the relay did not move within 10 s: the gate is not answering")
    return moved


CONFIG = """
[storage]
data_dir = "data"
[hardware]
pin_factory = "mock"
[[gates]]
id = "north"
name = "North"
kind = "vehicle"
[gates.camera]
source = "frames"
replay_fps = 10
[gates.barrier]
open_pin = 17
active_high = true
pulse_s = 0.02
"""


def describe(label: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    return f"{label:<46} median {statistics.median(values):7.2f} ms   p95 {p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opens", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "frames").mkdir()
        for i in range(5):  # unknown plates: the loop reads every frame, as at a busy gate
            cv2.imwrite(str(root / "frames" / f"{i}.jpg"), render_scene("沪C0L876", seed=i))
        (root / "menwei.toml").write_text(CONFIG, encoding="utf-8")
        config = load_config(root / "menwei.toml")
        factory = MockFactory()
        stop = threading.Event()
        channel = []
        with vehicle_gate(config, "north", stop, pin_factory=factory):
            pin = factory.pin(17)
            time.sleep(1.0)  # camera up, reader warm
            request = {"cmd": "open", "operator": "bench", "reason": "benchmark"}
            for _ in range(args.opens):
                wait_low(pin)
                started = time.perf_counter()
                send_gate_command(config.storage.run_dir, "north", request)
                channel.append(relay_ms(pin, started))
        direct = []
        barrier = Barrier(18, pulse_s=0.02, active_high=True, pin_factory=factory)
        pin = factory.pin(18)
        for _ in range(args.opens):
            wait_low(pin)
            started = time.perf_counter()
            barrier.open()
            direct.append(relay_ms(pin, started))
        barrier.close()
    print(f"manual open latency, {args.opens} opens, gate loop reading frames at 10 fps")
    print(describe("console request -> relay (socket + event + relay)", channel))
    print(describe("Barrier.open() in-process (baseline)", direct))
    print(f"ratio of medians: {statistics.median(channel) / statistics.median(direct):.1f}x")


if __name__ == "__main__":
    main()
