"""systemd notification (``Type=notify``) and the watchdog ping, without a dependency.

The protocol is one datagram per message to the socket named in ``NOTIFY_SOCKET``
(sd_notify(3)); outside systemd the variable is unset and every call is a no-op, so the
same code runs in a terminal, in tests and under systemd.

Why the ping comes from the service's *main loop* and not from a timer thread: a timer
thread keeps pinging while the loop is stuck (a hung camera read, a dead-locked decision),
and systemd would never restart the one thing that needs it. The loop calls
:meth:`Watchdog.alive` every iteration; a busy loop still iterates (each iteration is
bounded: a frame read waits at most half a second), a hung one stops pinging.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

log = logging.getLogger(__name__)


def _socket_address(raw: str) -> str | bytes:
    """``@name`` is an abstract socket (leading NUL); anything else is a path."""
    return b"\0" + raw[1:].encode() if raw.startswith("@") else raw


def notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Send one sd_notify message; False (and no error) when not under systemd."""
    raw = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not raw:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            # A datagram send blocks while the receiver's queue is full; a service must
            # never hang on a notification, so give up (and log) after a second.
            sock.settimeout(1.0)
            sock.connect(_socket_address(raw))
            sock.sendall(message.encode())
    except OSError as exc:  # systemd gone or socket unreachable: never kill the service
        log.warning("sd_notify failed: %s", exc)
        return False
    return True


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Half of ``WATCHDOG_USEC`` (the margin sd_watchdog_enabled(3) recommends), or None.

    ``WATCHDOG_PID``, when set, must be this process, or the watchdog is another's.
    """
    env = environ if environ is not None else os.environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid.isascii() and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 / 2 if value > 0 else None


class Watchdog:
    """Rate-limited ``WATCHDOG=1`` pings from the loop that must prove it is alive."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = dict(environ if environ is not None else os.environ)
        self.interval_s = watchdog_interval_s(self._environ)
        self._last = 0.0
        self.pings = 0
        # The loop pings from its own thread while the main thread announces shutdown: the
        # lock keeps a ping from slipping in after STOPPING=1, and none are sent after it.
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None and bool(self._environ.get("NOTIFY_SOCKET"))

    def ready(self, status: str = "") -> None:
        notify("READY=1" + (f"\nSTATUS={status}" if status else ""), self._environ)

    def status(self, text: str) -> None:
        notify(f"STATUS={text}", self._environ)

    def stopping(self) -> None:
        """Announce shutdown; the loop's pings end here (its last iterations prove nothing)."""
        with self._lock:
            self._stopping = True
            notify("STOPPING=1", self._environ)

    def alive(self) -> None:
        """Call every loop iteration; pings at most once per interval."""
        interval_s = self.interval_s
        if interval_s is None or not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if self._stopping or now - self._last < interval_s / 2:
                return
            if notify("WATCHDOG=1", self._environ):
                self.pings += 1
            self._last = now
