"""Running the web app in production: TLS when configured, systemd notify and watchdog.

Two servers, one rule each: waitress serves plain HTTP (loopback, development, or behind a
site's own TLS proxy); cheroot serves HTTPS itself when ``[web] tls_certificate`` and
``tls_key`` are set — waitress has no TLS, and secure session cookies need HTTPS on the LAN.

The watchdog ping must prove the *server* answers, not just that Python runs, so the main
thread asks the server's own ``/healthz`` (which also touches the database) over loopback
and pings systemd only when that succeeds; a wedged server stops pinging and is restarted.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from edge.config import MenweiConfig
from edge.watchdog import Watchdog

log = logging.getLogger(__name__)
PROBE_EVERY_S = 5.0


class _Server(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class _Waitress:
    server: Any

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.close()


@dataclass
class _Cheroot:
    server: Any

    def run(self) -> None:
        self.server.serve()  # prepare() already bound the socket in build_server

    def stop(self) -> None:
        self.server.stop()


def build_server(app: Any, config: MenweiConfig, host: str, port: int) -> tuple[_Server, str]:
    """The server for this config and the URL it serves."""
    web = config.web
    if web.tls_certificate is not None and web.tls_key is not None:
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        server = wsgi.Server((host, port), app, numthreads=web.threads, server_name="menwei")
        server.ssl_adapter = BuiltinSSLAdapter(str(web.tls_certificate), str(web.tls_key))
        server.prepare()  # binds now, so a bad certificate or busy port fails at start
        return _Cheroot(server), f"https://{host}:{server.bind_addr[1]}"
    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=web.threads, ident="menwei")
    return _Waitress(server), f"http://{host}:{server.effective_port}"


def probe(url: str, timeout_s: float = 3.0) -> bool:
    """Does the server answer /healthz? Loopback only, so certificate checks are skipped."""
    scheme, rest = url.split("://", 1)
    host, port = rest.rsplit(":", 1)
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, int(port), timeout=timeout_s, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
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
