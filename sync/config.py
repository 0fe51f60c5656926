"""The ``[sync]`` config section: where the district platform is and how to talk to it.

Absent section = sync disabled (a box that is not yet connected to a district still works
as a gate). Secrets are never inline: the token / HMAC key / digest password lives in a
file named here (0600, outside the data folder), so the config can be shown and backed up.
TLS verification cannot be switched off; a district with its own CA names it in
``ca_file``. Plain ``http://`` is accepted only for the loopback interface (tests, demo).
"""

from __future__ import annotations

import re
from ipaddress import ip_address
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class SyncConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform_url: str = Field(description="https://platform.example/ (http only for loopback)")
    protocol: Literal["json", "gat1400"] = "json"
    device_id: str = Field(description="json: 1-64 of [A-Za-z0-9_-]; gat1400: 20 digits")
    auth: Literal["hmac", "token"] = Field(
        default="hmac", description="json protocol: HMAC-SHA256 request signature or bearer"
    )
    secret_file: Path = Field(description="token / HMAC key / digest password, one line")
    username: str | None = Field(
        default=None, max_length=64, description="gat1400 digest user; default device_id"
    )
    ca_file: Path | None = Field(default=None, description="PEM bundle of the district's CA")
    batch_size: int = Field(default=200, ge=1, le=1000)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=20.0, gt=0, le=600)
    backoff_initial_s: float = Field(default=1.0, gt=0, le=600)
    backoff_max_s: float = Field(default=300.0, gt=0, le=3600)
    idle_poll_s: float = Field(default=1.0, gt=0, le=60, description="look for new rows")
    downlink: bool = Field(default=True, description="pull watchlist and vehicle lists")
    downlink_interval_s: float = Field(default=300.0, ge=1, le=86400)
    keepalive_s: float = Field(default=50.0, ge=5, le=600, description="gat1400 keepalive")
    snapshot_max_bytes: int = Field(
        default=256 * 1024, ge=0, le=4 * 1024 * 1024, description="0 = never send snapshots"
    )
    max_response_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    status_file: Path = Field(
        default=Path("sync-status.json"), description="health JSON; relative to data_dir"
    )

    @field_validator("platform_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an https:// URL with a host")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("plain http is allowed only to 127.0.0.1/localhost; use https")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("no query, fragment or credentials in the URL (use secret_file)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _device_id_for_protocol(self) -> SyncConfig:
        if self.protocol == "gat1400":
            if not re.fullmatch(r"\d{20}", self.device_id):
                raise ValueError("GA/T 1400 device_id must be exactly 20 digits")
        elif not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.device_id):
            raise ValueError("device_id must be 1-64 letters, digits, '-' or '_'")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self

    def resolved(self, base: Path, data_dir: Path) -> SyncConfig:
        """Paths relative to the config file (secret, CA) or the data folder (status file)."""
        update: dict = {}
        if not self.secret_file.is_absolute():
            update["secret_file"] = base / self.secret_file
        if self.ca_file is not None and not self.ca_file.is_absolute():
            update["ca_file"] = base / self.ca_file
        if not self.status_file.is_absolute():
            update["status_file"] = data_dir / self.status_file
        return self.model_copy(update=update)


class SecretError(ValueError):
    """The secret file is missing, unreadable, too open or empty."""


def read_secret(path: Path) -> bytes:
    """Read the one-line secret; refuse an empty file or one others can read."""
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read sync secret file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SecretError(f"sync secret file {path} is readable by others; chmod 600 it")
    secret = raw.strip()
    if not secret or len(secret) > 4096 or b"\n" in secret:
        raise SecretError(f"sync secret file {path} must hold one non-empty line")
    return secret
