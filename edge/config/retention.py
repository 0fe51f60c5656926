"""The ``[retention]`` config section: how much the box keeps, and for how long.

The job that applies it is ``edge.box.retention``; this module only describes the limits, so
loading a config never loads the database layer.
"""

from __future__ import annotations

from pydantic import Field

from edge.config.base import StrictModel


class RetentionConfig(StrictModel):
    """Applied hourly by menwei-retention.timer (`menwei retention`)."""

    snapshot_budget_mb: int = Field(
        default=4096, ge=10, description="disk space for snapshots; the oldest go beyond it"
    )
    min_free_mb: int = Field(
        default=512, ge=0, description="... or while the disk has less free than this"
    )
    event_days: int = Field(
        default=365,
        ge=1,
        description="delete delivered events after this (never undelivered ones)",
    )
    registration_days: int = Field(
        default=365, ge=1, description="purge closed registrations this long after closing"
    )
    pending_registration_days: int = Field(
        default=7, ge=1, description="purge unconfirmed registrations this long past deadline"
    )
    co_resident_consent_days: int = Field(
        default=14, ge=1, description="purge co-residents whose consent never came"
    )
    visitor_pass_days: int = Field(
        default=30,
        ge=1,
        description="delete ended visitor passes (no names, no faces) this long after their "
        "end; a face pass's templates go as soon as the pass ends",
    )
