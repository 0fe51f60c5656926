"""sd_notify and the watchdog ping, tested faithfully without systemd.

systemd is not PID 1 here (and CI has no user instance), so the tests play systemd's
part: a real AF_UNIX datagram socket named in NOTIFY_SOCKET, WATCHDOG_USEC set, and the
messages read back. What systemd does with them (restart when pings stop for WatchdogSec)
is systemd's; what we must prove is that pings come from the gate loop, keep coming while
it is busy, and stop when it hangs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import pytest

from edge.box.watchdog import Watchdog, notify, watchdog_interval_s
from edge.gates.vehicle import VehicleGateLoop
from edge.plates.reader import PlateReader
from edge.plates.voting import PlateVoter
from edge.policy.vehicle import GateFacts
from edge.store.snapshots import SnapshotStore
from gate_drivers.barrier import Barrier
from gate_drivers.camera import Camera

synth = pytest.importorskip("edge.plates.synth")


@pytest.fixture
def systemd_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    yield sock, str(path)
    sock.close()


def drain(sock: socket.socket, seconds: float) -> list[str]:
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            messages.append(sock.recv(4096).decode())
    return messages


def drain_until(
    sock: socket.socket, done: Callable[[list[str]], bool], deadline_s: float
) -> list[str]:
    messages, deadline = [], time.monotonic() + deadline_s
    while not done(messages) and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            messages.append(sock.recv(4096).decode())
    return messages


def pings_after_ready(messages: list[str]) -> int:
    ready = next((i for i, m in enumerate(messages) if m.startswith("READY=1")), None)
    return 0 if ready is None else messages[ready:].count("WATCHDOG=1")


def test_outside_systemd_everything_is_a_no_op():
    assert notify("READY=1", {}) is False
    assert watchdog_interval_s({}) is None
    dog = Watchdog({})
    dog.alive()
    assert not dog.enabled and dog.pings == 0


def test_interval_is_half_of_watchdog_usec_and_respects_pid():
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "junk"}) is None


def test_pings_are_rate_limited(systemd_socket):
    sock, path = systemd_socket
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})  # interval 0.2 s
    for _ in range(1000):
        dog.alive()
    assert drain(sock, 0.2) == ["WATCHDOG=1"]


def test_a_full_notify_queue_does_not_hang_the_service(systemd_socket):
    """Nobody reads the socket: sends fail after their timeout instead of blocking forever."""
    _, path = systemd_socket
    started = time.monotonic()
    sent = 0
    while sent < 5000 and notify("STATUS=x", {"NOTIFY_SOCKET": path}):
        sent += 1  # the kernel queues net.unix.max_dgram_qlen datagrams (10 by default)
    assert 0 < sent < 5000, "the queue should have filled and the send given up"
    assert time.monotonic() - started < 10


def test_no_ping_follows_stopping(systemd_socket):
    """The loop thread may iterate after shutdown began; systemd must see STOPPING last."""
    sock, path = systemd_socket
    # interval 50 ms, a ping every 25 ms: few enough that the datagram queue never fills
    # (a full queue blocks the sender, as it would block a service if systemd stopped reading)
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            dog.alive()

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(0.1)
    dog.stopping()
    time.sleep(0.1)
    done.set()
    thread.join()
    messages = drain(sock, 0.2)
    assert messages.count("WATCHDOG=1") >= 2
    assert messages[-1] == "STOPPING=1"


def test_menwei_gate_reports_ready_pings_and_stopping(systemd_socket, tmp_path):
    sock, path = systemd_socket
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.jpg"), synth.render_empty_scene())
    config = tmp_path / "menwei.toml"
    config.write_text(
        '[storage]\ndata_dir = "data"\n[hardware]\npin_factory = "mock"\n'
        '[[gates]]\nid = "north"\nname = "North"\nkind = "vehicle"\n'
        '[gates.camera]\nsource = "frames"\nreplay_fps = 10\n[gates.barrier]\nopen_pin = 17\n',
        encoding="utf-8",
    )
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    menwei = Path(sys.executable).parent / "menwei"
    process = subprocess.Popen(
        [str(menwei), "gate", "north", "-c", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Until READY and three pings after it (start-up loads the plate models: seconds
        # on a loaded machine), not for a fixed time.
        messages = drain_until(sock, lambda m: pings_after_ready(m) >= 3, 60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        messages += drain(sock, 0.5)
    finally:
        if process.poll() is None:
            process.kill()
    # The loop may ping just before READY (it starts first); systemd accepts that.
    assert sum(m.startswith("READY=1") for m in messages) == 1
    assert pings_after_ready(messages) >= 3
    assert messages[-1] == "STOPPING=1"


class HangingReader:
    """Fault injection: a recogniser call that never returns until released."""

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.entered = threading.Event()  # the loop is inside the hanging call
        self.release = threading.Event()

    def read(self, frame, vehicle_present: bool = False):  # PlateReader.read's signature
        if self.hang.is_set():
            self.entered.set()
            self.release.wait()
        return []


def test_hung_gate_loop_stops_pinging_and_resumes(systemd_socket, tmp_path, pin_factory, db):
    sock, path = systemd_socket
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.jpg"), synth.render_empty_scene())
    db.execute("INSERT INTO gates VALUES ('north', 'N', 'vehicle', 'x')")
    reader = HangingReader()
    barrier = Barrier(17, pin_factory=pin_factory)
    camera = Camera(str(frames), replay_fps=20)
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        camera,
        barrier,
        reader,
        PlateVoter(),
        db,
        SnapshotStore(tmp_path / "s", ZoneInfo("UTC")),
    )
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    stop = threading.Event()
    camera.start()
    thread = threading.Thread(target=loop.run, args=(stop, dog.alive), daemon=True)
    thread.start()
    try:
        assert drain(sock, 1.0).count("WATCHDOG=1") >= 3, "a working loop pings"
        reader.hang.set()
        # Wait for the loop to be inside the hanging read (not a fixed sleep: a loaded CI
        # machine can take longer to get there), then discard the pings it sent before.
        assert reader.entered.wait(5), "the loop never reached the recogniser"
        drain(sock, 0.05)
        assert drain(sock, 1.0) == [], "a hung loop must stop pinging"
        assert thread.is_alive() and camera.health().state == "ok"  # other threads live on
        reader.hang.clear()
        reader.release.set()
        assert drain(sock, 1.0).count("WATCHDOG=1") >= 3, "pings resume after the hang"
    finally:
        reader.release.set()
        stop.set()
        thread.join(5)
        camera.stop()
        barrier.close()


def test_busy_loop_keeps_pinging(systemd_socket, tmp_path, pin_factory, db):
    """Real recognition on every frame (tens of ms each) is busy, not hung."""
    sock, path = systemd_socket
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.jpg"), synth.render_scene("沪C0L876", seed=i))
    db.execute("INSERT INTO gates VALUES ('north', 'N', 'vehicle', 'x')")
    barrier = Barrier(17, pin_factory=pin_factory)
    camera = Camera(str(frames), replay_fps=30)
    loop = VehicleGateLoop(
        GateFacts("north", "vehicle"),
        camera,
        barrier,
        PlateReader(),
        PlateVoter(),
        db,
        SnapshotStore(tmp_path / "s", ZoneInfo("UTC")),
    )
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    stop = threading.Event()
    camera.start()
    thread = threading.Thread(target=loop.run, args=(stop, dog.alive), daemon=True)
    thread.start()
    try:
        # Until ten frames were recognised and five pings came (the first inference warms
        # the model up: slow on a loaded machine), not for a fixed time.
        messages = drain_until(
            sock, lambda m: m.count("WATCHDOG=1") >= 5 and loop.stats.frames >= 10, 60
        )
        assert messages.count("WATCHDOG=1") >= 5
        assert loop.stats.frames >= 10
    finally:
        stop.set()
        thread.join(5)
        camera.stop()
        barrier.close()
