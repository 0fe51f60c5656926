"""Door lock and door alarms on gpiozero mock pins: every alarm, the fire release, fail modes.

A loaded CI box stretches sleeps and fires timers late (never early), so a "not yet" is only
asserted when the clock shows the window really was shorter than the timeout it tests; the
relay pin's history and the time each event was emitted carry the timing checks.
"""

from __future__ import annotations

import time

import pytest

from gate_drivers.door import Door, DoorLock
from gate_drivers.inputs import DebouncedInput

LOCK, CONTACT, EXIT, FIRE = 17, 22, 23, 24
EARLY_S = 0.005  # a timer never fires early: only clock rounding
LATE_S = 0.15  # ... but on a loaded box it may fire this much late


def wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def make_door(pin_factory, fail_mode="fail_safe", release_s=0.3, held_open_s=0.4):
    """The door and its events as ``(kind, details, time.monotonic() when emitted)``."""
    events: list[tuple[str, dict, float]] = []
    lock = DoorLock(LOCK, fail_mode, release_s, active_high=True, pin_factory=pin_factory)
    door = Door(
        lock,
        lambda kind, details: events.append((kind, details, time.monotonic())),
        contact=DebouncedInput(CONTACT, pin_factory, debounce_s=0.01, name="contact"),
        exit_button=DebouncedInput(EXIT, pin_factory, debounce_s=0.01, name="exit"),
        fire_alarm=DebouncedInput(FIRE, pin_factory, debounce_s=0.01, name="fire"),
        held_open_s=held_open_s,
        grace_s=0.2,
    )
    return door, events


def kinds(events):
    return [k for k, *_ in events]


def emitted_at(events, kind: str) -> float:
    return next(at for k, _, at in events if k == kind)


def levels(pin) -> list[bool]:
    return [change.state for change in pin.states]


@pytest.mark.parametrize(
    ("mode", "energised_when_locked"), [("fail_safe", True), ("fail_secure", False)]
)
def test_relay_level_means_locked_according_to_the_fail_mode(
    pin_factory, mode, energised_when_locked
):
    door, _ = make_door(pin_factory, fail_mode=mode)
    relay = pin_factory.pin(LOCK)
    assert door.lock.is_locked and relay.state == energised_when_locked
    relay.clear_states()
    started = time.monotonic()
    door.grant("face")
    locked, level = door.lock.is_locked, relay.state
    if time.monotonic() - started < door.lock.release_s:  # before the release could end
        assert not locked and level == (not energised_when_locked)
    assert wait_for(lambda: door.lock.is_locked)  # held for release_s, then locked again
    assert relay.state == energised_when_locked
    locked_level = energised_when_locked
    assert levels(relay) == [locked_level, not locked_level, locked_level], "released once"
    door.close()
    assert pin_factory.pin(LOCK).state is False  # relay off on shutdown


def test_a_second_grant_restarts_the_release(pin_factory):
    release_s = 0.3
    for _attempt in range(3):
        door, _ = make_door(pin_factory, release_s=release_s)
        relay = pin_factory.pin(LOCK)  # fail-safe, active high: high = locked
        relay.clear_states()
        first_before = time.monotonic()
        door.grant("face")
        first_after = time.monotonic()
        time.sleep(0.1)
        second_before = time.monotonic()
        door.grant("pin")
        second_after = time.monotonic()
        if second_after - first_before < release_s:
            break  # the second grant surely came while the first release was on
        door.close()  # the machine stalled past the first release: try again
    else:
        pytest.fail("could not grant twice within one release in 3 attempts")
    # just after the first release would have ended, and (if measured so) before the second
    time.sleep(max(0.0, first_after + release_s + 0.05 - time.monotonic()))
    locked = door.lock.is_locked
    if time.monotonic() < second_before + release_s:
        assert not locked, "the first grant's timer must not end the restarted release"
    assert wait_for(lambda: door.lock.is_locked)
    assert levels(relay) == [True, False, True], "one continuous release"
    released_s = relay.states[2].timestamp
    assert released_s >= second_before - first_after + release_s - EARLY_S, "restarted"
    assert released_s <= second_after - first_before + release_s + LATE_S, "not stacked"
    door.close()


def test_door_opened_without_a_grant_is_forced(pin_factory):
    door, events = make_door(pin_factory)
    pin_factory.pin(CONTACT).drive_low()  # contact: door open
    assert wait_for(lambda: "door_forced" in kinds(events))
    pin_factory.pin(CONTACT).drive_high()
    door.close()


def test_door_opened_after_a_grant_is_not_forced(pin_factory):
    door, events = make_door(pin_factory, held_open_s=5)
    door.grant("face")
    pin_factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: door.is_open)
    time.sleep(0.1)
    pin_factory.pin(CONTACT).drive_high()
    assert wait_for(lambda: not door.is_open)
    assert "door_forced" not in kinds(events)
    # once the release and grace are over, opening again is forced
    assert wait_for(lambda: door.lock.is_locked)
    time.sleep(0.25)
    pin_factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: "door_forced" in kinds(events))
    door.close()


def test_exit_button_releases_the_lock_and_is_recorded(pin_factory):
    door, events = make_door(pin_factory)
    relay = pin_factory.pin(LOCK)  # fail-safe, active high: low = released
    relay.clear_states()
    pin_factory.pin(EXIT).drive_low()
    assert wait_for(lambda: "exit_button" in kinds(events))
    assert levels(relay)[:2] == [True, False], "the press released the lock"
    pin_factory.pin(EXIT).drive_high()
    pin_factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: door.is_open)
    pin_factory.pin(CONTACT).drive_high()
    # the contact's callbacks run in order: once it reads closed, the opening was judged
    assert wait_for(lambda: not door.is_open)
    assert "door_forced" not in kinds(events)
    door.close()


def test_door_held_open_alarm_after_n_seconds_and_closed_after(pin_factory):
    door, events = make_door(pin_factory, held_open_s=0.4)
    door.grant("face")
    opened_before = time.monotonic()
    pin_factory.pin(CONTACT).drive_low()
    time.sleep(0.2)
    seen = kinds(events)
    if time.monotonic() - opened_before < door.held_open_s:  # too early for the alarm
        assert "door_held_open" not in seen
    assert wait_for(lambda: "door_held_open" in kinds(events))
    held_s = emitted_at(events, "door_held_open") - opened_before
    assert held_s >= door.held_open_s, "held-open reported before held_open_s"
    time.sleep(0.2)
    assert kinds(events).count("door_held_open") == 1  # once per opening
    pin_factory.pin(CONTACT).drive_high()
    assert wait_for(lambda: "door_closed" in kinds(events))
    door.close()


def test_fire_alarm_releases_and_keeps_released_while_active(pin_factory):
    door, events = make_door(pin_factory, release_s=0.1)
    pin_factory.pin(FIRE).drive_low()
    assert wait_for(lambda: "fire_alarm" in kinds(events))
    assert not door.lock.is_locked
    door.grant("face")  # a grant ending during the alarm must not re-lock
    time.sleep(0.3)
    assert not door.lock.is_locked
    pin_factory.pin(CONTACT).drive_low()  # people leaving: not forced
    assert wait_for(lambda: door.is_open)
    pin_factory.pin(CONTACT).drive_high()
    assert wait_for(lambda: not door.is_open)  # so the opening has been judged
    assert "door_forced" not in kinds(events)
    pin_factory.pin(FIRE).drive_high()
    assert wait_for(lambda: "fire_alarm_cleared" in kinds(events))
    assert wait_for(lambda: door.lock.is_locked)  # (a late grant timer may still be due)
    door.close()


def test_fire_alarm_already_active_at_start_releases_at_once(pin_factory):
    fire = DebouncedInput(FIRE, pin_factory, debounce_s=0.01, name="fire")
    pin_factory.pin(FIRE).drive_low()
    assert wait_for(lambda: fire.is_active)
    events: list = []
    lock = DoorLock(LOCK, "fail_safe", 0.3, active_high=True, pin_factory=pin_factory)
    door = Door(lock, lambda kind, details: events.append(kind), fire_alarm=fire)
    assert not door.lock.is_locked and events == ["fire_alarm"]
    door.close()


def test_bad_lock_settings_are_refused(pin_factory):
    with pytest.raises(ValueError):
        DoorLock(LOCK, "fail_open", 1.0, pin_factory=pin_factory)
    with pytest.raises(ValueError):
        DoorLock(LOCK, "fail_safe", 0, pin_factory=pin_factory)
