"""Request authentication: HMAC signatures or bearer tokens (JSON), HTTP digest (GA/T 1400).

Both sides live here (the box signs, the reference platform verifies) so the two can never
drift apart, and docs/sync-protocol.md describes exactly this code.

HMAC: ``X-Menwei-Signature = hex(HMAC-SHA256(secret, canonical))`` where ``canonical`` is
``METHOD\\nPATH\\nTIMESTAMP\\nDEVICE\\nhex(SHA256(body))``. The timestamp (Unix seconds) bounds
replay to ``MAX_SKEW_S``; re-sending a batch is harmless anyway (keys are idempotent).

Digest (GA/T 1400): the client is ``requests.auth.HTTPDigestAuth``; the server-side check
here verifies both the qop=auth and the RFC 2069 no-qop forms, and :class:`NonceLedger`
refuses a replayed request (nonce lifetime, nonce-count strictly increasing per nonce).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from requests.auth import HTTPDigestAuth

MAX_SKEW_S = 300


def _canonical(method: str, path: str, timestamp: str, device: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{device}\n{digest}".encode()


def auth_headers(
    mode: str,
    secret: bytes,
    device: str,
    method: str,
    path: str,
    body: bytes,
    now: float | None = None,
) -> dict[str, str]:
    """Headers that authenticate one JSON-protocol request."""
    if mode == "token":
        return {
            "Authorization": f"Bearer {secret.decode('utf-8', 'replace')}",
            "X-Menwei-Device": device,
        }
    timestamp = str(int(now if now is not None else time.time()))
    signature = hmac.new(secret, _canonical(method, path, timestamp, device, body), "sha256")
    return {
        "X-Menwei-Device": device,
        "X-Menwei-Timestamp": timestamp,
        "X-Menwei-Signature": signature.hexdigest(),
    }


def verify(
    mode: str, secret: bytes, headers: dict[str, str], method: str, path: str, body: bytes
) -> str | None:
    """None when authentic, else why not (for the platform's 401 body). Headers lower-case."""
    device = headers.get("x-menwei-device", "")
    if mode == "token":
        given = headers.get("authorization", "")
        expected = f"Bearer {secret.decode('utf-8', 'replace')}"
        return None if hmac.compare_digest(given.encode(), expected.encode()) else "bad token"
    timestamp = headers.get("x-menwei-timestamp", "")
    if (
        not (timestamp.isascii() and timestamp.isdigit())
        or abs(int(timestamp) - time.time()) > MAX_SKEW_S
    ):
        return "timestamp missing or outside the allowed clock skew"
    signature = hmac.new(secret, _canonical(method, path, timestamp, device, body), "sha256")
    given = headers.get("x-menwei-signature", "")
    return None if hmac.compare_digest(given, signature.hexdigest()) else "bad signature"


# -- HTTP digest (RFC 2617 / 7616, MD5) ---------------------------------------------------
class ViidDigestAuth(HTTPDigestAuth):
    """requests' digest (qop=auth or none, nonce counting, quoting), with one option:
    ``absolute_uri`` writes the request's absolute URL as the ``uri`` parameter, which some
    GA/T 1400 servers hash instead of the path (RFC 2617 allows either Request-URI form).

    requests hashes ``urlparse(url).path`` (plus query); giving it ``"uri:" + url`` makes
    that path the whole absolute URL, so the digest is still computed by requests.
    """

    def __init__(self, username: str, password: str, absolute_uri: bool = False) -> None:
        super().__init__(username, password)
        self.absolute_uri = absolute_uri

    def build_digest_header(self, method: str, url: str) -> str | None:
        return super().build_digest_header(method, f"uri:{url}" if self.absolute_uri else url)


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_digest_header(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", qop="auth"`` → dict; tolerant of spacing and quoting."""
    if not value.lower().startswith("digest "):
        return {}
    return {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3) or "")
        for m in _PARAM.finditer(value[7:])
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(params: dict[str, str], password: str, method: str) -> str:
    """The expected ``response`` for the parameters a client sent (qop=auth or none)."""
    ha1 = _md5(f"{params.get('username', '')}:{params.get('realm', '')}:{password}")
    ha2 = _md5(f"{method}:{params.get('uri', '')}")
    if params.get("qop"):
        nc, cnonce, qop = params.get("nc", ""), params.get("cnonce", ""), params["qop"]
        return _md5(f"{ha1}:{params.get('nonce', '')}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{params.get('nonce', '')}:{ha2}")


def check_digest(
    authorization: str,
    password_for: dict[str, str],
    method: str,
    nonces: set[str],
    uris: tuple[str, ...] = (),
    require_qop: bool | None = None,
) -> str | None:
    """Server side: the authenticated user name, or None. ``nonces`` are the ones we issued;
    ``uris`` the forms of this request's URI the server accepts (empty = any); ``require_qop``
    True/False insists on one form, None takes both."""
    params = parse_digest_header(authorization)
    user, nonce = params.get("username", ""), params.get("nonce", "")
    if user not in password_for or nonce not in nonces:
        return None
    if uris and params.get("uri") not in uris:
        return None
    if require_qop is not None and bool(params.get("qop")) != require_qop:
        return None
    expected = digest_response(params, password_for[user], method)
    return user if hmac.compare_digest(expected, params.get("response", "")) else None


_NC = re.compile(r"^[0-9a-fA-F]{8}$")


@dataclass
class _Issued:
    at: float
    last_nc: int = 0  # the highest nonce-count accepted (qop=auth)
    spent: bool = False  # a no-qop request used it (it has no count to advance)


@dataclass(frozen=True)
class DigestVerdict:
    """``user`` authenticated, or None; ``stale``: the nonce expired (the client may answer
    the new challenge with the same credentials, RFC 7616 §3.3 ``stale=true``)."""

    user: str | None
    stale: bool = False


class NonceLedger:
    """The nonces a digest server issued, with each one's age and the last nonce-count used.

    Why: a digest response is a hash over (nonce, nc, cnonce, method, uri); it proves the
    password once, but a captured request would replay verbatim for as long as its nonce is
    accepted. RFC 7616 §3.3 / §5.5: so each nonce lives ``lifetime_s``; a qop=auth request
    must carry an ``nc`` above the highest one already accepted for its nonce (requests'
    ``HTTPDigestAuth`` counts 1, 2, 3, … per nonce); an RFC 2069 request (no qop, hence no
    count) may use its nonce once. A refused replay changes nothing: the count only moves
    after the response hash verified. At most ``limit`` nonces are kept (oldest dropped).
    Thread-safe.
    """

    def __init__(
        self,
        lifetime_s: float = 300.0,
        limit: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.limit = limit
        self.clock = clock
        self._issued: dict[str, _Issued] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        nonce = os.urandom(16).hex()
        with self._lock:
            self._issued[nonce] = _Issued(self.clock())
            while len(self._issued) > self.limit:
                del self._issued[next(iter(self._issued))]
        return nonce

    def check(
        self,
        authorization: str,
        password_for: dict[str, str],
        method: str,
        uris: tuple[str, ...] = (),
    ) -> DigestVerdict:
        """Verify one request's ``Authorization`` header and spend its nonce-count."""
        params = parse_digest_header(authorization)
        nonce = params.get("nonce", "")
        with self._lock:
            issued = self._issued.get(nonce)
            if issued is None:
                return DigestVerdict(None)
            if self.clock() - issued.at > self.lifetime_s:
                del self._issued[nonce]
                return DigestVerdict(None, stale=True)
            user = check_digest(authorization, password_for, method, {nonce}, uris)
            if user is None:
                return DigestVerdict(None)
            if params.get("qop"):
                nc = params.get("nc", "")
                if not _NC.match(nc) or int(nc, 16) <= issued.last_nc:
                    return DigestVerdict(None)
                issued.last_nc = int(nc, 16)
            elif issued.spent:
                return DigestVerdict(None)
            else:
                issued.spent = True
            return DigestVerdict(user)
