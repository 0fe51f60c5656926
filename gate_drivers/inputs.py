"""Dry-contact inputs with our own debouncing: the vehicle loop, and the door's exit button,
contact and fire alarm (gate_drivers.door), all on ``DebouncedInput``.

Why our own debounce: gpiozero's ``bounce_time`` is applied by the pin library, differs
between lgpio / RPi.GPIO, and is ignored entirely by mock pins, so a debounce the gate relies
on (a loop detector relay chattering as a car's axle crosses it) would go untested. Here a
change counts only once the raw level has held for ``debounce_s``; shorter chatter produces no
callback. One small thread per input waits for that hold time, so callbacks never run inside
the pin library's own callback thread and a slow or failing callback cannot block edges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

log = logging.getLogger(__name__)

Callback = Callable[[], None]


class DebouncedInput:
    """A contact input whose ``is_active`` changes only after holding for ``debounce_s``.

    ``active_low=True`` means the contact closes the pin to ground (an internal pull-up holds
    it high when open), which is how almost every relay output of a loop detector, exit
    button or fire panel is wired to a Pi. ``normally_closed=True`` is for contacts that are
    closed in the normal state and *open* for the event (a fire panel's supervised output):
    then a cut wire reads as active, which is the safe reading for an alarm.
    ``name`` is for logs only (e.g. "vehicle loop").
    """

    def __init__(
        self,
        pin: int,
        pin_factory: Factory | None = None,
        active_low: bool = True,
        debounce_s: float = 0.05,
        name: str = "input",
        normally_closed: bool = False,
    ) -> None:
        if not debounce_s >= 0:
            raise ValueError(f"debounce_s must be >= 0 seconds, got {debounce_s!r}")
        self.name = name
        self.debounce_s = float(debounce_s)
        self.when_activated: Callback | None = None
        self.when_deactivated: Callback | None = None
        self._cond = threading.Condition()
        self._device = DigitalInputDevice(
            pin, pull_up=active_low, bounce_time=None, pin_factory=pin_factory
        )
        self._raw = bool(self._device.value) != normally_closed
        self._stable = self._raw
        self._deadline: float | None = None  # when the current raw level will have held long enough
        self._changed_at: datetime | None = None
        self._closed = False
        self._device.when_activated = lambda: self._on_edge(not normally_closed)
        self._device.when_deactivated = lambda: self._on_edge(normally_closed)
        self._thread = threading.Thread(target=self._run, name=f"debounce-{name}", daemon=True)
        self._thread.start()

    # -- reading ----------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        """The debounced level: True while the contact is (steadily) closed."""
        with self._cond:
            return self._stable

    @property
    def last_change_at(self) -> datetime | None:
        """UTC time the debounced level last changed (None if not since start-up)."""
        with self._cond:
            return self._changed_at

    # -- debouncing -------------------------------------------------------------------------
    def _on_edge(self, level: bool) -> None:
        with self._cond:
            self._raw = level
            self._deadline = time.monotonic() + self.debounce_s
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    self._deadline is None or time.monotonic() < self._deadline
                ):
                    timeout = None if self._deadline is None else self._deadline - time.monotonic()
                    self._cond.wait(timeout)
                if self._closed:
                    return
                self._deadline = None
                if self._raw == self._stable:
                    continue  # chatter that settled back where it was: not a change
                self._stable = self._raw
                self._changed_at = datetime.now(UTC)
                callback = self.when_activated if self._stable else self.when_deactivated
                level = self._stable
            log.debug("%s: %s", self.name, "active" if level else "inactive")
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception("%s: callback failed (input keeps working)", self.name)

    # -- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the debounce thread and release the pin. Safe to call more than once."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._device.when_activated = None
        self._device.when_deactivated = None
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)
        self._device.close()

    def __enter__(self) -> DebouncedInput:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class VehicleLoop(DebouncedInput):
    """An inductive vehicle-loop detector's relay contact: closed while a car is over the loop.

    ``when_arrived`` / ``when_left`` are the debounced edges; ``is_occupied`` the level.
    """

    def __init__(
        self,
        pin: int,
        pin_factory: Factory | None = None,
        active_low: bool = True,
        debounce_s: float = 0.05,
    ) -> None:
        super().__init__(pin, pin_factory, active_low, debounce_s, name="vehicle loop")

    @property
    def is_occupied(self) -> bool:
        return self.is_active

    @property
    def when_arrived(self) -> Callback | None:
        return self.when_activated

    @when_arrived.setter
    def when_arrived(self, callback: Callback | None) -> None:
        self.when_activated = callback

    @property
    def when_left(self) -> Callback | None:
        return self.when_deactivated

    @when_left.setter
    def when_left(self, callback: Callback | None) -> None:
        self.when_deactivated = callback
