"""A barrier arm driven by pulsed relays (one OPEN contact, optionally one CLOSE contact).

Barrier controllers in Chinese car parks take a dry-contact *pulse*: close the OPEN input for
a fraction of a second and the controller raises the arm, then lowers it itself when its
own loop sees the car gone. So this device never *holds* a relay: it pulses, and the
safe state (nothing energised) is where it starts, returns after every pulse, and is left
on shutdown.

Why timers and a lock: the gate loop must not stall for the pulse length, and commands
come from two threads (the gate loop and the web's manual-open command), so every change
of relay state happens under one lock, and OPEN and CLOSE are never energised together.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from gpiozero import DigitalOutputDevice
from gpiozero.pins import Factory

log = logging.getLogger(__name__)

Action = Literal["idle", "opening", "lowering", "released"]


@dataclass(frozen=True)
class BarrierState:
    """A snapshot for health pages: what the relays are doing right now."""

    action: Action
    open_energised: bool
    close_energised: bool
    has_close_relay: bool
    pulses: int
    last_command: Literal["open", "lower"] | None
    last_command_at: datetime | None


class Barrier:
    """Pulse the OPEN (and, if wired, CLOSE) relay of a barrier controller.

        ``active_high=False`` is for the common opto-isolated relay boards that energise on a
        low pin. ``open()`` during an OPEN pulse restarts the pulse from now (it never stacks
        or shortens it); ``open()`` during a CLOSE pulse ends CLOSE first, and ``lower()`` during
    an OPEN pulse ends OPEN first. ``close()`` releases the device, as everywhere in gpiozero.
    """

    def __init__(
        self,
        open_pin: int,
        close_pin: int | None = None,
        pulse_s: float = 0.5,
        active_high: bool = True,
        pin_factory: Factory | None = None,
    ) -> None:
        if not pulse_s > 0:
            raise ValueError(f"pulse_s must be > 0 seconds, got {pulse_s!r}")
        if close_pin is not None and close_pin == open_pin:
            raise ValueError(f"open_pin and close_pin must differ (both {open_pin})")
        self.pulse_s = float(pulse_s)
        self._lock = threading.Lock()
        self._generation = 0  # bumped on every command; a stale timer sees it and does nothing
        self._timer: threading.Timer | None = None
        self._action: Action = "idle"
        self._pulses = 0
        self._last_command: Literal["open", "lower"] | None = None
        self._last_command_at: datetime | None = None
        self._open = DigitalOutputDevice(
            open_pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        self._close: DigitalOutputDevice | None = None
        if close_pin is not None:
            try:
                self._close = DigitalOutputDevice(
                    close_pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
                )
            except Exception:
                self._open.close()  # do not leak the first pin if the second is bad
                raise

    # -- commands ---------------------------------------------------------------------------
    def open(self) -> None:
        """Start (or restart) an OPEN pulse and return at once."""
        self._pulse("open")

    def lower(self) -> None:
        """Start a CLOSE pulse (the arm goes down) if a CLOSE relay is wired; always cancels
        an OPEN pulse."""
        self._pulse("lower")

    def _pulse(self, which: Literal["open", "lower"]) -> None:
        with self._lock:
            if self._action == "released":
                raise RuntimeError("barrier relays were released by close()")
            self._cancel_timer_locked()
            other = self._close if which == "open" else self._open
            relay = self._open if which == "open" else self._close
            if other is not None:
                other.off()  # break before make: never both energised
            self._last_command = which
            self._last_command_at = datetime.now(UTC)
            if relay is None:  # lower() with no CLOSE relay: the OPEN pulse is cancelled
                self._action = "idle"
                log.info("barrier: lower requested, no CLOSE relay wired; OPEN pulse ended")
                return
            relay.on()
            self._pulses += 1
            self._action = "opening" if which == "open" else "lowering"
            generation = self._generation
            timer = threading.Timer(self.pulse_s, self._end_pulse, args=(generation,))
            timer.daemon = True
            timer.name = f"barrier-{which}-pulse"
            self._timer = timer
            timer.start()
        log.debug("barrier: %s pulse for %.2fs", which, self.pulse_s)

    def _end_pulse(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation or self._action == "released":
                return  # a newer command (or shutdown) owns the relays now
            self._all_off_locked()
            self._timer = None
            self._action = "idle"

    def _cancel_timer_locked(self) -> None:
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _all_off_locked(self) -> None:
        self._open.off()
        if self._close is not None:
            self._close.off()

    # -- health -----------------------------------------------------------------------------
    @property
    def is_pulsing(self) -> bool:
        with self._lock:
            return self._action in ("opening", "lowering")

    def state(self) -> BarrierState:
        with self._lock:
            released = self._action == "released"
            return BarrierState(
                action=self._action,
                open_energised=not released and bool(self._open.value),
                close_energised=not released
                and self._close is not None
                and bool(self._close.value),
                has_close_relay=self._close is not None,
                pulses=self._pulses,
                last_command=self._last_command,
                last_command_at=self._last_command_at,
            )

    # -- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        """De-energise both relays and release their pins (gpiozero's ``close``: the device
        is done). Safe to call more than once."""
        with self._lock:
            if self._action == "released":
                return
            self._cancel_timer_locked()
            self._all_off_locked()
            self._action = "released"
            self._open.close()
            if self._close is not None:
                self._close.close()
        log.info("barrier: relays in safe state, pins released")

    def __enter__(self) -> Barrier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
