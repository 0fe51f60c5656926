"""Barrier relays on gpiozero's MockFactory: real gpiozero devices, mock pins.

MockPin keeps a history of ``(seconds since previous change, state)`` in ``pin.states``;
the pulse timing checks read it, with gpiozero's own tolerance (±50 ms) for a busy CI box.
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


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


def levels(pin) -> list[bool]:
    return [change.state for change in pin.states]


def test_open_pulses_without_blocking_and_returns_to_safe_state(factory):
    barrier = Barrier(OPEN_PIN, pulse_s=PULSE_S, pin_factory=factory)
    pin = factory.pin(OPEN_PIN)
    pin.clear_states()
    started = time.monotonic()
    barrier.open()
    assert time.monotonic() - started < 0.05, "open() must not wait for the pulse"
    assert pin.state is True and barrier.is_pulsing
    assert barrier.state().action == "opening"
    time.sleep(PULSE_S + 0.15)
    assert pin.state is False and not barrier.is_pulsing
    assert levels(pin) == [False, True, False]
    pin.assert_states_and_times([(0.0, False), (0.0, True), (PULSE_S, False)])
    assert barrier.state().pulses == 1
    barrier.close_device()


def test_relays_start_in_safe_state_active_high_and_active_low(factory):
    with Barrier(OPEN_PIN, CLOSE_PIN, pin_factory=factory) as high:
        assert factory.pin(OPEN_PIN).state is False
        assert factory.pin(CLOSE_PIN).state is False
        assert high.state().open_energised is False
    factory.reset()
    with Barrier(OPEN_PIN, CLOSE_PIN, active_high=False, pin_factory=factory):
        assert factory.pin(OPEN_PIN).state is True  # active-low relay board: high = off
        assert factory.pin(CLOSE_PIN).state is True


def test_active_low_pulse_drives_the_pin_low(factory):
    barrier = Barrier(OPEN_PIN, pulse_s=PULSE_S, active_high=False, pin_factory=factory)
    pin = factory.pin(OPEN_PIN)
    pin.clear_states()
    barrier.open()
    assert pin.state is False
    assert barrier.state().open_energised is True
    time.sleep(PULSE_S + 0.15)
    assert pin.state is True
    pin.assert_states_and_times([(0.0, True), (0.0, False), (PULSE_S, True)])
    assert len(pin.states) == 3
    barrier.close_device()


def test_second_open_during_pulse_restarts_it_and_does_not_stack(factory):
    barrier = Barrier(OPEN_PIN, pulse_s=PULSE_S, pin_factory=factory)
    pin = factory.pin(OPEN_PIN)
    pin.clear_states()
    barrier.open()
    time.sleep(PULSE_S / 2)
    barrier.open()  # re-open halfway: the pulse now ends PULSE_S after this call
    time.sleep(PULSE_S * 0.75)
    assert pin.state is True, "the first pulse's timer must not end the restarted pulse"
    time.sleep(PULSE_S * 0.5 + 0.1)
    assert pin.state is False
    assert levels(pin) == [False, True, False], "one continuous pulse, never dropped between"
    pin.assert_states_and_times([(0.0, False), (0.0, True), (1.5 * PULSE_S, False)])
    barrier.close_device()


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


def test_close_cancels_open_and_never_energises_both():
    factory = MockFactory(pin_class=RecordingPin)
    RecordingPin.journal.clear()
    barrier = Barrier(OPEN_PIN, CLOSE_PIN, pulse_s=PULSE_S, pin_factory=factory)
    open_pin, close_pin = factory.pin(OPEN_PIN), factory.pin(CLOSE_PIN)
    barrier.open()
    time.sleep(0.05)
    barrier.close()
    assert open_pin.state is False and close_pin.state is True
    assert barrier.state().action == "closing"
    time.sleep(0.05)
    barrier.open()  # and back again: CLOSE ends first
    assert open_pin.state is True and close_pin.state is False
    # hammer both commands from two threads, as the gate loop and a web command would
    hammers = [
        threading.Thread(target=lambda f=f: [f() for _ in range(200)])
        for f in (barrier.open, barrier.close)
    ]
    for thread in hammers:
        thread.start()
    for thread in hammers:
        thread.join()
    time.sleep(PULSE_S + 0.15)
    assert open_pin.state is False and close_pin.state is False
    barrier.close_device()

    level = {open_pin.info.name: False, close_pin.info.name: False}
    switched_on = 0
    for name, value in RecordingPin.journal:
        level[name] = value
        switched_on += value
        assert not all(level.values()), "OPEN and CLOSE were energised at the same time"
    assert switched_on >= 3
    factory.reset()


def test_close_without_close_relay_just_ends_the_open_pulse(factory):
    barrier = Barrier(OPEN_PIN, pulse_s=5.0, pin_factory=factory)
    barrier.open()
    barrier.close()
    assert factory.pin(OPEN_PIN).state is False
    assert barrier.state().action == "idle"
    barrier.close_device()


def test_close_device_mid_pulse_returns_relays_to_safe_state_and_releases_pins(factory):
    barrier = Barrier(OPEN_PIN, CLOSE_PIN, pulse_s=5.0, active_high=False, pin_factory=factory)
    barrier.open()
    assert factory.pin(OPEN_PIN).state is False  # energised (active low)
    barrier.close_device()
    assert factory.pin(OPEN_PIN).state is True  # safe: high = off on this board
    assert factory.pin(OPEN_PIN).function == "input"  # released
    assert barrier.state().action == "released"
    barrier.close_device()  # idempotent
    with pytest.raises(RuntimeError):
        barrier.open()
    # released pins can be claimed again (e.g. the gate process restarting its devices)
    Barrier(OPEN_PIN, CLOSE_PIN, pin_factory=factory).close_device()


def test_bad_arguments_are_clear_errors(factory):
    with pytest.raises(ValueError, match="pulse_s"):
        Barrier(OPEN_PIN, pulse_s=0, pin_factory=factory)
    with pytest.raises(ValueError, match="differ"):
        Barrier(OPEN_PIN, OPEN_PIN, pin_factory=factory)


def test_make_pin_factory():
    assert isinstance(make_pin_factory("mock"), MockFactory)
    assert isinstance(make_pin_factory(" Mock "), MockFactory)
    with pytest.raises(ValueError, match=r"unknown pin factory 'gpio9'.*lgpio"):
        make_pin_factory("gpio9")


def test_make_pin_factory_none_honours_environment(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert isinstance(make_pin_factory(None), MockFactory)
