"""Waiting for a mock relay pin in a benchmark: the time from a request to the pin going high,
and the pin back at rest before the next request. Shared by the manual-open benchmarks
(bench/gate_control.py, bench/community_open.py); polls, since a MockPin has no event."""

from __future__ import annotations

import time
from typing import Any


def wait_high(pin: Any, started: float, limit_s: float = 10.0) -> float | None:
    """Milliseconds from ``started`` (perf_counter) until ``pin`` is high; None when it
    stays low for ``limit_s`` (the request never reached the relay)."""
    while not pin.state:
        if time.perf_counter() - started > limit_s:
            return None
        time.sleep(0.0002)
    return (time.perf_counter() - started) * 1000


def wait_low(pin: Any) -> None:
    """Until ``pin`` is back at rest (the last pulse ended)."""
    while pin.state:
        time.sleep(0.001)
