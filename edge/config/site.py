"""Config sections of the box itself: the site, where it stores data, its secrets and its
GPIO pin factory. Paths derived from config are properties of their section here."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from edge.config.base import StrictModel
from gate_drivers.pins import known_pin_factories


class SiteConfig(StrictModel):
    """The community this box serves."""

    name: str = Field(
        default="Menwei community",
        min_length=1,
        max_length=100,
        description="shown on consoles and in the demo",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA zone; times are stored in UTC and shown in this zone",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StorageConfig(StrictModel):
    """Where the box keeps its database, snapshots and run-time files."""

    data_dir: Path = Field(
        default=Path("/var/lib/menwei"),
        description="the box's data folder; a relative path is relative to this file",
    )
    database: Path = Field(
        default=Path("menwei.db"), description="inside data_dir; SQLite in WAL mode"
    )
    snapshots: Path = Field(
        default=Path("snapshots"), description="inside data_dir; JPEGs under YYYY/MM/DD/"
    )
    snapshot_jpeg_quality: int = Field(
        default=85, ge=30, le=100, description="JPEG quality of saved snapshots"
    )
    snapshot_max_width: int = Field(
        default=1280, ge=160, le=4096, description="larger frames are scaled down before saving"
    )
    spool_dir: Path = Field(
        default=Path("spool"),
        description="where a gate keeps the events the database refuses (full, read-only or"
        " damaged disk) until it takes them again; inside data_dir unless absolute. A full"
        " disk is covered by the reserve below; for a read-only data disk put it on another"
        " file system (a small partition, or /run/menwei: survives restarts, not power cuts)",
    )
    spool_reserve_mb: int = Field(
        default=4,
        ge=1,
        le=512,
        description="space pre-allocated for each gate's spool while the disk has room"
        " (about 1 KB an event)",
    )
    quick_check_s: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="longest time a gate spends on PRAGMA quick_check at start (0: skip)",
    )
    integrity_check_s: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="longest time the hourly `menwei retention` spends on the full PRAGMA"
        " integrity_check, on its own connection, off every gate's path (0: skip); damage"
        " found is a storage_fault event and red on the health page",
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / self.database

    @property
    def spool_path(self) -> Path:
        """The folder of the gates' spool files."""
        return self.data_dir / self.spool_dir

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / self.snapshots

    @property
    def run_dir(self) -> Path:
        """Where gate processes put their control sockets (inside the writable data folder)."""
        return self.data_dir / "run"

    @property
    def web_cache_dir(self) -> Path:
        """Files the web app derives at start (compiled translation catalogs)."""
        return self.data_dir / "web-cache"


class SecurityConfig(StrictModel):
    """Personal data at rest (ID numbers, phones, face templates) and the audit log's keys."""

    pii_key_file: Path = Field(
        default=Path("/etc/menwei/pii.key"),
        description="32-byte key for personal data at rest, created 0600 by `menwei install`;"
        " keep it outside data_dir and back it up separately (losing it loses that data)",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="32-byte key of the audit log's HMAC chain and checkpoint signatures; "
        "outside data_dir, backed up like the PII key (default: audit.key beside it)",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="second local copy of the signed audit checkpoints, outside data_dir so "
        "deleting the database's tail does not erase it (default: in data_dir)",
    )

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.pii_key_file.with_name("audit.key")


class HardwareConfig(StrictModel):
    """The GPIO the relays and contacts are wired to."""

    pin_factory: str | None = Field(
        default=None,
        description="gpiozero pin factory: lgpio (Pi 5), rpigpio or lgpio (Pi 4), native, "
        "mock (a bench test without relays); empty = GPIOZERO_PIN_FACTORY or gpiozero's "
        "default",
    )

    @field_validator("pin_factory")
    @classmethod
    def _known_factory(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        known = known_pin_factories()
        if value.strip().lower() not in known:
            raise ValueError(f"unknown pin factory {value!r}; choose one of {', '.join(known)}")
        return value.strip().lower()
