"""A pedestrian door: the lock relay, and a watch over exit button, door contact and fire alarm.

Two kinds of lock, and why the relay meaning flips between them:
- ``fail_safe`` (magnetic lock): power holds the door shut, so the relay is *energised while
  locked*. Lose power, or stop this process, and the door opens: required on escape routes.
- ``fail_secure`` (electric strike): power releases the latch, so the relay is *energised
  while unlocked*; without power it stays locked (stores, plant rooms).
Either way ``DoorLock`` speaks "locked / released"; only it knows which relay level that is.

The door state machine (``Door``) turns inputs into alarms, each reported once through
``on_event(kind, details)``:
- ``door_forced``: the contact opens while no grant, exit-button press or fire alarm allows it;
- ``door_held_open``: open longer than ``held_open_s`` (and ``door_closed`` when it shuts again);
- ``fire_alarm`` / ``fire_alarm_cleared``: the fire input releases the lock and keeps it
  released while active — grants ending, or the software asking, cannot re-lock it;
- ``exit_button``: a press releases the lock like a grant.
Nothing here knows residents or the database; the gate loop records the events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory

from gate_drivers.inputs import DebouncedInput

log = logging.getLogger(__name__)

FailMode = Literal["fail_safe", "fail_secure"]
DoorEventCallback = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class LockState:
    locked: bool
    relay_energised: bool
    fire_hold: bool
    grants: int


class DoorLock:
    def __init__(
        self,
        relay_pin: int,
        fail_mode: FailMode = "fail_safe",
        release_s: float = 5.0,
        active_high: bool = True,
        pin_factory: Factory | None = None,
    ) -> None:
        if fail_mode not in ("fail_safe", "fail_secure"):
            raise ValueError(f"fail_mode must be fail_safe or fail_secure, got {fail_mode!r}")
        if not release_s > 0:
            raise ValueError(f"release_s must be > 0 seconds, got {release_s!r}")
        self.fail_mode = fail_mode
        self.release_s = float(release_s)
        self._lock = threading.Lock()
        self._generation = 0
        self._timer: threading.Timer | None = None
        self._granted = False
        self._fire_hold = False
        self._grants = 0
        self._closed = False
        self._relay = DigitalOutputDevice(
            relay_pin,
            active_high=active_high,
            initial_value=self._energised_when(locked=True),
            pin_factory=pin_factory,
        )

    def _energised_when(self, locked: bool) -> bool:
        return locked if self.fail_mode == "fail_safe" else not locked

    def _apply_locked(self) -> None:
        locked = not (self._granted or self._fire_hold)
        self._relay.value = self._energised_when(locked)

    def grant(self) -> None:
        """Release for ``release_s`` from now (a second grant restarts, never shortens)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("door lock relay was released by close()")
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._granted = True
            self._grants += 1
            self._apply_locked()
            timer = threading.Timer(self.release_s, self._end_grant, args=(self._generation,))
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _end_grant(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or self._closed:
                return
            self._granted = False
            self._timer = None
            self._apply_locked()

    def set_fire_hold(self, active: bool) -> None:
        """While active the lock stays released whatever grants do."""
        with self._lock:
            self._fire_hold = active
            if not self._closed:
                self._apply_locked()

    @property
    def is_locked(self) -> bool:
        return self.state().locked

    def state(self) -> LockState:
        with self._lock:
            energised = bool(self._relay.value) if not self._closed else False
            return LockState(
                locked=not (self._granted or self._fire_hold),
                relay_energised=energised,
                fire_hold=self._fire_hold,
                grants=self._grants,
            )

    def close(self) -> None:
        """Relay off and pin released: fail-safe doors open, fail-secure doors stay locked."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._relay.off()
            self._relay.close()


def rest_lock_relay(relay_pin: int, active_high: bool, pin_factory: Factory | None) -> None:
    """Put a lock relay at rest (de-energised) and release the pin, without a running gate.

    For ``menwei relays-safe`` after a crash: the relay then means what a power cut means —
    a fail-safe lock released, a fail-secure strike locked — the same state
    ``DoorLock.close`` leaves. No ``DoorLock`` is built, because building one would
    first drive the relay to its *locked* level for a moment.
    """
    relay = DigitalOutputDevice(
        relay_pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
    )
    relay.off()
    relay.close()


class Door:
    """Watches the door's inputs around a ``DoorLock`` and reports alarms (see module doc)."""

    def __init__(
        self,
        lock: DoorLock,
        on_event: DoorEventCallback,
        contact: DebouncedInput | None = None,
        exit_button: DebouncedInput | None = None,
        fire_alarm: DebouncedInput | None = None,
        held_open_s: float = 30.0,
        grace_s: float = 2.0,
    ) -> None:
        self.lock = lock
        self.on_event = on_event
        self.contact = contact
        self.exit_button = exit_button
        self.fire_alarm = fire_alarm
        self.held_open_s = held_open_s
        self.grace_s = grace_s
        self._mutex = threading.RLock()
        self._allowed_until = 0.0  # monotonic: a door opening before this is authorised
        self._opened_at: float | None = None
        self._held_reported = False
        self._stop = threading.Event()
        if contact is not None:
            contact.when_activated = self._door_opened
            contact.when_deactivated = self._door_closed
            if contact.is_active:
                self._opened_at = time.monotonic()
        if exit_button is not None:
            exit_button.when_activated = self._exit_pressed
        if fire_alarm is not None:
            fire_alarm.when_activated = self._fire_on
            fire_alarm.when_deactivated = self._fire_off
            if fire_alarm.is_active:
                self._fire_on()
        self._thread = threading.Thread(target=self._watch, name="door-watch", daemon=True)
        self._thread.start()

    # -- what the gate does -----------------------------------------------------------------
    def grant(self, source: str) -> None:
        """Unlock for a decided passage; the door may open until the release ends + grace."""
        with self._mutex:
            self._allowed_until = time.monotonic() + self.lock.release_s + self.grace_s
        self.lock.grant()
        log.debug("door: granted (%s)", source)

    @property
    def is_open(self) -> bool:
        return bool(self.contact and self.contact.is_active)

    @property
    def fire_active(self) -> bool:
        return bool(self.fire_alarm and self.fire_alarm.is_active)

    # -- inputs -------------------------------------------------------------------------------
    def _emit(self, kind: str, **details: Any) -> None:
        try:
            self.on_event(kind, details)
        except Exception:
            log.exception("door: event handler failed for %s (door keeps working)", kind)

    def _exit_pressed(self) -> None:
        self.grant("exit_button")
        self._emit("exit_button")

    def _door_opened(self) -> None:
        with self._mutex:
            self._opened_at = time.monotonic()
            self._held_reported = False
            authorised = self.fire_active or time.monotonic() <= self._allowed_until
        if not authorised:
            self._emit("door_forced")

    def _door_closed(self) -> None:
        with self._mutex:
            opened, held = self._opened_at, self._held_reported
            self._opened_at = None
            self._held_reported = False
        if held and opened is not None:
            self._emit("door_closed", open_s=round(time.monotonic() - opened, 1))

    def _fire_on(self) -> None:
        self.lock.set_fire_hold(True)
        self._emit("fire_alarm")

    def _fire_off(self) -> None:
        self.lock.set_fire_hold(False)
        self._emit("fire_alarm_cleared")

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            with self._mutex:
                opened = self._opened_at
                due = (
                    opened is not None
                    and not self._held_reported
                    and not self.fire_active
                    and time.monotonic() - opened >= self.held_open_s
                )
                if due:
                    self._held_reported = True
            if due:
                self._emit("door_held_open", held_open_s=self.held_open_s)

    def close(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)
        for device in (self.contact, self.exit_button, self.fire_alarm):
            if device is not None:
                device.close()
        self.lock.close()
