"""The ``[web]`` config section: the consoles' server, sessions and login limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    threads: int = Field(default=8, ge=1, le=64)
    secure_cookies: bool = Field(
        default=True, description="send cookies only over HTTPS (turn off for plain-HTTP tests)"
    )
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_window_s: int = Field(default=300, ge=10, le=86400)
