"""The ``[community]`` config section: is this box alone, the hub of many, or a gate box.

A community spread over several entrances runs one hub (console, people, passes, lists,
district sync) and gate boxes beside their doors and barriers (docs/community.md). A box
is ``standalone`` unless this section says otherwise, so a single box needs none of it.
A gate box names the hub's URL, its own id and the file holding the key it received at
enrolment (never the key itself: the config can be shown and backed up).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import (
    Listen,
    PeerUrl,
    StrictModel,
    check_tls_pair,
    is_loopback,
    relative_paths,
)


class CommunityConfig(StrictModel):
    """One hub and its gate boxes (docs/community.md); standalone by default."""

    role: Literal["standalone", "hub", "gate"] = Field(
        default="standalone",
        description='"standalone": one box does everything; "hub": serves people, passes and'
        ' lists to gate boxes and takes their events; "gate": runs only its own gates on'
        " the hub's lists",
    )
    listen: Listen = Field(
        default="0.0.0.0:8442",
        description="hub: host:port the gate boxes reach it on (`menwei hub serve`)",
    )
    tls_certificate: Path | None = Field(
        default=None,
        description="hub: PEM certificate served to gate boxes; required unless listen is loopback",
    )
    tls_key: Path | None = Field(default=None, description="hub: PEM private key of it")
    enrol_code_ttl_s: int = Field(
        default=86400, ge=60, le=7 * 86400, description="hub: how long a one-time code lives"
    )
    hub_url: PeerUrl | None = Field(
        default=None,
        description="gate: https://hub.example:8442 (plain http only to loopback)",
    )
    box_id: str | None = Field(
        default=None, description="gate: this box's id at the hub, 1-64 of [A-Za-z0-9_-]"
    )
    key_file: Path = Field(
        default=Path("community.key"),
        description="gate: the per-box key written by `menwei hub join` (0600); relative to"
        " data_dir",
    )
    ca_file: Path | None = Field(
        default=None,
        description="gate: PEM of the hub's certificate or CA; verification is always on",
    )
    counted_offline: Literal["deny", "allow"] = Field(
        default="deny",
        description="gate: a counted pass (uses) while the hub is unreachable: deny, or allow"
        " and let the hub reconcile the use when the event arrives",
    )
    spend_timeout_s: float = Field(
        default=1.5, gt=0, le=10, description="gate: how long a pass use waits for the hub"
    )
    wait_s: float = Field(
        default=20.0, ge=1, le=120, description="gate: long-poll length for list changes"
    )
    status_file: Path = Field(
        default=Path("community-status.json"),
        description="gate: health JSON of the link to the hub; relative to data_dir",
    )

    @model_validator(mode="after")
    def _role_needs(self) -> CommunityConfig:
        if self.box_id is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.box_id):
            raise ValueError("box_id must be 1-64 letters, digits, '-' or '_'")
        if self.role == "gate" and (self.hub_url is None or self.box_id is None):
            raise ValueError('role = "gate" needs hub_url and box_id')
        if self.role == "hub":
            host = self.listen.rpartition(":")[0]
            check_tls_pair(self.tls_certificate, self.tls_key)
            if self.tls_certificate is None and not is_loopback(host):
                raise ValueError(
                    "a hub listening beyond loopback needs tls_certificate and tls_key"
                )
        return self

    @property
    def hub_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def hub_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def resolved(self, base: Path, data_dir: Path) -> CommunityConfig:
        """TLS and CA files relative to the config file; key and status to the data folder."""
        update = relative_paths(self, base, ("tls_certificate", "tls_key", "ca_file"))
        update |= relative_paths(self, data_dir, ("key_file", "status_file"))
        return self.model_copy(update=update)
