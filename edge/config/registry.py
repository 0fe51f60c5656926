"""The ``[registry]`` config section: where QR codes point and the landlord's deadline."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import StrictModel


class RegistryConfig(StrictModel):
    """Tenant QR self-registration (docs/registry.md)."""

    base_url: str = Field(
        default="https://menwei.local",
        description="public address the QR stickers point at; the URL is base_url/r/<token>",
    )
    controller: str = Field(
        default="",
        max_length=60,
        description="who handles tenants' personal data (个人信息处理者), named in the PIPL"
        " notice on every sticker; empty: the community's name ([site] name)",
    )
    confirm_deadline_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 7,
        description="the landlord must confirm within this (local rules: 24 h to 7 days)",
    )
    max_stay_days: int = Field(
        default=3 * 366,
        ge=30,
        le=10 * 366,
        description="longest expected stay before an extension is needed",
    )
    consent_version: str = Field(
        default="2025-01", min_length=1, max_length=20, description="stored with every consent"
    )
    public_submissions_per_minute: int = Field(
        default=20, ge=1, le=100_000, description="per client address, on the tenant page"
    )
    pending_per_room: int = Field(
        default=8, ge=1, le=100, description="registrations a room may have waiting at once"
    )
    submissions_per_sticker_per_day: int = Field(
        default=20, ge=1, le=1000, description="registrations through one sticker in 24 h"
    )
    exact_searches_per_day: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="police searches by full document number or phone, per officer in 24 h",
    )
    sms_gateway: Literal["none", "demo-log"] = Field(
        default="none",
        description="one-time codes for tenants' requests; 'demo-log' only logs them (demo)",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("https://", "http://")) or len(value) > 200:
            raise ValueError("base_url must be an http(s) URL")
        return value
