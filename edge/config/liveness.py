"""Config sections of liveness (presentation-attack detection) at pedestrian gates: the
site-wide ``[recognition.liveness]`` (the fused score's threshold, how repeated attempts slow
a door), and each door's ``[gates.liveness]`` (its policy) and ``[gates.camera_ir]`` (an
optional near-infrared camera beside the colour one). docs/faces.md says what each cue
catches and what it cannot."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from edge.config.base import StrictModel
from gate_drivers.source_spec import parse_source

Row = tuple[float, float, float]
IDENTITY: tuple[Row, Row, Row] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class LivenessConfig(StrictModel):
    """Liveness at every pedestrian gate: the cues' fused score and what repeated attempts
    do (bench/liveness.py, BENCHMARKS.md)."""

    threshold: float = Field(
        default=0.63,
        gt=0,
        lt=1,
        description="fused liveness score (0 attack - 1 live) a face needs to open; 0.63 is "
        "the highest with at most 5 % of live faces refused on the bench's dev sets",
    )
    learn_every_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="how often a frame with nobody in it teaches the door's empty view "
        "(its straight edges are then not taken for a phone's body)",
    )
    repeat_count: int = Field(
        default=3,
        ge=2,
        le=50,
        description="refused faces at one door within repeat_window_s that raise the "
        "stronger alert (face_spoof_repeated) and slow that door's face path",
    )
    repeat_window_s: float = Field(
        default=60.0, gt=0, le=3600, description="... within this many seconds"
    )
    slow_s: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="after a repeated attempt the door judges no face for this long, doubled "
        "with each further attempt (PIN and QR passes are never slowed)",
    )
    max_slow_s: float = Field(default=120.0, ge=0, le=3600, description="the longest such pause")


class DoorLivenessConfig(StrictModel):
    """A pedestrian door's liveness policy."""

    mode: Literal["required", "required_or_pin", "off"] = Field(
        default="required",
        description='"required": a face that is not judged live never opens; '
        '"required_or_pin": the same, and the door then asks for that resident\'s PIN; '
        '"off": no liveness check (only where a guard watches every entry)',
    )
    pin_s: float = Field(
        default=20.0,
        gt=0,
        le=300,
        description="required_or_pin: how long after a doubted face the keypad takes the "
        "resident's bare PIN (then #)",
    )


class IrCameraConfig(StrictModel):
    """A near-infrared camera beside the colour one (NoIR camera, 850 nm illuminator and
    filter: docs/faces.md). A live face must also be in its frame, skin-bright and not flat."""

    source: str = Field(
        min_length=1,
        description="as [gates.camera] source: usb:1, rtsp://..., a video file or a folder",
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
    colour_to_ir: tuple[Row, Row, Row] = Field(
        default=IDENTITY,
        description="3x3 homography from colour pixels to IR pixels, measured once from one "
        "chessboard picture per camera (edge.faces.liveness.infrared.calibrate)",
    )
    tolerance: float = Field(
        default=0.5,
        gt=0,
        le=3,
        description="how far (in face widths) the IR face may be from where the calibration "
        "puts it",
    )
    max_skew_s: float = Field(
        default=0.5,
        gt=0,
        le=5,
        description="an IR frame taken further than this from the colour frame counts as none",
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        parse_source(value)  # a malformed source fails at load, as for [gates.camera]
        return value

    @field_validator("colour_to_ir")
    @classmethod
    def _invertible(cls, value: tuple[Row, Row, Row]) -> tuple[Row, Row, Row]:
        matrix = np.asarray(value, np.float64)
        if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-9:
            raise ValueError("colour_to_ir must be a finite, invertible 3x3 matrix")
        return value
