"""Config sections of pedestrian gates: face recognition, the door lock and its inputs, the
keypad, and when which group of people may pass (schedules and holidays).

They appear in ``[[gates]]`` as ``[gates.lock]``, ``[gates.door]``, ``[gates.keypad]`` and
``[gates.access]``, and at the top level as ``[recognition.faces]`` and ``[access]``.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config.base import GpioPin, StrictModel

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FaceRecognitionConfig(StrictModel):
    """Face recognition at pedestrian gates; defaults measured on the real fixtures
    (bench/faces.py, BENCHMARKS.md)."""

    detector_model: Path | None = Field(
        default=None, description="YuNet ONNX file; default: the verified copy shipped with us"
    )
    recogniser_model: Path | None = Field(
        default=None, description="SFace ONNX file; default: the verified copy shipped with us"
    )
    detector_min_score: float = Field(
        default=0.8, gt=0, lt=1, description="faces the detector is less sure of are ignored"
    )
    match_threshold: float = Field(
        default=0.55,
        gt=0,
        lt=1,
        description="cosine similarity to a resident's template; stricter than SFace's 1:1 "
        "0.363 (never below it), because at a gate a stranger meets every resident",
    )
    margin: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="the best resident must beat the second-best resident by this",
    )
    frames_to_agree: int = Field(
        default=3, ge=1, le=20, description="consecutive frames naming the same resident"
    )
    agree_window_s: float = Field(
        default=2.0, gt=0, le=30, description="... within this many seconds"
    )
    dedupe_s: float = Field(
        default=10.0, ge=0, le=3600, description="the same person again within this is one passage"
    )
    min_gate_face_px: int = Field(
        default=60, ge=20, le=1000, description="smaller faces (people far away) are ignored"
    )
    min_enrol_face_px: int = Field(
        default=80, ge=40, le=2000, description="smallest face accepted in an enrolment photo"
    )

    @model_validator(mode="after")
    def _stricter_than_verification(self) -> FaceRecognitionConfig:
        if self.match_threshold < 0.363:
            raise ValueError(
                "match_threshold below SFace's 1:1 threshold 0.363 lets strangers match residents"
            )
        return self


class LockConfig(StrictModel):
    """The door lock, switched by one relay in its power feed (REQUIRED for a pedestrian
    gate)."""

    relay_pin: GpioPin = Field(description="BCM GPIO of the relay in the lock's power feed")
    active_high: bool = Field(default=False, description="most Pi relay boards switch on LOW")
    release_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="how long a grant (face, PIN, QR, exit button) unlocks",
    )
    fail_mode: Literal["fail_safe", "fail_secure"] = Field(
        default="fail_safe",
        description="fail_safe: maglock, unlocked without power (escape routes), so the relay "
        "is energised while LOCKED; fail_secure: electric strike, locked without power, "
        "energised while OPEN",
    )


class DoorInputConfig(StrictModel):
    """One dry contact of the door (contact, exit button or fire alarm)."""

    pin: GpioPin = Field(description="BCM GPIO the contact pulls to GND")
    active_low: bool = Field(default=True, description="contact between the GPIO and GND")
    normally_closed: bool = Field(
        default=False,
        description="contact is closed normally and opens for the event (fire panels): a "
        "cut wire then reads as the event",
    )
    debounce_s: float = Field(
        default=0.05, ge=0, le=2, description="a change counts once it has held this long"
    )


class DoorConfig(StrictModel):
    """The door's inputs and its held-open alarm."""

    contact: DoorInputConfig | None = Field(
        default=None, description="the door contact: active while the door is OPEN"
    )
    exit_button: DoorInputConfig | None = Field(
        default=None, description="inside push button: releases the lock"
    )
    fire_alarm: DoorInputConfig | None = Field(
        default=None,
        description="fire panel relay: releases the lock and keeps it released while active",
    )
    held_open_s: float = Field(
        default=30.0, gt=0, le=3600, description="door open longer than this raises an alarm"
    )


class KeypadConfig(StrictModel):
    """A serial keypad, Wiegand reader or FIFO delivering resident number and PIN."""

    source: Path = Field(
        description="a serial device, FIFO or file that delivers lines like '12*654321' "
        "(resident number * PIN, then Enter or #); see gate_drivers.keypad"
    )
    max_pin_failures: int = Field(
        default=5, ge=1, le=50, description="wrong PINs per resident number within lockout_s"
    )
    lockout_s: float = Field(
        default=300.0, ge=0, le=86400, description="how long a resident number is refused after"
    )


class ScheduleConfig(StrictModel):
    """When a group may pass: days of the week and one local-time window."""

    days: tuple[str, ...] = Field(default=DAYS, description="any of mon, tue, ... sun")
    start: time = Field(
        default=time(0, 0), description="local (site) time; split overnight windows in two"
    )
    end: time = Field(default=time(23, 59, 59), description="local (site) time, after start")
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


class AccessConfig(StrictModel):
    """When which group may pass pedestrian gates: named schedules and holidays; each gate
    maps groups of people to a schedule name in its [gates.access]."""

    schedules: dict[str, ScheduleConfig] = Field(
        default_factory=dict,
        description="a named schedule that gates' [gates.access] can use ('always' needs none)",
    )
    holidays: tuple[date, ...] = Field(default=(), description="dates in site time")

    @field_validator("schedules")
    @classmethod
    def _names(cls, schedules: dict[str, ScheduleConfig]) -> dict[str, ScheduleConfig]:
        for name in schedules:
            if name == "always" or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"schedule name {name!r} is reserved or not [a-z][a-z0-9_]*")
        return schedules
