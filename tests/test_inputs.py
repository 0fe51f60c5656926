"""The vehicle loop and its debouncing, on gpiozero MockFactory pins driven low/high.

Mock pins ignore gpiozero's bounce_time, so these tests exercise our own debounce: a level
must hold for ``debounce_s`` to count, and chatter shorter than that produces no callback.

A loaded CI box can stretch any sleep, so the tests time what they drive with the clock:
callbacks are stamped when they run (and must come ``debounce_s`` after the edge), and a
chatter or gap that the clock shows really lasted ``debounce_s`` is a void trial, retried on
a fresh input, rather than a failure.
"""

from __future__ import annotations

import threading
import time

import pytest

from gate_drivers.inputs import DebouncedInput, VehicleLoop

LOOP_PIN = 22
DEBOUNCE_S = 0.05
CLOCK_EPS = 1e-6  # float rounding of "edge + debounce_s"
ATTEMPTS = 3


class Recorder:
    """Collects callback names and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.times: list[float] = []  # time.monotonic() when each callback ran
        self._cond = threading.Condition()

    def hook(self, name: str):
        def callback() -> None:
            with self._cond:
                self.times.append(time.monotonic())
                self.calls.append(name)
                self._cond.notify_all()

        return callback

    def wait_for(self, count: int, timeout_s: float = 2.0) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls) >= count, timeout_s)
            return list(self.calls)


def wait_until(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


@pytest.fixture
def new_loop(pin_factory):
    """Makes a recorded vehicle loop on LOOP_PIN (close the last before making another)."""
    opened: list[VehicleLoop] = []

    def make():
        loop = VehicleLoop(LOOP_PIN, pin_factory, debounce_s=DEBOUNCE_S)
        opened.append(loop)
        recorder = Recorder()
        loop.when_arrived = recorder.hook("arrived")
        loop.when_left = recorder.hook("left")
        return loop, pin_factory.pin(LOOP_PIN), recorder

    yield make
    for loop in opened:
        loop.close()


@pytest.fixture
def loop(new_loop):
    return new_loop()


def chatter(pin, bounces: int) -> float:
    """Bounce the contact low/high in ~5 ms phases; return the longest low phase as timed
    from outside (an upper bound on what the input saw)."""
    longest = 0.0
    for _ in range(bounces):
        low_at = time.monotonic()
        pin.drive_low()
        time.sleep(0.005)
        pin.drive_high()
        longest = max(longest, time.monotonic() - low_at)
        time.sleep(0.005)
    return longest


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
    occupied = vehicle_loop.is_occupied
    if time.monotonic() - started < DEBOUNCE_S:  # read before debounce_s could have passed
        assert occupied is False, "not before the level has held for debounce_s"
    assert recorder.wait_for(1) == ["arrived"]
    assert recorder.times[0] - started >= DEBOUNCE_S - CLOCK_EPS, "arrived before debounce_s"
    assert vehicle_loop.is_occupied is True
    assert vehicle_loop.last_change_at is not None
    assert vehicle_loop.last_change_at.utcoffset() is not None
    started = time.monotonic()
    pin.drive_high()
    assert recorder.wait_for(2) == ["arrived", "left"]
    assert recorder.times[1] - started >= DEBOUNCE_S - CLOCK_EPS, "left before debounce_s"
    assert vehicle_loop.is_occupied is False


def test_chatter_shorter_than_debounce_produces_no_callback(new_loop):
    for _attempt in range(ATTEMPTS):
        vehicle_loop, pin, recorder = new_loop()
        # a relay contact bouncing: 5 ms pulses, well under 50 ms ...
        if chatter(pin, 10) < DEBOUNCE_S:
            break
        vehicle_loop.close()  # ... unless a stall stretched one to debounce_s: void, retry
    else:
        pytest.fail(f"every low phase stretched to {DEBOUNCE_S}s in {ATTEMPTS} attempts")
    time.sleep(DEBOUNCE_S * 3)
    assert recorder.calls == []
    assert vehicle_loop.is_occupied is False


def test_chatter_that_settles_counts_once(new_loop):
    for _attempt in range(ATTEMPTS):
        vehicle_loop, pin, recorder = new_loop()
        longest = chatter(pin, 5)
        settled_at = time.monotonic()
        pin.drive_low()  # ... and then the car is really there
        if longest < DEBOUNCE_S:
            break
        vehicle_loop.close()  # a stall stretched a bounce to debounce_s: void, retry
    else:
        pytest.fail(f"a low phase stretched to {DEBOUNCE_S}s in all {ATTEMPTS} attempts")
    assert recorder.wait_for(1) == ["arrived"]
    assert recorder.times[0] - settled_at >= DEBOUNCE_S - CLOCK_EPS, "counted before settling"
    time.sleep(DEBOUNCE_S * 2)
    assert recorder.calls == ["arrived"]
    assert vehicle_loop.is_occupied is True


def test_a_short_gap_while_occupied_is_not_a_departure(new_loop):
    for _attempt in range(ATTEMPTS):
        vehicle_loop, pin, recorder = new_loop()
        pin.drive_low()
        assert recorder.wait_for(1) == ["arrived"]
        gap_at = time.monotonic()
        pin.drive_high()  # the gap between a truck's cab and its trailer
        time.sleep(DEBOUNCE_S / 3)
        pin.drive_low()
        if time.monotonic() - gap_at < DEBOUNCE_S:
            break
        vehicle_loop.close()  # a stall stretched the gap to debounce_s: void, retry
    else:
        pytest.fail(f"the gap stretched to {DEBOUNCE_S}s in all {ATTEMPTS} attempts")
    time.sleep(DEBOUNCE_S * 3)
    assert recorder.calls == ["arrived"]
    assert vehicle_loop.is_occupied is True


def test_active_high_wiring(pin_factory):
    with VehicleLoop(LOOP_PIN, pin_factory, active_low=False, debounce_s=0.01) as vehicle_loop:
        pin = pin_factory.pin(LOOP_PIN)
        assert pin.state is False  # pulled down
        assert vehicle_loop.is_occupied is False
        pin.drive_high()
        assert wait_until(lambda: vehicle_loop.is_occupied), "high means occupied"


def test_failing_callback_does_not_stop_the_input(pin_factory):
    recorder = Recorder()
    pressed = recorder.hook("pressed")

    def failing_callback() -> None:
        pressed()
        raise ZeroDivisionError("a callback bug")

    with DebouncedInput(LOOP_PIN, pin_factory, debounce_s=0.01, name="exit button") as button:
        button.when_activated = failing_callback
        button.when_deactivated = recorder.hook("released")
        pin = pin_factory.pin(LOOP_PIN)
        pin.drive_low()
        assert recorder.wait_for(1) == ["pressed"]  # the failing callback has run
        pin.drive_high()
        assert recorder.wait_for(2) == ["pressed", "released"]


def test_close_releases_the_pin_and_is_idempotent(pin_factory):
    vehicle_loop = VehicleLoop(LOOP_PIN, pin_factory, debounce_s=0.01)
    vehicle_loop.close()
    vehicle_loop.close()
    VehicleLoop(LOOP_PIN, pin_factory).close()  # the pin can be claimed again


def test_negative_debounce_is_rejected(pin_factory):
    with pytest.raises(ValueError, match="debounce_s"):
        VehicleLoop(LOOP_PIN, pin_factory, debounce_s=-1)
