"""The vehicle loop and its debouncing, on gpiozero MockFactory pins driven low/high.

Mock pins ignore gpiozero's bounce_time, so these tests exercise our own debounce: a level
must hold for ``debounce_s`` to count, and chatter shorter than that produces no callback.
"""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from gate_drivers.inputs import DebouncedInput, VehicleLoop

LOOP_PIN = 22
DEBOUNCE_S = 0.05


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


class Recorder:
    """Collects callback names and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._cond = threading.Condition()

    def hook(self, name: str):
        def callback() -> None:
            with self._cond:
                self.calls.append(name)
                self._cond.notify_all()

        return callback

    def wait_for(self, count: int, timeout_s: float = 1.0) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls) >= count, timeout_s)
            return list(self.calls)


@pytest.fixture
def loop(factory):
    loop = VehicleLoop(LOOP_PIN, factory, debounce_s=DEBOUNCE_S)
    recorder = Recorder()
    loop.when_arrived = recorder.hook("arrived")
    loop.when_left = recorder.hook("left")
    yield loop, factory.pin(LOOP_PIN), recorder
    loop.close()


def test_idle_loop_is_pulled_up_and_unoccupied(loop):
    vehicle_loop, pin, recorder = loop
    assert pin.state is True  # internal pull-up, contact open
    assert vehicle_loop.is_occupied is False
    assert vehicle_loop.last_change_at is None
    time.sleep(DEBOUNCE_S * 2)
    assert recorder.calls == []


def test_car_arrives_and_leaves_after_the_debounce_time(loop):
    vehicle_loop, pin, recorder = loop
    started = time.monotonic()
    pin.drive_low()  # detector relay closes to ground: a car is over the loop
    assert vehicle_loop.is_occupied is False, "not before the level has held for debounce_s"
    assert recorder.wait_for(1) == ["arrived"]
    assert time.monotonic() - started >= DEBOUNCE_S
    assert vehicle_loop.is_occupied is True
    assert vehicle_loop.last_change_at is not None
    assert vehicle_loop.last_change_at.utcoffset() is not None
    pin.drive_high()
    assert recorder.wait_for(2) == ["arrived", "left"]
    assert vehicle_loop.is_occupied is False


def test_chatter_shorter_than_debounce_produces_no_callback(loop):
    vehicle_loop, pin, recorder = loop
    for _ in range(10):  # a relay contact bouncing: 5 ms pulses, well under 50 ms
        pin.drive_low()
        time.sleep(0.005)
        pin.drive_high()
        time.sleep(0.005)
    time.sleep(DEBOUNCE_S * 3)
    assert recorder.calls == []
    assert vehicle_loop.is_occupied is False


def test_chatter_that_settles_counts_once(loop):
    vehicle_loop, pin, recorder = loop
    for _ in range(5):
        pin.drive_low()
        time.sleep(0.005)
        pin.drive_high()
        time.sleep(0.005)
    pin.drive_low()  # ... and then the car is really there
    assert recorder.wait_for(1) == ["arrived"]
    time.sleep(DEBOUNCE_S * 2)
    assert recorder.calls == ["arrived"]
    assert vehicle_loop.is_occupied is True


def test_a_short_gap_while_occupied_is_not_a_departure(loop):
    vehicle_loop, pin, recorder = loop
    pin.drive_low()
    recorder.wait_for(1)
    pin.drive_high()  # the gap between a truck's cab and its trailer
    time.sleep(DEBOUNCE_S / 3)
    pin.drive_low()
    time.sleep(DEBOUNCE_S * 3)
    assert recorder.calls == ["arrived"]
    assert vehicle_loop.is_occupied is True


def test_active_high_wiring(factory):
    with VehicleLoop(LOOP_PIN, factory, active_low=False, debounce_s=0.01) as vehicle_loop:
        pin = factory.pin(LOOP_PIN)
        assert pin.state is False  # pulled down
        pin.drive_high()
        time.sleep(0.05)
        assert vehicle_loop.is_occupied is True


def test_failing_callback_does_not_stop_the_input(factory):
    recorder = Recorder()
    with DebouncedInput(LOOP_PIN, factory, debounce_s=0.01, name="exit button") as button:
        button.when_activated = lambda: 1 / 0
        button.when_deactivated = recorder.hook("released")
        pin = factory.pin(LOOP_PIN)
        pin.drive_low()
        time.sleep(0.05)
        pin.drive_high()
        assert recorder.wait_for(1) == ["released"]


def test_close_releases_the_pin_and_is_idempotent(factory):
    vehicle_loop = VehicleLoop(LOOP_PIN, factory, debounce_s=0.01)
    vehicle_loop.close()
    vehicle_loop.close_device()
    VehicleLoop(LOOP_PIN, factory).close()  # the pin can be claimed again


def test_negative_debounce_is_rejected(factory):
    with pytest.raises(ValueError, match="debounce_s"):
        VehicleLoop(LOOP_PIN, factory, debounce_s=-1)
