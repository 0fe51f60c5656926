"""Config models for pedestrian gates: face recognition, the door lock and inputs, keypad,
and when which group of people may pass (schedules and holidays).

Kept out of edge/config.py (which imports these into ``[[gates]]`` as ``[gates.lock]``,
``[gates.door]``, ``[gates.keypad]``, ``[gates.access]``, and as ``[recognition.faces]`` and
``[access]``) so the vehicle and pedestrian sections can grow independently. Same rule as
there: unknown keys and bad values stop start-up.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GpioPin = Annotated[int, Field(ge=0, le=53, description="BCM GPIO number")]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaceRecognitionConfig(_Strict):
    """Defaults measured on the real fixtures (bench/faces.py, BENCHMARKS.md)."""

    detector_model: Path | None = None
    recogniser_model: Path | None = None
    detector_min_score: float = Field(default=0.8, gt=0, lt=1)
    # Stricter than SFace's 1:1 default of 0.363: at a gate a stranger meets every resident.
    match_threshold: float = Field(default=0.55, gt=0, lt=1)
    margin: float = Field(default=0.05, ge=0, lt=1)
    frames_to_agree: int = Field(default=3, ge=1, le=20)
    agree_window_s: float = Field(default=2.0, gt=0, le=30)
    dedupe_s: float = Field(default=10.0, ge=0, le=3600)
    min_gate_face_px: int = Field(default=60, ge=20, le=1000)
    min_enrol_face_px: int = Field(default=80, ge=40, le=2000)

    @model_validator(mode="after")
    def _stricter_than_verification(self) -> FaceRecognitionConfig:
        if self.match_threshold < 0.363:
            raise ValueError(
                "match_threshold below SFace's 1:1 threshold 0.363 lets strangers match residents"
            )
        return self


class LockConfig(_Strict):
    relay_pin: GpioPin
    active_high: bool = Field(default=False, description="most Pi relay boards switch on LOW")
    release_s: float = Field(default=5.0, gt=0, le=60, description="how long a grant unlocks")
    fail_mode: Literal["fail_safe", "fail_secure"] = Field(
        default="fail_safe",
        description="fail_safe: power holds it locked (maglock), so the relay is energised "
        "while LOCKED; fail_secure: power opens it (electric strike), energised while OPEN",
    )


class DoorInputConfig(_Strict):
    pin: GpioPin
    active_low: bool = Field(default=True, description="contact between the GPIO and GND")
    normally_closed: bool = Field(
        default=False,
        description="contact is closed normally and opens for the event (fire panels): a "
        "cut wire then reads as the event",
    )
    debounce_s: float = Field(default=0.05, ge=0, le=2)


class DoorConfig(_Strict):
    contact: DoorInputConfig | None = None  # active while the door is OPEN
    exit_button: DoorInputConfig | None = None
    fire_alarm: DoorInputConfig | None = None  # active while the fire panel is in alarm
    held_open_s: float = Field(default=30.0, gt=0, le=3600)


class KeypadConfig(_Strict):
    source: Path = Field(
        description="a serial device, FIFO or file that delivers lines like '12*654321' "
        "(resident number * PIN, then Enter or #); see gate_drivers.keypad"
    )
    max_pin_failures: int = Field(default=5, ge=1, le=50)
    lockout_s: float = Field(default=300.0, ge=0, le=86400)


class ScheduleConfig(_Strict):
    days: tuple[str, ...] = DAYS
    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    holidays: Literal["open", "closed"] = Field(
        default="open", description="on a listed holiday: allow as usual, or not at all"
    )

    @field_validator("days")
    @classmethod
    def _known_days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in days if d not in DAYS]
        if bad or not days:
            raise ValueError(f"days must be a non-empty list of {', '.join(DAYS)}")
        return days

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleConfig:
        if self.start >= self.end:
            raise ValueError("start must be before end (split overnight windows in two)")
        return self


class AccessConfig(_Strict):
    """Named schedules; each gate maps groups of people to a schedule name."""

    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)
    holidays: tuple[date, ...] = ()

    @field_validator("schedules")
    @classmethod
    def _names(cls, schedules: dict[str, ScheduleConfig]) -> dict[str, ScheduleConfig]:
        for name in schedules:
            if name == "always" or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"schedule name {name!r} is reserved or not [a-z][a-z0-9_]*")
        return schedules
