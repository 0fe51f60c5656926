"""The ``[sync]`` config section: where the district platform is and how to talk to it.

Absent section = sync disabled (a box that is not yet connected to a district still works
as a gate). Secrets are never inline: the token / HMAC key / digest password lives in a
file named here (0600, outside the data folder), so the config can be shown and backed up.
TLS verification cannot be switched off; a district with its own CA names it in
``ca_file``. Plain ``http://`` is accepted only for the loopback interface (tests, demo).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from edge.config.base import Listen, PeerUrl, StrictModel, relative_paths

_DIGITS20 = r"^\d{20}$"


class ApeConfig(StrictModel):
    """One gate as a GA/T 1400 APE (采集设备) at a Tollgate (卡口) lane."""

    gate: str = Field(description="the [[gates]] id this camera belongs to")
    ape_id: str = Field(pattern=_DIGITS20, description="the APE's 20-digit DeviceID")
    tollgate_id: str | None = Field(
        default=None, pattern=_DIGITS20, description="20-digit TollgateID (卡口) of the gate"
    )
    lane_no: int = Field(default=1, ge=1, le=99, description="LaneNo (车道号) at the tollgate")
    direction: Literal["1", "2", "3", "4", "5", "6", "7", "8", "9"] = Field(
        default="9",
        description="Direction (行驶方向) of travel through the gate: 1 E→W, 2 W→E, 3 S→N,"
        " 4 N→S, 5 SE→NW, 6 NW→SE, 7 NE→SW, 8 SW→NE, 9 other",
    )
    name: str = Field(default="", max_length=100, description="APE Name; default the gate's")
    place_code: str = Field(
        default="", pattern=r"^(\d{6})?$", description="PlaceCode: 6-digit GB/T 2260 area code"
    )


class Gat1400Config(StrictModel):
    """``[sync.gat1400]``: identity, uploads and the box's own 1400 server."""

    apes: tuple[ApeConfig, ...] = Field(default=(), description="one entry per gate")
    org_code: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        description="12-digit 公安机关机构代码 for NotificationIDs; default DeviceID[:12]",
    )
    register_apes: bool = Field(
        default=True, description="register and keep alive every APE as well as the box"
    )
    direct_upload: bool = Field(
        default=True,
        description="POST objects to /VIID/MotorVehicles and /VIID/Faces (false: only to"
        " the platform's subscriptions)",
    )
    images: Literal["inline", "url"] = Field(
        default="inline", description="snapshots as base64 Data, or as a StoragePath URL"
    )
    digest_uri: Literal["auto", "path", "absolute"] = Field(
        default="auto",
        description="digest uri form; auto tries the path, then the absolute URL, and keeps"
        " the one that works",
    )
    time_sync_s: float = Field(
        default=3600.0, ge=0, le=86400, description="read /VIID/System/Time; 0 = never"
    )
    max_skew_s: float = Field(
        default=5.0, gt=0, le=3600, description="clock skew above this is a health alarm"
    )
    listen: Listen | None = Field(
        default=None,
        description="host:port of the box's own 1400 server (Subscribes, Dispositions,"
        " images); unset = not served",
    )
    public_url: str | None = Field(
        default=None, description="how the platform reaches that server (image URLs)"
    )
    receive_hosts: tuple[str, ...] = Field(
        default=(),
        description="hosts a ReceiveAddr may name besides the platform's own host",
    )
    max_subscriptions: int = Field(
        default=64, ge=1, le=1024, description="Subscribes the box keeps at once"
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("public_url must be an http(s) URL")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _consistent(self) -> Gat1400Config:
        gates = [ape.gate for ape in self.apes]
        if len(set(gates)) != len(gates):
            raise ValueError("each gate may appear once in [[sync.gat1400.apes]]")
        ids = [ape.ape_id for ape in self.apes]
        if len(set(ids)) != len(ids):
            raise ValueError("APE ids must be unique")
        if self.images == "url" and not (self.listen and self.public_url):
            raise ValueError("images = 'url' needs listen and public_url (the box serves them)")
        return self


class SyncConfig(StrictModel):
    """The district platform (docs/sync-protocol.md); no [sync] section = not connected."""

    platform_url: PeerUrl = Field(description="https://platform.example/ (http only for loopback)")
    protocol: Literal["json", "gat1400"] = Field(
        default="json", description='"json" or "gat1400" (GA/T 1400, 视图库/VIID)'
    )
    device_id: str = Field(description="json: 1-64 of [A-Za-z0-9_-]; gat1400: 20 digits")
    auth: Literal["hmac", "token"] = Field(
        default="hmac", description="json protocol: HMAC-SHA256 request signature or bearer"
    )
    secret_file: Path = Field(
        description="token / HMAC key / digest password, one line, 0600, outside data_dir"
    )
    username: str | None = Field(
        default=None, max_length=64, description="gat1400 digest user; default device_id"
    )
    ca_file: Path | None = Field(
        default=None, description="PEM bundle of the district's CA; verification is always on"
    )
    batch_size: int = Field(default=200, ge=1, le=1000, description="rows sent per request")
    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="seconds to connect to the platform"
    )
    read_timeout_s: float = Field(
        default=20.0, gt=0, le=600, description="seconds to wait for the platform's answer"
    )
    backoff_initial_s: float = Field(
        default=1.0, gt=0, le=600, description="first retry delay; doubles up to backoff_max_s"
    )
    backoff_max_s: float = Field(
        default=300.0, gt=0, le=3600, description="longest retry delay (with jitter, forever)"
    )
    idle_poll_s: float = Field(default=1.0, gt=0, le=60, description="look for new rows")
    downlink: bool = Field(default=True, description="pull watchlist and vehicle lists")
    downlink_interval_s: float = Field(
        default=300.0, ge=1, le=86400, description="seconds between list pulls"
    )
    keepalive_s: float = Field(default=50.0, ge=5, le=600, description="gat1400 keepalive")
    snapshot_max_bytes: int = Field(
        default=256 * 1024, ge=0, le=4 * 1024 * 1024, description="0 = never send snapshots"
    )
    max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="largest upload the platform takes: a bigger batch (snapshots inline) is "
        "sent in parts; an HTTP 413 from the platform splits it too",
    )
    max_response_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="a larger answer from the platform is refused",
    )
    gat1400: Gat1400Config = Field(
        default_factory=Gat1400Config, description="GA/T 1400 identity and options"
    )
    status_file: Path = Field(
        default=Path("sync-status.json"), description="health JSON; relative to data_dir"
    )

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
        update = relative_paths(self, base, ("secret_file", "ca_file"))
        update |= relative_paths(self, data_dir, ("status_file",))
        return self.model_copy(update=update)
