"""Gate health is asked of every gate side by side, over real Unix sockets.

The proof of concurrency is behavioural, not a stopwatch: each fake gate answers only once
*both* gates have been asked (a threading.Barrier). Asked in turn, the first gate would wait
for a second question that never comes, time out, and be reported "not answering".
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from edge.box.health import GateHealth, all_gate_health
from edge.config import GateConfig
from edge.config.gates import CameraConfig
from edge.config.vehicle import BarrierConfig
from edge.gates.control import socket_path

HEALTH = {"camera": {"state": "ok", "fps": 5.0}, "frames": 12, "barrier": {"action": "idle"}}


def _gate(gate_id: str) -> GateConfig:
    return GateConfig(
        id=gate_id,
        name=gate_id.title(),
        kind="vehicle",
        camera=CameraConfig(source="usb:0"),
        barrier=BarrierConfig(open_pin=17),
    )


class BarrierGate:
    """A gate control socket that replies with health once every gate has been asked."""

    def __init__(self, run_dir: Path, gate_id: str, together: threading.Barrier | None) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(socket_path(run_dir, gate_id)))
        self.server.listen(4)
        self.together = together
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.recv(4096)
            if self.together is None:
                self.closed.wait(10)  # a hung gate: reads the question, never answers
                return
            try:
                self.together.wait()
            except threading.BrokenBarrierError:
                return
            conn.sendall(json.dumps({"ok": True, "health": HEALTH}).encode() + b"\n")

    def close(self) -> None:
        self.closed.set()
        self.server.close()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


def test_gates_are_asked_together_and_answers_keep_config_order(run_dir):
    together = threading.Barrier(2, timeout=5)
    servers = [BarrierGate(run_dir, gate_id, together) for gate_id in ("north", "south")]
    try:
        report = all_gate_health(run_dir, [_gate("north"), _gate("south")], timeout_s=5)
    finally:
        for server in servers:
            server.close()
    assert [gate.gate_id for gate in report] == ["north", "south"]
    assert all(gate.running and gate.camera_state == "ok" for gate in report), report


def test_a_hung_and_a_missing_gate_are_reported_beside_a_working_one(run_dir):
    hung = BarrierGate(run_dir, "hung", None)
    working = BarrierGate(run_dir, "east", threading.Barrier(1))
    try:
        report = all_gate_health(
            run_dir, [_gate("hung"), _gate("gone"), _gate("east")], timeout_s=0.3
        )
    finally:
        hung.close()
        working.close()
    by_id = {gate.gate_id: gate for gate in report}
    assert not by_id["hung"].running and "did not answer" in (by_id["hung"].error or "")
    assert not by_id["gone"].running and "not running" in (by_id["gone"].error or "")
    assert by_id["east"].running and by_id["east"].frames == 12


@pytest.mark.parametrize(
    ("state", "age", "level"),
    [("ok", 0.2, "ok"), ("ok", 30.0, "warn"), ("ok", 300.0, "bad"), ("starting", None, "warn"),
     ("reconnecting", 1.0, "bad")],
)  # fmt: skip
def test_a_stale_camera_is_amber_then_red_even_when_it_says_ok(state, age, level):
    health = GateHealth("north", "北门", "vehicle", True, camera_state=state, last_frame_age_s=age)
    assert health.camera_level == level and health.level == level
