"""Request guards shared by every blueprint: rate limits, CSRF tokens, security headers.

The rate limiter is in memory, per process: ``menwei web`` is one waitress process per box,
so a sliding window per key (client address, or username + address for logins) is exact
there and costs no database writes on the public page's hot path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

CSRF_FIELD = "csrf_token"
ANON_COOKIE = "menwei_csrf"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The sticker URL carries the room token: never leak it to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key (sliding window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        with self._lock:
            hits = self._prune(key, time.monotonic())
            if not hits:
                self._hits.pop(key, None)
            return len(hits) >= self.limit

    def hit(self, key: str) -> bool:
        """Count one hit; True if it is within the limit."""
        with self._lock:
            now = time.monotonic()
            hits = self._prune(key, now)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # bound memory under a flood of addresses
                for stale in [k for k, v in self._hits.items() if not v][:5000]:
                    del self._hits[stale]
            return True

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


def anon_csrf_token(secret: bytes, cookie_value: str) -> str:
    """Token for forms without a login (the tenant page): bound to a random cookie."""
    return hmac.new(secret, cookie_value.encode(), hashlib.sha256).hexdigest()


def new_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(expected, given)
