"""`menwei web` in production shape: HTTPS with the installer's certificate, systemd
READY/WATCHDOG/STOPPING on a real notify socket, a clean stop on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from edge.config import ConfigError, parse_config
from edge.install import write_self_signed_certificate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drain(sock: socket.socket, seconds: float) -> list[str]:
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            messages.append(sock.recv(4096).decode())
    return messages


def test_https_with_installer_certificate_and_systemd_notify(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    write_self_signed_certificate(cert, key, "menwei-test")
    port = free_port()
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}/data"\n'
        f'[security]\npii_key_file = "{tmp_path}/pii.key"\n'
        f'[web]\nport = {port}\ntls_certificate = "{cert}"\ntls_key = "{key}"\n',
        encoding="utf-8",
    )
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.1)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("menwei")), "web", "-c", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        messages = drain(notify, 8)
        assert any(m.startswith("READY=1") for m in messages), messages
        assert messages.count("WATCHDOG=1") >= 2
        # The installer's certificate verifies as the CA of itself (SAN 127.0.0.1).
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/login", context=context, timeout=5
        ) as reply:
            assert reply.status == 200 and "登录" in reply.read().decode()
        with pytest.raises(OSError):  # plain HTTP is not served on the TLS port
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=3).read()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, output
        assert "STOPPING=1" in drain(notify, 0.5)
        assert f"https://127.0.0.1:{port}" in output
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()


def test_tls_needs_both_files_as_absolute_paths() -> None:
    with pytest.raises(ConfigError, match="both tls_certificate and tls_key"):
        parse_config({"web": {"tls_certificate": "/etc/menwei/tls/cert.pem"}})
    with pytest.raises(ConfigError, match="absolute"):
        parse_config({"web": {"tls_certificate": "cert.pem", "tls_key": "key.pem"}})


def test_unreadable_certificate_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}/data"\n'
        f'[security]\npii_key_file = "{tmp_path}/pii.key"\n'
        f'[web]\nport = {free_port()}\ntls_certificate = "{bad}"\ntls_key = "{bad}"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(Path(sys.executable).with_name("menwei")), "web", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "cannot start the web server" in result.stderr and "Traceback" not in result.stderr
