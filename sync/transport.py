"""HTTP(S) to the district platform through one ``requests.Session``, with hard limits.

Why requests: it is what the ecosystem speaks (keep-alive pooling, TLS through urllib3,
``HTTPDigestAuth`` with qop/no-qop and nonce counting), so the box meets servers the way
their authors tested them. What we add on top, each for a reason:

- certificate verification cannot be turned off; ``ca_file`` (the district's own CA)
  replaces the system store; the environment is ignored (``trust_env = False``: no proxy
  variables, no ``REQUESTS_CA_BUNDLE``, no ``.netrc`` credentials changing what is sent);
- plain ``http://`` only to loopback, checked here as well as in the config, and never a
  redirect (a 30x is answered to the caller as it is, not followed to another host);
- separate connect/read timeouts, and a cap on the bytes read from a reply
  (``stream=True``): a broken or hostile platform must not fill the box's memory;
- every failure — refused, reset, timeout, TLS, too large — is one :class:`TransportError`,
  which the worker answers by keeping the rows and backing off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from edge.config.base import is_loopback
from edge.errors import MenweiError


class TransportError(MenweiError):
    """The request may or may not have reached the platform; retry later (idempotently)."""


class ResponseTooLargeError(TransportError):
    """The platform answered with more bytes than we accept."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL (the key of a connection pool)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_url(url: str) -> None:
    """https anywhere, http only to loopback; raises ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("plain http is allowed only to 127.0.0.1/localhost; use https")
    if parts.username or parts.password:
        raise ValueError("no credentials in the URL")


class Transport:
    """Sends requests to one base URL over a kept-alive session (not thread-safe)."""

    def __init__(
        self,
        base_url: str,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 20.0,
        max_response_bytes: int = 8 * 1024 * 1024,
        ca_file: Path | None = None,
        auth: requests.auth.AuthBase | None = None,
    ) -> None:
        check_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.prefix = urlsplit(self.base_url).path
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_response_bytes = max_response_bytes
        self.ca_file = ca_file
        self.auth = auth
        self._session: requests.Session | None = None

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_file) if self.ca_file else True
        session.max_redirects = 0
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._new_session()
        return self._session

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> Response:
        """Send once to ``base_url + path``; any failure drops the connection and raises."""
        return self.request_url(method, self.url_for(path), body, headers, auth)

    def request_url(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> Response:
        """Send once to an absolute URL (a subscriber's ReceiveAddr) with the same rules."""
        try:
            check_url(url)
            reply = self.session.request(
                method,
                url,
                data=body,
                headers=headers or {},
                auth=auth or self.auth,
                timeout=(self.connect_timeout_s, self.read_timeout_s),
                stream=True,
                allow_redirects=False,
            )
            try:
                data = self._read_capped(reply)
            finally:
                reply.close()
            return Response(
                reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, data
            )
        except TransportError:
            self.close()
            raise
        except ValueError as exc:
            raise TransportError(f"refused URL: {exc}") from None
        except requests.exceptions.SSLError as exc:
            self.close()
            reason = "certificate verify failed" in str(exc) and "certificate not trusted"
            raise TransportError(f"TLS {reason or 'failure'}: {exc}"[:300]) from None
        except (requests.RequestException, OSError) as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}"[:300]) from None

    def _read_capped(self, reply: requests.Response) -> bytes:
        length = reply.headers.get("Content-Length")
        declared = length or ""
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ResponseTooLargeError(f"response of {length} bytes exceeds the limit")
        chunks, size = [], 0
        for chunk in reply.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLargeError("response exceeds the size limit")
            chunks.append(chunk)
        return b"".join(chunks)
