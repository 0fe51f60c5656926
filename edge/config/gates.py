"""The ``[[gates]]`` config section: one entry per gate, vehicle or pedestrian, with its
camera and the hardware of its kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config.base import StrictModel
from edge.config.liveness import DoorLivenessConfig, IrCameraConfig
from edge.config.pedestrian import DoorConfig, KeypadConfig, LockConfig
from edge.config.vehicle import BarrierConfig, LoopConfig
from gate_drivers.source_spec import parse_source


class CameraConfig(StrictModel):
    """The gate's camera."""

    source: str = Field(
        min_length=1,
        description="usb:0, rtsp://user:password@host/..., http(s)://..., a video file or a "
        "folder of frames (relative to this file)",
    )
    read_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="no frame for this long = reconnect (with backoff)"
    )
    backoff_max_s: float = Field(
        default=30.0, gt=0, le=600, description="longest wait between reconnection attempts"
    )
    replay_fps: float = Field(
        default=5.0, gt=0, le=60, description="frames per second when replaying a file or folder"
    )
    replay_every_frame: bool = Field(
        default=False,
        description="replays only: wait for the gate to take each frame before the next, so a "
        "slow machine sees every frame of a scripted scene (it runs longer instead)",
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        parse_source(value)  # a malformed source (usb:x, ftp://...) fails at load, not at start
        return value


class GateConfig(StrictModel):
    """A gate: its id, kind and camera; a vehicle gate's barrier and loop, or a pedestrian
    gate's lock, door, keypad and access schedules."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="lower-case letters, digits, - and _ (used in unit names)",
    )
    name: str = Field(min_length=1, max_length=60, description="shown on consoles")
    kind: Literal["vehicle", "pedestrian"] = Field(description='"vehicle" or "pedestrian"')
    direction: Literal["in", "out", "both"] = Field(
        default="both", description='"in", "out" or "both"'
    )
    camera: CameraConfig = Field(description="the gate's camera")
    roi: tuple[int, int, int, int] | None = Field(
        default=None,
        description="vehicle gates: lane region x, y, width, height in pixels; default the "
        "whole frame",
    )
    barrier: BarrierConfig | None = Field(
        default=None,
        description="REQUIRED for a vehicle gate: relays to the barrier controller's contacts",
    )
    loop: LoopConfig | None = Field(
        default=None, description="vehicle gates: an optional vehicle-loop detector's contact"
    )
    lock: LockConfig | None = Field(
        default=None,
        description="REQUIRED for a pedestrian gate: the relay in the door lock's power feed",
    )
    door: DoorConfig | None = Field(
        default=None,
        description="pedestrian gates: door contact, exit button, fire alarm, held-open alarm",
    )
    keypad: KeypadConfig | None = Field(
        default=None,
        description="pedestrian gates: an optional serial keypad, Wiegand reader or FIFO",
    )
    liveness: DoorLivenessConfig | None = Field(
        default=None,
        description='pedestrian gates: the door\'s liveness policy; default mode = "required"',
    )
    camera_ir: IrCameraConfig | None = Field(
        default=None,
        description="pedestrian gates: an optional near-infrared camera beside the colour one",
    )
    faces: bool = Field(
        default=True,
        description="pedestrian gates: false for a door opened by PIN and QR pass only (no"
        " face models loaded, no face index; liveness must then be off)",
    )
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
            wrong = [
                n
                for n in ("lock", "door", "keypad", "liveness", "camera_ir")
                if getattr(self, n) is not None
            ]
            if wrong:
                raise ValueError(
                    f"[gates.{wrong[0]}] is for pedestrian gates; this gate is kind = vehicle"
                )
            if not self.faces:
                raise ValueError("faces = false is for pedestrian gates; this gate is a vehicle")
        else:
            if self.lock is None:
                raise ValueError("a pedestrian gate needs a [gates.lock] section")
            wrong = [n for n in ("barrier", "loop") if getattr(self, n) is not None]
            if wrong:
                raise ValueError(
                    f"[gates.{wrong[0]}] is for vehicle gates; this gate is kind = pedestrian"
                )
            if not self.faces and (self.door_liveness.mode != "off" or self.camera_ir):
                raise ValueError(
                    "a door without faces (faces = false) judges no liveness: set"
                    ' [gates.liveness] mode = "off" and leave out [gates.camera_ir]'
                )
        return self

    @property
    def door_liveness(self) -> DoorLivenessConfig:
        """The door's liveness policy (the default one when the section is left out)."""
        return self.liveness or DoorLivenessConfig()

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
