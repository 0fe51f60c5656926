"""Request authentication: HMAC signatures or bearer tokens (JSON), HTTP digest (GA/T 1400).

Both sides live here (the box signs, the reference platform verifies) so the two can never
drift apart, and docs/sync-protocol.md describes exactly this code.

HMAC: ``X-Menwei-Signature = hex(HMAC-SHA256(secret, canonical))`` where ``canonical`` is
``METHOD\\nPATH\\nTIMESTAMP\\nDEVICE\\nhex(SHA256(body))``. The timestamp (Unix seconds) bounds
replay to ``MAX_SKEW_S``; re-sending a batch is harmless anyway (keys are idempotent).

Digest: RFC 2617 with ``qop=auth`` and MD5, which is what GA/T 1400 platforms speak.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time

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
    if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > MAX_SKEW_S:
        return "timestamp missing or outside the allowed clock skew"
    expected = hmac.new(secret, _canonical(method, path, timestamp, device, body), "sha256")
    given = headers.get("x-menwei-signature", "")
    return None if hmac.compare_digest(given, expected.hexdigest()) else "bad signature"


# -- HTTP digest (RFC 2617, qop=auth, MD5) --------------------------------------------------
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def parse_digest_header(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", qop="auth"`` → dict; tolerant of spacing and quoting."""
    if not value.lower().startswith("digest "):
        return {}
    return {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _PARAM.finditer(value[7:])}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(
    user: str, password: str, realm: str, method: str, uri: str, nonce: str, nc: str, cnonce: str
) -> str:
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def digest_authorization(
    challenge: dict[str, str], user: str, password: str, method: str, uri: str
) -> str:
    """The ``Authorization`` header answering one ``WWW-Authenticate: Digest`` challenge."""
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    cnonce, nc = os.urandom(8).hex(), "00000001"
    response = digest_response(user, password, realm, method, uri, nonce, nc, cnonce)
    parts = [
        f'username="{user}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        "algorithm=MD5",
        f'response="{response}"',
        "qop=auth",
        f"nc={nc}",
        f'cnonce="{cnonce}"',
    ]
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def check_digest(
    authorization: str, password_for: dict[str, str], method: str, nonces: set[str]
) -> str | None:
    """Server side: the authenticated user name, or None. ``nonces`` are the ones we issued."""
    params = parse_digest_header(authorization)
    user, nonce = params.get("username", ""), params.get("nonce", "")
    if user not in password_for or nonce not in nonces:
        return None
    expected = digest_response(
        user,
        password_for[user],
        params.get("realm", ""),
        method,
        params.get("uri", ""),
        nonce,
        params.get("nc", ""),
        params.get("cnonce", ""),
    )
    return user if hmac.compare_digest(expected, params.get("response", "")) else None
