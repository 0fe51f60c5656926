"""Door lock and door alarms on gpiozero mock pins: every alarm, the fire release, fail modes."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory

from gate_drivers.door import Door, DoorLock
from gate_drivers.inputs import DebouncedInput

LOCK, CONTACT, EXIT, FIRE = 17, 22, 23, 24


def wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


def make_door(factory, fail_mode="fail_safe", release_s=0.3, held_open_s=0.4):
    events: list[tuple[str, dict]] = []
    lock = DoorLock(LOCK, fail_mode, release_s, active_high=True, pin_factory=factory)
    door = Door(
        lock,
        lambda kind, details: events.append((kind, details)),
        contact=DebouncedInput(CONTACT, factory, debounce_s=0.01, name="contact"),
        exit_button=DebouncedInput(EXIT, factory, debounce_s=0.01, name="exit"),
        fire_alarm=DebouncedInput(FIRE, factory, debounce_s=0.01, name="fire"),
        held_open_s=held_open_s,
        grace_s=0.2,
    )
    return door, events


def kinds(events):
    return [k for k, _ in events]


@pytest.mark.parametrize(
    ("mode", "energised_when_locked"), [("fail_safe", True), ("fail_secure", False)]
)
def test_relay_level_means_locked_according_to_the_fail_mode(factory, mode, energised_when_locked):
    door, _ = make_door(factory, fail_mode=mode)
    relay = factory.pin(LOCK)
    assert door.lock.is_locked and relay.state == energised_when_locked
    door.grant("face")
    assert not door.lock.is_locked and relay.state == (not energised_when_locked)
    assert wait_for(lambda: door.lock.is_locked)  # held for release_s, then locked again
    assert relay.state == energised_when_locked
    door.close()
    assert factory.pin(LOCK).state is False  # relay off on shutdown


def test_a_second_grant_restarts_the_release(factory):
    door, _ = make_door(factory, release_s=0.3)
    door.grant("face")
    time.sleep(0.2)
    door.grant("pin")
    time.sleep(0.2)
    assert not door.lock.is_locked  # 0.4 s after the first grant, still released
    assert wait_for(lambda: door.lock.is_locked)
    door.close()


def test_door_opened_without_a_grant_is_forced(factory):
    door, events = make_door(factory)
    factory.pin(CONTACT).drive_low()  # contact: door open
    assert wait_for(lambda: "door_forced" in kinds(events))
    factory.pin(CONTACT).drive_high()
    door.close()


def test_door_opened_after_a_grant_is_not_forced(factory):
    door, events = make_door(factory, held_open_s=5)
    door.grant("face")
    factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: door.is_open)
    time.sleep(0.1)
    factory.pin(CONTACT).drive_high()
    assert wait_for(lambda: not door.is_open)
    assert "door_forced" not in kinds(events)
    # once the release and grace are over, opening again is forced
    assert wait_for(lambda: door.lock.is_locked)
    time.sleep(0.25)
    factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: "door_forced" in kinds(events))
    door.close()


def test_exit_button_releases_the_lock_and_is_recorded(factory):
    door, events = make_door(factory)
    factory.pin(EXIT).drive_low()
    assert wait_for(lambda: "exit_button" in kinds(events))
    assert not door.lock.is_locked
    factory.pin(EXIT).drive_high()
    factory.pin(CONTACT).drive_low()
    assert wait_for(lambda: door.is_open)
    time.sleep(0.05)
    assert "door_forced" not in kinds(events)
    door.close()


def test_door_held_open_alarm_after_n_seconds_and_closed_after(factory):
    door, events = make_door(factory, held_open_s=0.4)
    door.grant("face")
    factory.pin(CONTACT).drive_low()
    time.sleep(0.2)
    assert "door_held_open" not in kinds(events)
    assert wait_for(lambda: "door_held_open" in kinds(events))
    time.sleep(0.2)
    assert kinds(events).count("door_held_open") == 1  # once per opening
    factory.pin(CONTACT).drive_high()
    assert wait_for(lambda: "door_closed" in kinds(events))
    door.close()


def test_fire_alarm_releases_and_keeps_released_while_active(factory):
    door, events = make_door(factory, release_s=0.1)
    factory.pin(FIRE).drive_low()
    assert wait_for(lambda: "fire_alarm" in kinds(events))
    assert not door.lock.is_locked
    door.grant("face")  # a grant ending during the alarm must not re-lock
    time.sleep(0.3)
    assert not door.lock.is_locked
    factory.pin(CONTACT).drive_low()  # people leaving: not forced
    time.sleep(0.1)
    assert "door_forced" not in kinds(events)
    factory.pin(CONTACT).drive_high()
    factory.pin(FIRE).drive_high()
    assert wait_for(lambda: "fire_alarm_cleared" in kinds(events))
    assert door.lock.is_locked
    door.close()


def test_fire_alarm_already_active_at_start_releases_at_once(factory):
    fire = DebouncedInput(FIRE, factory, debounce_s=0.01, name="fire")
    factory.pin(FIRE).drive_low()
    assert wait_for(lambda: fire.is_active)
    events: list = []
    lock = DoorLock(LOCK, "fail_safe", 0.3, active_high=True, pin_factory=factory)
    door = Door(lock, lambda kind, details: events.append(kind), fire_alarm=fire)
    assert not door.lock.is_locked and events == ["fire_alarm"]
    door.close()


def test_bad_lock_settings_are_refused(factory):
    with pytest.raises(ValueError):
        DoorLock(LOCK, "fail_open", 1.0, pin_factory=factory)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DoorLock(LOCK, "fail_safe", 0, pin_factory=factory)
