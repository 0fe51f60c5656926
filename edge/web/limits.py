"""Bounds on what an anonymous visitor can make the box do: counters and the password gate.

Why: one argon2id verification costs 64 MiB and tens of milliseconds of a core (far more
on a Pi); if every failed login cost one on any of the web threads, a flood of made-up
usernames would starve the guards' consoles. So a login is refused *before* any hash
when the address, the username at that address or the whole box is past its failure
budget, and the hashes that do run pass through a :class:`PasswordGate` with one or two
slots and a short queue: past the queue the answer is an immediate 429, so a flood can
hold at most ``slots + queue`` web threads and the consoles keep the rest.

Why the counters live in process memory and not in SQLite: ``menwei web`` is one waitress
process per box (threads, never forked workers), so one in-process store is exact for the
whole box and costs no disk write per attempt on an SD card. Each counter is bounded
(``max_keys`` per window; keys past that share one overflow bucket, which can only make
the limit stricter) and forgets by itself: it keeps two fixed windows and drops the older
one when time moves on, so a flood of one-shot keys never grows it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from edge.errors import MenweiError

OVERFLOW_KEY = "\x00overflow"


class WindowCounter:
    """Hits per key over the last ``window_s`` seconds, estimated from two fixed windows.

    The estimate is the current window's count plus the previous window's count weighted by
    how much of it still overlaps the sliding window (the "sliding window counter"). O(1)
    per call; memory at most ``2 * (max_keys + 1)`` entries whatever the traffic.
    """

    def __init__(
        self,
        window_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0 or max_keys < 1:
            raise ValueError("a counter needs a positive window and room for one key")
        self.window_s = float(window_s)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._index = self._window_index()
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}

    def _window_index(self) -> int:
        return int(self._clock() // self.window_s)

    def _roll(self) -> float:
        """Move to the window ``now`` is in; returns the weight of the previous window."""
        now = self._clock()
        index = int(now // self.window_s)
        if index != self._index:
            self._previous = self._current if index == self._index + 1 else {}
            self._current = {}
            self._index = index
        return 1.0 - (now - index * self.window_s) / self.window_s

    def _slot(self, key: str) -> str:
        if key in self._current or len(self._current) < self.max_keys:
            return key
        return OVERFLOW_KEY

    def count(self, key: str) -> float:
        with self._lock:
            weight = self._roll()
            known = key in self._current or key in self._previous
            if not known and len(self._current) >= self.max_keys:
                key = OVERFLOW_KEY  # where this key's hits are being counted
            return self._current.get(key, 0) + self._previous.get(key, 0) * weight

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._roll()
            slot = self._slot(key)
            self._current[slot] = self._current.get(slot, 0) + n

    def holds(self, key: str) -> bool:
        """Was ``key`` itself counted in the current or previous window (never overflow)?"""
        with self._lock:
            self._roll()
            return key in self._current or key in self._previous

    def forget(self, key: str) -> None:
        with self._lock:
            self._current.pop(key, None)
            self._previous.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            self._roll()
            return len(self._current) + len(self._previous)


class GateBusy(MenweiError):
    """Every password slot is taken and the queue is full (answer 429 at once)."""


class PasswordGate:
    """At most ``slots`` password hashes at a time, ``queue`` more waiting, the rest refused.

    A caller that waits longer than ``wait_s`` for a slot is refused too, so a waiting web
    thread is never held for long. ``busy()`` is a context manager around the hash.
    """

    def __init__(self, slots: int = 1, queue: int = 1, wait_s: float = 5.0) -> None:
        if slots < 1 or queue < 0:
            raise ValueError("a password gate needs at least one slot")
        self.slots = slots
        self.queue = queue
        self.wait_s = wait_s
        self._semaphore = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._inside = 0  # running + waiting
        self.refused = 0

    def full(self) -> bool:
        """Would a caller be refused right now (every slot and queue place taken)?"""
        with self._lock:
            return self._inside >= self.slots + self.queue

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            if self._inside >= self.slots + self.queue:
                self.refused += 1
                raise GateBusy
            self._inside += 1
        try:
            if not self._semaphore.acquire(timeout=self.wait_s):
                with self._lock:
                    self.refused += 1
                raise GateBusy
            try:
                yield
            finally:
                self._semaphore.release()
        finally:
            with self._lock:
                self._inside -= 1


class _LoginSettings(Protocol):
    login_max_failures: int
    login_max_failures_per_address: int
    login_max_failures_total: int
    login_window_s: int


def login_limits(web: _LoginSettings) -> LoginLimits:
    """The throttle's budgets from the ``[web]`` config section."""
    return LoginLimits(
        web.login_max_failures,
        web.login_max_failures_per_address,
        web.login_max_failures_total,
        float(web.login_window_s),
    )


@dataclass(frozen=True)
class LoginLimits:
    """Failure budgets per window: one username at one address, one address, the box."""

    per_user_address: int = 5
    per_address: int = 20
    global_failures: int = 200
    window_s: float = 300.0


class LoginThrottle:
    """Decides, before any hash, whether a login attempt may go ahead.

    Three failure counters, none of which needs the username to exist: ``user|address``
    (someone guessing one account), ``address`` (one machine trying many usernames — a fresh
    username per try is still counted), and the whole box (many machines). Past the box's
    budget only addresses where somebody logged in successfully in the last day may still
    try, so a distributed flood cannot lock the guards' tablets out of the console.
    """

    def __init__(
        self,
        limits: LoginLimits,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._by_user = WindowCounter(limits.window_s, max_keys, clock)
        self._by_address = WindowCounter(limits.window_s, max_keys, clock)
        self._box = WindowCounter(limits.window_s, 1, clock)
        self._trusted = WindowCounter(86_400.0, 1_000, clock)

    @staticmethod
    def _user_key(username: str, address: str) -> str:
        return f"{username.strip().lower()[:64]}|{address}"

    def refusal(self, username: str, address: str) -> str | None:
        """Why this attempt is refused now (``user``, ``address``, ``box``), or None."""
        if self._by_user.count(self._user_key(username, address)) >= self.limits.per_user_address:
            return "user"
        return self.address_refusal(address)

    def address_refusal(self, address: str) -> str | None:
        """The checks that need no username (``address``, ``box``): cheap enough to run
        before the request body is read."""
        limits = self.limits
        if self._by_address.count(address) >= limits.per_address:
            return "address"
        box_full = self._box.count("box") >= limits.global_failures
        if box_full and not self._trusted.holds(address):
            return "box"
        return None

    def failed(self, username: str, address: str) -> None:
        self._by_user.add(self._user_key(username, address))
        self._by_address.add(address)
        self._box.add("box")

    def succeeded(self, username: str, address: str) -> None:
        self._by_user.forget(self._user_key(username, address))
        self._trusted.add(address)

    def size(self) -> int:
        """Entries held by every counter together (bounded whatever the traffic)."""
        return len(self._by_user) + len(self._by_address) + len(self._box) + len(self._trusted)
