"""Request guards shared by every blueprint: rate limits, CSRF tokens, security headers.

The rate limiter is in memory, per process: ``menwei web`` is one waitress process per box,
so a sliding window per key (the client address) is exact there and costs no database
writes on the public page's hot path. Logins have their own throttle (edge.web.limits).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from edge.web.limits import WindowCounter

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


# Only ever sent over HTTPS. Browsers ignore it on a certificate they do not trust and on
# bare IP addresses, so a box on a self-signed certificate is not locked out of its consoles.
HSTS = "max-age=31536000"


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key (sliding-window estimate).

    Bounded and self-expiring (:class:`edge.web.limits.WindowCounter`): a flood of one-shot
    keys costs O(1) per hit and never more than ``max_keys`` entries per window.
    """

    def __init__(self, limit: int, window_s: float, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self._counter = WindowCounter(window_s, max_keys)
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        return self._counter.count(key) >= self.limit

    def hit(self, key: str) -> bool:
        """Count one hit; True if it is within the limit."""
        with self._lock:
            if self._counter.count(key) >= self.limit:
                return False
            self._counter.add(key)
            return True

    def reset(self, key: str) -> None:
        self._counter.forget(key)

    def __len__(self) -> int:
        return len(self._counter)


def anon_csrf_token(secret: bytes, cookie_value: str) -> str:
    """Token for forms without a login (the tenant page): bound to a random cookie."""
    return hmac.new(secret, cookie_value.encode(), hashlib.sha256).hexdigest()


def new_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(expected, given)
