"""Running the web app in production: waitress on loopback, systemd notify and watchdog.

waitress serves plain HTTP on loopback only; the LAN reaches it through the HTTPS front
(nginx, edge.web.front), which absorbs idle, slow and half-open clients, so waitress only
ever sees complete requests. Its own limits still bound a local misbehaving client:
``connection_limit`` open connections and ``channel_timeout`` seconds of idleness.

The watchdog ping must prove the *server* answers, not just that Python runs, so the main
thread asks the server's own ``/healthz`` (which also touches the database) over loopback
and pings systemd only when that succeeds; a wedged server stops pinging and is restarted.
"""

from __future__ import annotations

import http.client
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from edge.box.watchdog import Watchdog
from edge.config import MenweiConfig
from edge.web.storage import FAULT_HEADER

log = logging.getLogger(__name__)
PROBE_EVERY_S = 5.0


class _Server(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class _Waitress:
    server: Any
    stopping: bool = False

    def run(self) -> None:
        try:
            self.server.run()
        except OSError:
            # stop() closes the listening socket under the loop's select(), which then
            # fails with EBADF: that is the stop, not a fault (the demo printed a traceback).
            if not self.stopping:
                raise

    def stop(self) -> None:
        self.stopping = True
        self.server.close()


def build_server(app: Any, config: MenweiConfig, host: str, port: int) -> tuple[_Server, str]:
    """The server for this config and the URL it serves."""
    from waitress.server import create_server

    web = config.web
    server = create_server(
        app,
        host=host,
        port=port,
        threads=web.threads,
        connection_limit=web.connection_limit,
        channel_timeout=web.channel_timeout_s,
        cleanup_interval=min(30, web.channel_timeout_s),
        ident="menwei",
    )
    return _Waitress(server), f"http://{host}:{server.effective_port}"


def probe(url: str, timeout_s: float = 3.0) -> bool:
    """Does the server answer /healthz (plain HTTP on loopback)?"""
    _scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout_s)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        # A storage fault answers 503: alive, and a restart would not fix the disk.
        if response.status == 503:
            return response.getheader(FAULT_HEADER) == "storage"
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def serve_until_stopped(
    server: _Server, url: str, stop: threading.Event, watchdog: Watchdog
) -> None:
    """Serve in a thread; ping the watchdog while /healthz answers; stop cleanly."""
    thread = threading.Thread(target=server.run, name="web-server", daemon=True)
    thread.start()
    ready = False
    interval = min(PROBE_EVERY_S, watchdog.interval_s or PROBE_EVERY_S)
    while not stop.is_set() and thread.is_alive():
        if probe(url):
            if not ready:
                watchdog.ready(f"serving {url}")
                ready = True
            watchdog.alive()
        else:
            log.warning("web: /healthz did not answer; not pinging the watchdog")
        stop.wait(interval if ready else 0.2)
    watchdog.stopping()
    server.stop()
    thread.join(timeout=10)
