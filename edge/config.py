"""The appliance's one config file, validated into typed models before anything starts.

Why pydantic with ``extra="forbid"``: a typo in a field name (``puls_s``) on a box at a gate
must stop the service with the key named, not silently fall back to a default that leaves
a barrier pulsing for the wrong time. Every error names its key path and the reason.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.errors import UserError
from edge.pedestrian_config import (
    AccessConfig,
    DoorConfig,
    FaceRecognitionConfig,
    KeypadConfig,
    LockConfig,
)
from edge.retention import RetentionConfig
from edge.web.config import WebConfig
from gate_drivers.frame_sources import parse_source
from gate_drivers.pins import known_pin_factories
from qr_registry.config import RegistryConfig
from sync.config import SyncConfig

DEFAULT_CONFIG_PATH = Path("/etc/menwei/menwei.toml")

GpioPin = Annotated[int, Field(ge=0, le=53, description="BCM GPIO number")]


class ConfigError(UserError):
    """A config file that cannot be used; ``problems`` lists ``key: reason`` lines."""

    code = "config"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid config\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Strict):
    name: str = Field(default="Menwei community", min_length=1, max_length=100)
    timezone: str = "Asia/Shanghai"

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


class StorageConfig(_Strict):
    data_dir: Path = Path("/var/lib/menwei")
    database: Path = Path("menwei.db")
    snapshots: Path = Path("snapshots")
    snapshot_jpeg_quality: int = Field(default=85, ge=30, le=100)
    snapshot_max_width: int = Field(default=1280, ge=160, le=4096)

    @property
    def database_path(self) -> Path:
        return self.data_dir / self.database

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / self.snapshots


class SecurityConfig(_Strict):
    pii_key_file: Path = Field(
        default=Path("/etc/menwei/pii.key"),
        description="32-byte key for personal data at rest; keep it outside data_dir and backups",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="32-byte key of the audit log's HMAC chain and checkpoint signatures; "
        "outside data_dir, backed up like the PII key (default: audit.key beside it)",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="second local copy of the signed audit checkpoints, outside data_dir "
        "(menwei install: /var/log/menwei/audit-checkpoints.jsonl)",
    )

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.pii_key_file.with_name("audit.key")


class HardwareConfig(_Strict):
    pin_factory: str | None = Field(
        default=None,
        description="gpiozero pin factory: lgpio (Pi 5), rpigpio, native, mock; "
        "empty = GPIOZERO_PIN_FACTORY or gpiozero's default",
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


class PlateRecognitionConfig(_Strict):
    detector_model: Path | None = None
    recogniser_model: Path | None = None
    detector_input_long_side: int = Field(default=640, ge=160, le=2048)
    detector_min_score: float = Field(default=0.5, gt=0, lt=1)
    min_confidence: float = Field(default=0.80, gt=0, le=1)
    corroborate: bool = True
    sure_confidence: float = Field(default=0.97, gt=0, le=1)
    fallback: bool = True
    agree_share: float = Field(default=0.7, ge=0.5, le=1)
    threads: int = Field(default=2, ge=1, le=16)
    min_votes: int = Field(default=2, ge=1, le=20)
    vote_window_s: float = Field(default=0.8, gt=0, le=10)
    dedupe_window_s: float = Field(default=30.0, ge=0, le=3600)


class RecognitionConfig(_Strict):
    plates: PlateRecognitionConfig = PlateRecognitionConfig()
    faces: FaceRecognitionConfig = FaceRecognitionConfig()


class PolicyConfig(_Strict):
    unknown_vehicle: Literal["deny", "open_for_registration"] = "deny"


class BarrierConfig(_Strict):
    open_pin: GpioPin
    close_pin: GpioPin | None = None
    pulse_s: float = Field(default=0.5, gt=0, le=10)
    active_high: bool = Field(
        default=False, description="most relay modules for the Pi switch on a LOW input"
    )


class LoopConfig(_Strict):
    pin: GpioPin
    active_low: bool = True
    debounce_s: float = Field(default=0.05, ge=0, le=2)
    require_presence: bool = Field(
        default=False,
        description="read plates only while the loop reports a vehicle (saves CPU)",
    )


class CameraConfig(_Strict):
    source: str = Field(min_length=1, description="usb:0, rtsp://..., a video file or a folder")
    read_timeout_s: float = Field(default=5.0, gt=0, le=120)
    backoff_max_s: float = Field(default=30.0, gt=0, le=600)
    replay_fps: float = Field(default=5.0, gt=0, le=60)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        parse_source(value)  # a malformed source (usb:x, ftp://...) fails at load, not at start
        return value


class GateConfig(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=60)
    kind: Literal["vehicle", "pedestrian"]
    direction: Literal["in", "out", "both"] = "both"
    camera: CameraConfig
    roi: tuple[int, int, int, int] | None = Field(
        default=None, description="lane region of interest x, y, width, height in pixels"
    )
    barrier: BarrierConfig | None = None
    loop: LoopConfig | None = None
    # pedestrian gates (edge.pedestrian_config)
    lock: LockConfig | None = None
    door: DoorConfig | None = None
    keypad: KeypadConfig | None = None
    access: dict[str, str] = Field(
        default_factory=lambda: {"residents": "always", "visitors": "always"},
        description="pedestrian gates: group -> schedule name ('always' or [access.schedules])",
    )

    @field_validator("roi")
    @classmethod
    def _positive_roi(cls, roi: tuple[int, int, int, int] | None) -> tuple | None:
        if roi is not None:
            x, y, w, h = roi
            if x < 0 or y < 0 or w < 32 or h < 16:
                raise ValueError("roi must be [x>=0, y>=0, width>=32, height>=16]")
        return roi

    @model_validator(mode="after")
    def _parts_match_kind(self) -> GateConfig:
        """Each kind has its own hardware; a section of the other kind is a mistake, not
        something to ignore (a lock configured on a vehicle gate would never be driven)."""
        if self.kind == "vehicle":
            if self.barrier is None:
                raise ValueError("a vehicle gate needs a [gates.barrier] section")
            wrong = [n for n in ("lock", "door", "keypad") if getattr(self, n) is not None]
            if wrong:
                raise ValueError(
                    f"[gates.{wrong[0]}] is for pedestrian gates; this gate is kind = vehicle"
                )
        else:
            if self.lock is None:
                raise ValueError("a pedestrian gate needs a [gates.lock] section")
            wrong = [n for n in ("barrier", "loop") if getattr(self, n) is not None]
            if wrong:
                raise ValueError(
                    f"[gates.{wrong[0]}] is for vehicle gates; this gate is kind = pedestrian"
                )
        return self

    def pins(self) -> list[int]:
        """Every GPIO this gate drives or reads (each must belong to one gate only)."""
        pins: list[int] = []
        if self.barrier:
            pins.append(self.barrier.open_pin)
            if self.barrier.close_pin is not None:
                pins.append(self.barrier.close_pin)
        if self.loop:
            pins.append(self.loop.pin)
        if self.lock:
            pins.append(self.lock.relay_pin)
        if self.door:
            for contact in (self.door.contact, self.door.exit_button, self.door.fire_alarm):
                if contact is not None:
                    pins.append(contact.pin)
        return pins


class MenweiConfig(_Strict):
    site: SiteConfig = SiteConfig()
    storage: StorageConfig = StorageConfig()
    hardware: HardwareConfig = HardwareConfig()
    security: SecurityConfig = SecurityConfig()
    retention: RetentionConfig = RetentionConfig()
    recognition: RecognitionConfig = RecognitionConfig()
    policy: PolicyConfig = PolicyConfig()
    web: WebConfig = WebConfig()
    registry: RegistryConfig = RegistryConfig()
    access: AccessConfig = AccessConfig()
    sync: SyncConfig | None = None  # absent = not connected to a district platform
    gates: list[GateConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_gates_and_pins(self) -> MenweiConfig:
        seen_ids: set[str] = set()
        seen_pins: dict[int, str] = {}
        for gate in self.gates:
            if gate.id in seen_ids:
                raise ValueError(f"gate id {gate.id!r} is used twice")
            seen_ids.add(gate.id)
            pins = gate.pins()
            if len(set(pins)) != len(pins):
                twice = sorted({p for p in pins if pins.count(p) > 1})
                raise ValueError(f"gate {gate.id!r} uses GPIO {twice[0]} for two things")
            for pin in pins:
                if pin in seen_pins:
                    raise ValueError(
                        f"GPIO {pin} is used by gates {seen_pins[pin]!r} and {gate.id!r}"
                    )
                seen_pins[pin] = gate.id
            if gate.kind == "pedestrian":
                for group, schedule in gate.access.items():
                    if schedule != "always" and schedule not in self.access.schedules:
                        raise ValueError(
                            f"gate {gate.id!r}: group {group!r} uses schedule {schedule!r},"
                            " which is not defined in [access.schedules]"
                        )
        return self

    @property
    def audit_checkpoint_path(self) -> Path:
        """The checkpoints' second local copy (in data_dir only when not configured)."""
        return self.security.audit_checkpoint_file or (
            self.storage.data_dir / "audit-checkpoints.jsonl"
        )

    def gate(self, gate_id: str) -> GateConfig:
        """The gate called ``gate_id``; a ``UserError`` naming the known ones if none is."""
        for gate in self.gates:
            if gate.id == gate_id:
                return gate
        known = ", ".join(g.id for g in self.gates) or "none"
        raise UserError(
            "no gate %(gate)r in config (known: %(known)s)",
            {"gate": gate_id, "known": known},
            code="unknown_gate",
        )


def _describe(error: dict) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (typo?)"
    return f"{path or '(top level)'}: {message}"


def parse_config(data: dict, source: str = "<config>") -> MenweiConfig:
    """Validate already-parsed TOML data; raise ConfigError listing every problem."""
    try:
        config = MenweiConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(e) for e in exc.errors()]) from None
    base = Path(source).resolve().parent if source != "<config>" else Path.cwd()
    return _resolve_relative_paths(config, base)


def _resolve_relative_paths(config: MenweiConfig, base: Path) -> MenweiConfig:
    """Relative data folders, file/folder camera sources, keypad devices and face model files
    are relative to the config file, so a config works the same whatever directory the
    service starts in."""
    update: dict = {}
    if not config.storage.data_dir.is_absolute():
        update["storage"] = config.storage.model_copy(
            update={"data_dir": base / config.storage.data_dir}
        )
    gates = []
    for gate in config.gates:
        source = gate.camera.source
        if "://" not in source and not source.startswith("usb:") and not Path(source).is_absolute():
            camera = gate.camera.model_copy(update={"source": str(base / source)})
            gate = gate.model_copy(update={"camera": camera})
        if gate.keypad is not None and not gate.keypad.source.is_absolute():
            keypad = gate.keypad.model_copy(update={"source": base / gate.keypad.source})
            gate = gate.model_copy(update={"keypad": keypad})
        gates.append(gate)
    update["gates"] = gates
    faces = config.recognition.faces
    models = {
        name: base / path
        for name, path in (
            ("detector_model", faces.detector_model),
            ("recogniser_model", faces.recogniser_model),
        )
        if path is not None and not path.is_absolute()
    }
    if models:
        update["recognition"] = config.recognition.model_copy(
            update={"faces": faces.model_copy(update=models)}
        )
    security = {
        name: base / getattr(config.security, name)
        for name in ("pii_key_file", "audit_key_file", "audit_checkpoint_file")
        if getattr(config.security, name) is not None
        and not getattr(config.security, name).is_absolute()
    }
    if security:
        update["security"] = config.security.model_copy(update=security)
    if config.sync is not None:
        update["sync"] = config.sync.resolved(base, update.get("storage", config.storage).data_dir)
    return config.model_copy(update=update)


def load_config(path: Path) -> MenweiConfig:
    """Read and validate the TOML file at ``path``; relative data_dir is relative to the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, str(path))
