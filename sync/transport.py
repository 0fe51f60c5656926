"""One HTTP(S) connection to the district platform, kept alive, with hard limits.

Why ``http.client`` and not a client library: we need exactly four things — certificate
verification that cannot be turned off (optionally against the district's own CA), separate
connect/read timeouts, keep-alive for throughput on a slow uplink, and a cap on how much of
a response we read (a broken or hostile platform must not fill the box's memory). All fit
in a page, and every failure becomes one :class:`TransportError` the worker backs off on.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class TransportError(Exception):
    """The request may or may not have reached the platform; retry later (idempotently)."""


class ResponseTooLargeError(TransportError):
    """The platform answered with more bytes than we accept."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verification always on; a district CA replaces the system store when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Transport:
    """Sends requests to one base URL over one persistent connection (not thread-safe)."""

    def __init__(
        self,
        base_url: str,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 20.0,
        max_response_bytes: int = 8 * 1024 * 1024,
        ca_file: Path | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_response_bytes = max_response_bytes
        self._tls = tls_context(ca_file) if parts.scheme == "https" else None
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._tls is not None:
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.connect_timeout_s, context=self._tls
                )
            else:
                conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.connect_timeout_s
                )
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout_s)
                # small requests on a kept-alive connection: do not wait for delayed ACKs
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send once; any network or protocol failure closes the connection and raises."""
        full_path = self.prefix + path
        try:
            conn = self._connect()
            conn.request(method, full_path, body=body, headers=headers or {})
            reply = conn.getresponse()
            length = reply.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > self.max_response_bytes:
                raise ResponseTooLargeError(f"response of {length} bytes exceeds the limit")
            data = reply.read(self.max_response_bytes + 1)
            if len(data) > self.max_response_bytes:
                raise ResponseTooLargeError("response exceeds the size limit")
            if reply.will_close:
                self.close()
            return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
        except TransportError:
            self.close()
            raise
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise TransportError(f"TLS certificate not trusted: {exc.verify_message}") from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}"[:300]) from None
