"""Barrier relays on gpiozero's MockFactory: real gpiozero devices, mock pins.

MockPin keeps a history of ``(seconds since previous change, state)`` in ``pin.states``;
the pulse timing checks read it. Timers fire late on a busy CI box, never early, so a pulse
length may run up to ``LATE_S`` over but only ``EARLY_S`` (clock rounding) under. A level is
sampled "during a pulse" only when the clock shows the sample really was taken in time;
the history, not the sample, is what every test relies on.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from gate_drivers.barrier import Barrier
from gate_drivers.pins import make_pin_factory

OPEN_PIN, CLOSE_PIN = 17, 27  # not GPIO2/3: those have fixed pull-ups on a Pi
PULSE_S = 0.2
EARLY_S = 0.005  # a timer never fires early: only clock rounding
LATE_S = 0.15  # ... but on a loaded box it may fire this much late


def levels(pin) -> list[bool]:
    return [change.state for change in pin.states]


def wait_until(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def assert_pulse_length(length: float, at_least: float, at_most: float) -> None:
    assert length >= at_least - EARLY_S, f"pulse {length:.3f}s, shorter than {at_least:.3f}s"
    assert length <= at_most + LATE_S, f"pulse {length:.3f}s, longer than {at_most:.3f}s"


def test_open_pulses_without_blocking_and_returns_to_safe_state(pin_factory):
    barrier = Barrier(OPEN_PIN, pulse_s=PULSE_S, pin_factory=pin_factory)
    pin = pin_factory.pin(OPEN_PIN)
    pin.clear_states()
    started = time.monotonic()
    barrier.open()
    returned_s = time.monotonic() - started
    energised, pulsing, action = pin.state, barrier.is_pulsing, barrier.state().action
    in_time = time.monotonic() - started < PULSE_S  # so the timer cannot have fired yet
    assert returned_s < PULSE_S, "open() must not wait for the pulse"
    if in_time:
        assert energised is True and pulsing and action == "opening"
    assert wait_until(lambda: pin.state is False), "the pulse must end by itself"
    assert not barrier.is_pulsing
    assert levels(pin) == [False, True, False]
    assert_pulse_length(pin.states[2].timestamp, PULSE_S, PULSE_S)
    assert barrier.state().pulses == 1
    barrier.close()


def test_relays_start_in_safe_state_active_high_and_active_low(pin_factory):
    with Barrier(OPEN_PIN, CLOSE_PIN, pin_factory=pin_factory) as high:
        assert pin_factory.pin(OPEN_PIN).state is False
        assert pin_factory.pin(CLOSE_PIN).state is False
        assert high.state().open_energised is False
    pin_factory.reset()
    with Barrier(OPEN_PIN, CLOSE_PIN, active_high=False, pin_factory=pin_factory):
        assert pin_factory.pin(OPEN_PIN).state is True  # active-low relay board: high = off
        assert pin_factory.pin(CLOSE_PIN).state is True


def test_active_low_pulse_drives_the_pin_low(pin_factory):
    barrier = Barrier(OPEN_PIN, pulse_s=PULSE_S, active_high=False, pin_factory=pin_factory)
    pin = pin_factory.pin(OPEN_PIN)
    pin.clear_states()
    started = time.monotonic()
    barrier.open()
    level, energised = pin.state, barrier.state().open_energised
    if time.monotonic() - started < PULSE_S:  # sampled before the timer could fire
        assert level is False and energised is True
    assert wait_until(lambda: pin.state is True), "the pulse must end by itself"
    assert levels(pin) == [True, False, True]
    assert_pulse_length(pin.states[2].timestamp, PULSE_S, PULSE_S)
    barrier.close()


def test_second_open_during_pulse_restarts_it_and_does_not_stack(pin_factory):
    pulse_s = 0.4  # long enough that the re-open lands inside the first pulse on a busy box
    for _attempt in range(3):
        barrier = Barrier(OPEN_PIN, pulse_s=pulse_s, pin_factory=pin_factory)
        pin = pin_factory.pin(OPEN_PIN)
        pin.clear_states()
        first_before = time.monotonic()
        barrier.open()
        first_after = time.monotonic()
        time.sleep(0.15)
        reopen_before = time.monotonic()
        barrier.open()  # re-open: the pulse now ends pulse_s after this call
        reopen_after = time.monotonic()
        if reopen_after - first_before < pulse_s:
            break  # the re-open surely came while the first pulse was still on
        barrier.close()  # the machine stalled past the first pulse: try again
    else:
        pytest.fail("could not re-open within the first pulse in 3 attempts")
    # just after the first pulse would have ended, and (if measured so) before the second
    time.sleep(max(0.0, first_after + pulse_s + 0.05 - time.monotonic()))
    energised = pin.state
    if time.monotonic() < reopen_before + pulse_s:
        assert energised is True, "the first pulse's timer must not end the restarted pulse"
    assert wait_until(lambda: pin.state is False), "the restarted pulse must end by itself"
    assert levels(pin) == [False, True, False], "one continuous pulse, never dropped between"
    assert_pulse_length(
        pin.states[2].timestamp,
        at_least=reopen_before - first_after + pulse_s,  # ran pulse_s from the re-open
        at_most=reopen_after - first_before + pulse_s,  # ... and no longer: not stacked
    )
    barrier.close()


class RecordingPin(MockPin):
    """A MockPin that appends every level change, in order, to one shared journal.

    Sampling two pins from a watcher thread is not atomic (it can read OPEN before and
    CLOSE after a switch-over); the journal holds the true order the barrier drove them in.
    """

    journal: ClassVar[list[tuple[str, bool]]] = []

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and self._function == "output":
            RecordingPin.journal.append((self.info.name, value))
        return changed


def test_lower_cancels_open_and_never_energises_both():
    pin_factory = MockFactory(pin_class=RecordingPin)
    RecordingPin.journal.clear()
    barrier = Barrier(OPEN_PIN, CLOSE_PIN, pulse_s=PULSE_S, pin_factory=pin_factory)
    open_pin, close_pin = pin_factory.pin(OPEN_PIN), pin_factory.pin(CLOSE_PIN)
    barrier.open()
    time.sleep(0.05)
    started = time.monotonic()
    barrier.lower()
    opened, closing, action = open_pin.state, close_pin.state, barrier.state().action
    assert opened is False  # nothing turns OPEN on again, whatever the timing
    if time.monotonic() - started < PULSE_S:  # sampled before the CLOSE timer could fire
        assert closing is True and action == "lowering"
    time.sleep(0.05)
    started = time.monotonic()
    barrier.open()  # and back again: CLOSE ends first
    opened, closing = open_pin.state, close_pin.state
    assert closing is False
    if time.monotonic() - started < PULSE_S:
        assert opened is True
    # hammer both commands from two threads, as the gate loop and a web command would
    hammers = [
        threading.Thread(target=lambda f=f: [f() for _ in range(200)])
        for f in (barrier.open, barrier.lower)
    ]
    for thread in hammers:
        thread.start()
    for thread in hammers:
        thread.join()
    assert wait_until(lambda: open_pin.state is False and close_pin.state is False)
    barrier.close()

    level = {open_pin.info.name: False, close_pin.info.name: False}
    switched_on = 0
    for name, value in RecordingPin.journal:
        level[name] = value
        switched_on += value
        assert not all(level.values()), "OPEN and CLOSE were energised at the same time"
    assert switched_on >= 3
    pin_factory.reset()


def test_lower_without_close_relay_just_ends_the_open_pulse(pin_factory):
    barrier = Barrier(OPEN_PIN, pulse_s=5.0, pin_factory=pin_factory)
    barrier.open()
    barrier.lower()
    assert pin_factory.pin(OPEN_PIN).state is False
    assert barrier.state().action == "idle"
    barrier.close()


def test_close_mid_pulse_returns_relays_to_safe_state_and_releases_pins(pin_factory):
    barrier = Barrier(OPEN_PIN, CLOSE_PIN, pulse_s=5.0, active_high=False, pin_factory=pin_factory)
    barrier.open()
    assert pin_factory.pin(OPEN_PIN).state is False  # energised (active low)
    barrier.close()
    assert pin_factory.pin(OPEN_PIN).state is True  # safe: high = off on this board
    assert pin_factory.pin(OPEN_PIN).function == "input"  # released
    assert barrier.state().action == "released"
    barrier.close()  # idempotent
    with pytest.raises(RuntimeError):
        barrier.open()
    # released pins can be claimed again (e.g. the gate process restarting its devices)
    Barrier(OPEN_PIN, CLOSE_PIN, pin_factory=pin_factory).close()


def test_bad_arguments_are_clear_errors(pin_factory):
    with pytest.raises(ValueError, match="pulse_s"):
        Barrier(OPEN_PIN, pulse_s=0, pin_factory=pin_factory)
    with pytest.raises(ValueError, match="differ"):
        Barrier(OPEN_PIN, OPEN_PIN, pin_factory=pin_factory)


def test_make_pin_factory():
    assert isinstance(make_pin_factory("mock"), MockFactory)
    assert isinstance(make_pin_factory(" Mock "), MockFactory)
    with pytest.raises(ValueError, match=r"unknown pin factory 'gpio9'.*lgpio"):
        make_pin_factory("gpio9")


def test_make_pin_factory_none_honours_environment(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert isinstance(make_pin_factory(None), MockFactory)
