"""`menwei web` in production shape: waitress on loopback with its connection limits,
systemd READY/WATCHDOG/STOPPING on a real notify socket, a clean stop on SIGTERM. HTTPS is
the front's job (tests/test_front.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from helpers import menwei_web

from edge.config import ConfigError, parse_config
from edge.web.server import build_server


def drain(sock: socket.socket, seconds: float) -> list[str]:
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            messages.append(sock.recv(4096).decode())
    return messages


def drain_until(sock: socket.socket, done, timeout_s: float = 90) -> list[str]:
    """Messages until ``done(messages)`` (a loaded machine starts the app slowly)."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not done(messages):
        assert time.monotonic() < deadline, messages
        with contextlib.suppress(TimeoutError):
            messages.append(sock.recv(4096).decode())
    return messages


def test_loopback_server_with_systemd_notify(tmp_path: Path) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.1)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    web = menwei_web(
        tmp_path / "menwei.toml",
        lambda port: (
            f'[storage]\ndata_dir = "{tmp_path}/data"\n'
            f'[security]\npii_key_file = "{tmp_path}/pii.key"\n[web]\nport = {port}\n'
        ),
        env,
    )
    port = web.port
    try:
        messages = drain_until(notify, lambda got: any(m.startswith("READY=1") for m in got))
        messages += drain_until(notify, lambda got: got.count("WATCHDOG=1") >= 2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as reply:
            assert reply.status == 200 and "登录" in reply.read().decode()
        web.proc.send_signal(signal.SIGTERM)
        # Wait for the exit this one signal causes: a second SIGTERM (web.stop) can land
        # while Python is finalising, when the default action is back, and reads as -15.
        assert web.proc.wait(60) == 0, web.output()
        assert "STOPPING=1" in drain(notify, 0.5)
        assert f"http://127.0.0.1:{port}" in web.output()
    finally:
        web.stop()
        notify.close()


def test_waitress_bounds_connections_and_idle_time(tmp_path: Path) -> None:
    """Before: waitress's defaults (100 connections, 120 s idle) — 100 slow clients stopped
    it. Now its limits come from [web] (and only nginx connects in production)."""
    from edge.web.app import create_app
    from edge.web.server import build_server

    config = parse_config(
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "security": {"pii_key_file": str(tmp_path / "pii.key")},
            "web": {"connection_limit": 300, "channel_timeout_s": 7},
        }
    )
    server, url = build_server(create_app(config), config, "127.0.0.1", 0)
    try:
        adj = server.server.adj
        assert (adj.connection_limit, adj.channel_timeout, adj.host) == (300, 7, "127.0.0.1")
        assert url.startswith("http://127.0.0.1:")
    finally:
        server.stop()


def test_menwei_web_refuses_a_lan_address(tmp_path: Path) -> None:
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}/data"\n'
        f'[security]\npii_key_file = "{tmp_path}/pii.key"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("menwei")), "web", "--host", "0.0.0.0",
         "-c", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "loopback only" in result.stderr


def test_tls_needs_both_files_as_absolute_paths() -> None:
    with pytest.raises(ConfigError, match="both tls_certificate and tls_key"):
        parse_config({"web": {"tls_certificate": "/etc/menwei/tls/cert.pem"}})
    with pytest.raises(ConfigError, match="absolute"):
        parse_config({"web": {"tls_certificate": "cert.pem", "tls_key": "key.pem"}})


def test_stopping_the_server_ends_its_thread_without_a_traceback() -> None:
    """Before: stop() closed the listening socket under waitress's select(), and the serving
    thread died with "OSError: [Errno 9] Bad file descriptor" (the demo printed it)."""
    config = parse_config({}, "menwei.toml")  # the port is given to build_server
    escaped: list[BaseException | None] = []
    for _ in range(60):  # the race is narrow: the loop's select() on a just-closed socket
        server, url = build_server(Flask("t"), config, "127.0.0.1", 0)

        def serve(server: Any = server) -> None:
            try:
                server.run()
            except BaseException as exc:  # what would escape the thread
                escaped.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        while not _answers(url):
            time.sleep(0.02)
        server.stop()
        thread.join(30)
        assert not thread.is_alive()
    assert escaped == []


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/", timeout=2)
    except urllib.error.HTTPError:
        return True  # it answered (404: the app has no routes)
    except OSError:
        return False
    return True
