"""The ``[web]`` config section: the consoles' server, its HTTPS front, sessions and limits.

``menwei web`` (waitress) listens on loopback only; the LAN reaches it through the front
(``[web.front]``, nginx, edge.web.front), which terminates TLS and absorbs slow and idle
clients. A non-loopback ``host`` is refused: waitress must never face hostile clients.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel, check_tls_pair, is_loopback


class FrontConfig(StrictModel):
    """``[web.front]``: what nginx serves the LAN and the limits it holds clients to."""

    address: str = Field(default="0.0.0.0", description="address the front listens on")
    https_port: int = Field(default=443, ge=1, le=65535, description="HTTPS port of the front")
    http_port: int = Field(
        default=80, ge=0, le=65535, description="redirects to HTTPS; 0 = no plain HTTP at all"
    )
    client_timeout_s: int = Field(
        default=10,
        ge=2,
        le=120,
        description="a client must finish its TLS handshake and request header within this",
    )
    keepalive_timeout_s: int = Field(
        default=15, ge=0, le=300, description="an idle kept-alive connection is closed after this"
    )
    max_connections_per_address: int = Field(
        default=64, ge=4, le=10_000, description="requests in flight per client address"
    )
    worker_connections: int = Field(
        default=4096,
        ge=512,
        le=65_536,
        description="sockets per nginx worker (an idle client costs ~1 KB)",
    )
    login_posts_per_minute: int = Field(default=30, ge=1, le=6000, description="per address")
    hsts_max_age_s: int = Field(
        default=31_536_000, ge=0, le=63_072_000, description="Strict-Transport-Security max-age"
    )


class WebConfig(StrictModel):
    """`menwei web`: the consoles and the tenant pages, behind the HTTPS front."""

    host: str = Field(
        default="127.0.0.1", description="loopback only: the LAN is served by [web.front]"
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port on loopback")
    # 4, not more: request handling holds the GIL, and measured p95 at 50 concurrent tenants
    # got worse with 8 threads (219-239 ms) than with 4 (133-172 ms); see BENCHMARKS.md.
    threads: int = Field(
        default=4, ge=1, le=64, description="server threads (more is slower on 2 cores)"
    )
    secure_cookies: bool = Field(
        default=True, description="send cookies only over HTTPS (turn off for plain-HTTP tests)"
    )
    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="minutes without a user action (polls do not count)",
    )
    guard_idle_minutes: int = Field(
        default=480, ge=1, le=24 * 60, description="the same for guards watching the live view"
    )
    session_max_hours: int = Field(
        default=12, ge=1, le=24 * 7, description="sign out this long after signing in"
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="failed logins per username and address per window"
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, le=10_000, description="failed logins per address (any username)"
    )
    login_max_failures_total: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="failed logins on the whole box per window; past it only addresses with a "
        "successful login in the last day may try",
    )
    login_window_s: int = Field(
        default=300, ge=10, le=86400, description="window of the failed-login limits, seconds"
    )
    password_checks: int = Field(
        default=1, ge=1, le=8, description="argon2 password checks at a time (64 MiB each)"
    )
    password_check_queue: int = Field(
        default=1, ge=0, le=32, description="logins waiting for a check; more get 429 at once"
    )
    connection_limit: int = Field(
        default=200, ge=10, le=10_000, description="waitress: open connections at most"
    )
    channel_timeout_s: int = Field(
        default=30, ge=5, le=600, description="waitress: close a connection idle this long"
    )
    tls_certificate: Path | None = Field(
        default=None, description="PEM certificate the HTTPS front (nginx) serves"
    )
    tls_key: Path | None = Field(default=None, description="PEM private key (0600)")
    front: FrontConfig = Field(
        default=FrontConfig(),
        description="the HTTPS front (nginx) the LAN talks to (docs/security.md)",
    )

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError(
                "menwei web listens on loopback only (127.0.0.1); the LAN is served by the "
                "HTTPS front, [web.front] (see docs/deploy.md)"
            )
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        check_tls_pair(self.tls_certificate, self.tls_key)
        for path in (self.tls_certificate, self.tls_key):
            if path is not None and not path.is_absolute():
                raise ValueError(f"TLS file paths must be absolute, got {path}")
        return self
