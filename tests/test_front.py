"""The HTTPS front cannot be stalled: the real nginx (Debian's package) with the config
`menwei front-config` renders, in front of the real `menwei web` on loopback.

Before (cheroot serving TLS itself): 6 idle TCP connections froze every HTTPS page and
/healthz for ~60 s, and the watchdog probe failed, so systemd restarted the service over
and over. Here 200 idle TCP, 200 slowloris and 200 stalled-TLS-handshake clients (from 200
loopback addresses, re-opened as the front closes them) attack for the whole measurement
while a logged-in guard polls the live feed: p95 within 3 s (served, not stalled), /healthz
green, the watchdog pinged throughout, neither process restarted. Loopback only, bounded in
count and time.
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import os
import re
import select
import shutil
import socket
import ssl
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Serving, menwei_web, serving_process

from edge.box.install import NGINX, write_self_signed_certificate
from edge.config import load_config
from edge.db import connect, transaction, utc_now
from edge.web import front
from edge.web.accounts import create_user

PASSWORD = "lantern-orchard-41"
PER_KIND = 200
POLLS = 40

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None and not NGINX.exists(),
    reason="nginx not installed (scripts/setup.sh installs Debian's nginx)",
)


class Box:
    """`menwei web` and its nginx front, both real processes on loopback."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cert, self.key = tmp / "tls" / "cert.pem", tmp / "tls" / "key.pem"
        write_self_signed_certificate(self.cert, self.key, "menwei-test")
        self.config_path = tmp / "menwei.toml"
        self._write_config(8080, 8443)  # placeholders until start() binds real ports
        db = connect(self.config.storage.database_path)
        with transaction(db) as conn:
            create_user(conn, "guard1", PASSWORD, "guard", utc_now())
        db.conn.close()
        self.context = ssl.create_default_context(cafile=str(self.cert))
        self.servers: list[Serving] = []

    def _toml(self, web_port: int, https_port: int) -> str:
        self.web_port, self.https_port = web_port, https_port
        return (
            f'[storage]\ndata_dir = "{self.tmp}/data"\n'
            f'[security]\npii_key_file = "{self.tmp}/keys/pii.key"\n'
            f'[web]\nport = {web_port}\ntls_certificate = "{self.cert}"\n'
            f'tls_key = "{self.key}"\n'
            f'[web.front]\naddress = "127.0.0.1"\nhttps_port = {https_port}\n'
            "http_port = 0\n"
        )

    def _write_config(self, web_port: int, https_port: int) -> None:
        self.config_path.write_text(self._toml(web_port, https_port), encoding="utf-8")
        self.config = load_config(self.config_path)

    def _nginx_command(self, port: int) -> list[str]:
        self._write_config(self.web_port, port)
        conf = self.tmp / "front" / "nginx.conf"
        paths = front.FrontPaths(
            self.tmp / "front" / "run", self.tmp / "front" / "state", getpass.getuser()
        )
        front.write(self.config, conf, paths)
        nginx = str(front.nginx_binary())
        subprocess.run([nginx, "-t", "-q", "-e", "stderr", "-c", str(conf)], check=True)
        return [nginx, "-e", "stderr", "-c", str(conf), "-g", "daemon off;"]

    def _healthy(self, _serving: Serving) -> bool:
        """Through the front with this test's own certificate: no other server answers."""
        with contextlib.suppress(OSError, http.client.HTTPException):
            return self.get("/healthz")[0] == 200
        return False

    def start(self) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.tmp / "notify.sock"))
        self.notify.settimeout(0.05)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(self.tmp / "notify.sock"),
            "WATCHDOG_USEC": "2000000",  # a /healthz probe and ping every second
        }
        env.pop("WATCHDOG_PID", None)
        web = menwei_web(self.config_path, lambda port: self._toml(port, self.https_port), env)
        self.servers.append(web)
        self.web = web.proc
        nginx = serving_process(self._nginx_command, self._healthy, timeout_s=60)
        self.servers.append(nginx)
        self.nginx = nginx.proc

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, timeout=10, context=self.context
        )

    def get(self, path: str, cookie: str = "") -> tuple[int, str, float]:
        """One request on a fresh TLS connection (the worst case: handshake included)."""
        started = time.monotonic()
        conn = self.connection()
        try:
            conn.request("GET", path, headers={"Cookie": cookie, "Accept": "application/json"})
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            return response.status, body, time.monotonic() - started
        finally:
            conn.close()

    def login(self) -> str:
        conn = self.connection()
        conn.request("GET", "/login")
        page = conn.getresponse()
        anon = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        body = f"csrf_token={token}&username=guard1&password={PASSWORD}"
        conn.request(
            "POST", "/login", body=body,
            headers={"Cookie": anon, "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        reply = conn.getresponse()
        reply.read()
        conn.close()
        assert reply.status == 302, reply.status
        return reply.getheader("Set-Cookie", "").split(";")[0]

    def pings(self) -> int:
        count = 0
        with contextlib.suppress(TimeoutError, BlockingIOError):
            while True:
                count += self.notify.recv(4096).decode().count("WATCHDOG=1")
        return count

    def stop(self) -> None:
        for server in self.servers:
            if server.proc.poll() is None:
                server.proc.terminate()
        for server in self.servers:
            server.stop(15)
        self.notify.close()


class Attack:
    """Idle TCP, slowloris and stalled-handshake clients from many loopback addresses, kept
    at their numbers: whatever the front closes is opened again. Stops by itself."""

    def __init__(self, port: int, per_kind: int, max_seconds: float) -> None:
        self.port = port
        self.per_kind = per_kind
        self.deadline = time.monotonic() + max_seconds
        self.stop_event = threading.Event()
        self.sockets: dict[str, list[socket.socket]] = {"idle": [], "slow": [], "tls": []}
        self.opened = 0
        self.peak = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def _open(self, kind: str, n: int) -> socket.socket | None:
        sock = socket.socket()
        try:
            sock.bind((f"127.0.{1 + n // 250}.{1 + n % 250}", 0))
            sock.settimeout(5)
            sock.connect(("127.0.0.1", self.port))
            if kind == "slow":  # a full handshake, then a header that never ends
                sock = self.context.wrap_socket(sock)
                sock.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
            elif kind == "tls":  # a ClientHello record header that never gets its body
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            sock.setblocking(False)
        except OSError:
            sock.close()
            return None
        self.opened += 1
        return sock

    @staticmethod
    def _alive(sock: socket.socket) -> bool:
        """Still held open by the front (no answer, no close)."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        try:
            sock.recv(1)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except OSError:
            return False
        return False  # closed, or answered (408/400): either way it is done

    def _run(self) -> None:
        n = 0
        while not self.stop_event.is_set() and time.monotonic() < self.deadline:
            for kind, held in self.sockets.items():
                kept = []
                for sock in held:
                    if self._alive(sock):
                        if kind == "slow":
                            with contextlib.suppress(OSError):
                                sock.send(b"X")  # one more byte, never a full line
                        kept.append(sock)
                    else:
                        sock.close()
                while len(kept) < self.per_kind and not self.stop_event.is_set():
                    made = self._open(kind, n % 200)
                    n += 1
                    if made is not None:
                        kept.append(made)
                    if len(kept) < self.per_kind and made is None:
                        break
                self.sockets[kind] = kept
            self.peak = max(self.peak, sum(len(v) for v in self.sockets.values()))
            self.stop_event.wait(0.5)
        for held in self.sockets.values():
            for sock in held:
                sock.close()

    def held(self) -> int:
        return sum(len(v) for v in self.sockets.values())

    def __enter__(self) -> Attack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    made = Box(tmp_path)
    try:
        made.start()
        yield made
    finally:
        made.stop()


@needs_nginx
@pytest.mark.slow
@pytest.mark.alone
def test_600_hostile_clients_do_not_stall_the_guards_console(box: Box) -> None:
    cookie = box.login()
    status, body, _ = box.get("/events/feed?after=0", cookie)
    assert status == 200 and '"events"' in body
    box.pings()
    web_pid, nginx_pid = box.web.pid, box.nginx.pid
    with Attack(box.https_port, PER_KIND, max_seconds=120) as attack:
        deadline = time.monotonic() + 60
        while attack.held() < 3 * PER_KIND * 0.95 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert attack.held() >= 3 * PER_KIND * 0.95, attack.held()
        times, health = [], []
        for _ in range(POLLS):
            status, body, took = box.get("/events/feed?after=0", cookie)
            assert status == 200 and '"events"' in body
            times.append(took)
            health.append(box.get("/healthz")[0])
            time.sleep(0.25)
        held_at_end, opened = attack.held(), attack.opened
        pings = box.pings()
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"feed poll under attack: p50 {statistics.median(times):.3f} s, p95 {p95:.3f} s; "
          f"attack held {held_at_end}, opened {opened}; watchdog pings {pings}")  # fmt: skip
    # Stalled was ~60 s; the bound only tells stalled from served, since a loaded 2-core
    # runner alone reaches ~1 s (speed lives in bench/console_load.py).
    assert p95 < 3.0, times
    assert set(health) == {200}
    assert held_at_end >= 3 * PER_KIND * 0.9  # the attack was on the whole time
    assert opened > 3 * PER_KIND  # the front closed stalled clients and they came back
    assert pings >= 5  # /healthz answered the watchdog probe throughout
    assert box.web.poll() is None and box.nginx.poll() is None
    assert (box.web.pid, box.nginx.pid) == (web_pid, nginx_pid)


@needs_nginx
def test_front_headers_limits_and_config(box: Box) -> None:
    assert box.get("/login")[0] == 200
    conn = box.connection()
    conn.request("GET", "/login")
    reply = conn.getresponse()
    reply.read()
    assert reply.getheader("Strict-Transport-Security") == "max-age=31536000"
    assert len(reply.headers.get_all("Strict-Transport-Security")) == 1
    assert reply.getheader("Server") == "nginx"  # no version
    # A spoofed X-Forwarded-For does not change the address the app's limits see.
    conn.request("GET", "/login", headers={"X-Forwarded-For": "10.9.9.9"})
    conn.getresponse().read()
    conn.close()
    big = box.connection()
    big.request(
        "POST", "/r/x", body=b"x" * (18 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert big.getresponse().status == 413  # refused by the front, never read by the app
    big.close()
    text = front.render(box.config)
    for line in ("client_header_timeout 10s;", "ssl_protocols TLSv1.2 TLSv1.3;",
                 "proxy_set_header X-Forwarded-For $remote_addr;", "access_log off;"):  # fmt: skip
        assert line in text, line
    with pytest.raises(front.FrontError, match="tls_certificate"):
        front.render(box.config.model_copy(
            update={"web": box.config.web.model_copy(update={"tls_certificate": None})}
        ))  # fmt: skip


def test_waitress_never_listens_beyond_loopback(tmp_path: Path) -> None:
    from edge.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="loopback only"):
        parse_config({"web": {"host": "0.0.0.0"}})
    assert parse_config({"web": {"host": "::1"}}).web.host == "::1"


def _raw(box: Box, request: bytes, timeout_s: float = 30.0) -> bytes:
    """Send ``request`` as bytes over TLS and return what comes back until the front closes."""
    sock = box.context.wrap_socket(
        socket.create_connection(("127.0.0.1", box.https_port), timeout=timeout_s),
        server_hostname="menwei-test",
    )
    try:
        sock.sendall(request)
        reply = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                reply += chunk
        return reply
    finally:
        sock.close()


@needs_nginx
def test_malformed_requests_and_a_stalled_body_end_at_the_front(box: Box) -> None:
    """Requests no browser sends are refused by nginx (never reach the app) and a POST whose
    body stops coming is closed within the client timeout; the guard's console answers
    throughout."""
    cookie = box.login()
    hostile = {
        "header over 8 KiB": b"GET /login HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n",
        "garbage request line": b"\x00\x01GARBAGE\r\n\r\n",
        "negative length": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "length and chunked": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n",  # request smuggling
        "bad chunk": b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "two hosts": b"GET /login HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "NUL in a header": b"GET /login HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    }  # fmt: skip
    answers = {name: _raw(box, request)[:12] for name, request in hostile.items()}
    assert answers == {name: b"HTTP/1.1 400" for name in hostile}, answers
    # A body announced and never sent: the front closes the connection after
    # client_body_timeout (10 s) while the guard's feed keeps answering.
    started = time.monotonic()
    stalled = threading.Thread(target=lambda: answers.update(stalled=_raw(box, (
        b"POST /r/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000\r\n\r\nname=")))
    )  # fmt: skip
    stalled.start()
    while stalled.is_alive():
        status, body, _took = box.get("/events/feed?after=0", cookie)
        assert status == 200 and '"events"' in body
        stalled.join(timeout=0.5)
    took = time.monotonic() - started
    assert answers["stalled"].startswith(b"HTTP/1.1 408") or answers["stalled"] == b"", answers
    assert box.config.web.front.client_timeout_s <= took < 3 * box.config.web.front.client_timeout_s
    assert box.get("/healthz")[0] == 200
    assert box.web.poll() is None and box.nginx.poll() is None
