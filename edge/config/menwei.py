"""The whole config file as one model: every section, and the rules across sections
(a gate id or GPIO used twice, a schedule named but not defined)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from edge.config.base import StrictModel
from edge.config.community import CommunityConfig
from edge.config.gates import GateConfig
from edge.config.liveness import LivenessConfig
from edge.config.pedestrian import AccessConfig, FaceRecognitionConfig
from edge.config.registry import RegistryConfig
from edge.config.retention import RetentionConfig
from edge.config.site import HardwareConfig, SecurityConfig, SiteConfig, StorageConfig
from edge.config.sync import SyncConfig
from edge.config.vehicle import PlateRecognitionConfig, PolicyConfig
from edge.config.web import WebConfig
from edge.errors import UserError


class RecognitionConfig(StrictModel):
    """The recognisers: plates at vehicle gates, faces at pedestrian gates."""

    plates: PlateRecognitionConfig = Field(
        default=PlateRecognitionConfig(),
        description="plate reading at vehicle gates (bench/plates.py, BENCHMARKS.md)",
    )
    faces: FaceRecognitionConfig = Field(
        default=FaceRecognitionConfig(),
        description="face recognition at pedestrian gates; defaults measured on real photos "
        "(bench/faces.py, BENCHMARKS.md)",
    )
    liveness: LivenessConfig = Field(
        default=LivenessConfig(),
        description="liveness at pedestrian gates: is the face a live person or a photo, "
        "print or screen (bench/liveness.py, BENCHMARKS.md, docs/faces.md)",
    )


class MenweiConfig(StrictModel):
    """The appliance's one config file."""

    site: SiteConfig = Field(default=SiteConfig(), description="the community this box serves")
    storage: StorageConfig = Field(
        default=StorageConfig(),
        description="where the box keeps its database, snapshots and run-time files",
    )
    hardware: HardwareConfig = Field(
        default=HardwareConfig(), description="the GPIO the relays and contacts are wired to"
    )
    security: SecurityConfig = Field(
        default=SecurityConfig(),
        description="personal data at rest (ID numbers, phones, face templates)",
    )
    retention: RetentionConfig = Field(
        default=RetentionConfig(),
        description="what the box keeps and how long; applied hourly by "
        "menwei-retention.timer (`menwei retention`)",
    )
    recognition: RecognitionConfig = Field(
        default=RecognitionConfig(), description="plates at vehicle gates, faces at pedestrian"
    )
    policy: PolicyConfig = Field(
        default=PolicyConfig(),
        description="what the vehicle policy does where the lists say nothing",
    )
    web: WebConfig = Field(
        default=WebConfig(), description="`menwei web`: the consoles and the tenant pages"
    )
    registry: RegistryConfig = Field(
        default=RegistryConfig(), description="tenant QR self-registration (docs/registry.md)"
    )
    access: AccessConfig = Field(
        default=AccessConfig(),
        description="when which group may pass pedestrian gates: holidays and named "
        "schedules, used by each gate's [gates.access]",
    )
    sync: SyncConfig | None = Field(
        default=None,
        description="the district platform (docs/sync-protocol.md); no [sync] section = "
        "not connected",
    )
    community: CommunityConfig = Field(
        default=CommunityConfig(),
        description="one hub and its gate boxes (docs/community.md); standalone by default",
    )
    gates: list[GateConfig] = Field(
        default_factory=list, description="one [[gates]] entry per gate"
    )

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
        if not self.gates:
            raise UserError(
                "no gate %(gate)r: this config has no gates at all", {"gate": gate_id},
                code="unknown_gate",
            )  # fmt: skip
        known = ", ".join(g.id for g in self.gates)
        raise UserError(
            "no gate %(gate)r in config (known: %(known)s)",
            {"gate": gate_id, "known": known},
            code="unknown_gate",
        )
