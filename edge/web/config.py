"""The ``[web]`` config section: the consoles' server, sessions and login limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # 4, not more: request handling holds the GIL, and measured p95 at 50 concurrent tenants
    # got worse with 8 threads (219-239 ms) than with 4 (133-172 ms); see BENCHMARKS.md.
    threads: int = Field(default=4, ge=1, le=64)
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
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7)
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
    login_window_s: int = Field(default=300, ge=10, le=86400)
    password_checks: int = Field(
        default=1, ge=1, le=8, description="argon2 password checks at a time (64 MiB each)"
    )
    password_check_queue: int = Field(
        default=1, ge=0, le=32, description="logins waiting for a check; more get 429 at once"
    )
    tls_certificate: Path | None = Field(
        default=None, description="PEM certificate; with tls_key, the consoles serve HTTPS"
    )
    tls_key: Path | None = Field(default=None, description="PEM private key (0600)")

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ValueError("set both tls_certificate and tls_key, or neither")
        for path in (self.tls_certificate, self.tls_key):
            if path is not None and not path.is_absolute():
                raise ValueError(f"TLS file paths must be absolute, got {path}")
        return self
