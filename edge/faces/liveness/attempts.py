"""What a door remembers about faces that failed liveness: repeated attempts, and the PIN it
may ask for instead.

Why repeated attempts change the door: one refused face can be a resident the camera doubted;
several within a minute at one door is someone trying pictures until one passes. From the
``repeat_count``-th attempt within ``window_s`` the door raises a stronger alert and slows
its face path — after each further attempt no face is judged for ``slow_s`` seconds (doubled
per attempt, at most ``max_slow_s``) — so trying one picture after another takes minutes,
not seconds. The PIN and QR passes are not slowed: a resident is never locked out by an
attacker at their door. The slowing ends when ``window_s`` passes without an attempt.

Why a PIN window: at a door with ``liveness = "required_or_pin"``, a face that identified a
resident but failed liveness is asked for that resident's PIN on the keypad. For ``pin_s``
seconds a bare PIN entry is checked against that resident alone (the face said who; the PIN
proves it), and only once: the window closes on the first entry, right or wrong.

Pure state, no clock of its own (times are passed in): the gate calls it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class SpoofAttempts:
    window_s: float = 60.0
    repeat_count: int = 3
    slow_s: float = 10.0
    max_slow_s: float = 120.0
    _times: list[datetime] = field(default_factory=list)
    _paused_until: datetime | None = None

    def record(self, at: datetime) -> int:
        """Count an attempt at ``at``; returns how many fell within the window (this one
        included). From ``repeat_count`` on, the face path pauses after each one."""
        window = timedelta(seconds=self.window_s)
        self._times = [t for t in self._times if at - t <= window] + [at]
        count = len(self._times)
        if count >= self.repeat_count:
            doublings = count - self.repeat_count
            pause = min(self.max_slow_s, self.slow_s * 2**doublings)
            self._paused_until = at + timedelta(seconds=pause)
        return count

    def repeated(self, count: int) -> bool:
        return count >= self.repeat_count

    def face_paused(self, at: datetime) -> bool:
        """True while the face path of this door must not judge faces."""
        return self._paused_until is not None and at < self._paused_until

    def paused_until(self) -> datetime | None:
        return self._paused_until


@dataclass(frozen=True)
class PinRequest:
    resident_id: int
    event_id: str  # the face_spoof_suspected event that asked for it
    until: datetime


class PinWindow:
    """The one PIN a door is waiting for after a doubted face (at most one at a time)."""

    def __init__(self, pin_s: float) -> None:
        self.pin_s = pin_s
        self._open: PinRequest | None = None

    def ask(self, resident_id: int, event_id: str, at: datetime) -> PinRequest:
        self._open = PinRequest(resident_id, event_id, at + timedelta(seconds=self.pin_s))
        return self._open

    def take(self, at: datetime) -> PinRequest | None:
        """The open request if still in time; closes it either way (one entry per ask)."""
        request, self._open = self._open, None
        if request is None or at > request.until:
            return None
        return request

    def waiting(self, at: datetime) -> PinRequest | None:
        request = self._open
        return request if request is not None and at <= request.until else None
