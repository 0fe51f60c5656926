"""A keypad that delivers lines of text: serial keypads, Wiegand-to-serial readers, a FIFO.

Why lines from a file-like device and not key events: the keypads and Wiegand converters
sold for door controllers present themselves either as a serial port (``/dev/ttyUSB0``,
one line per entry) or, via a tiny bridge, as a FIFO; both are "bytes until Enter". Reading
them needs no extra library, and the same code is tested against a real FIFO.

Each entry ends with Enter (``\\n`` or ``\\r``) or ``#`` (the Enter key of most door keypads).
Overlong entries (a stuck key, line noise) are dropped whole instead of growing a buffer.
Entries are handed to ``on_line`` on this driver's own thread; they may hold a PIN, so they
are never logged here.

Robust to the device coming and going: a missing or unreadable device is retried every
``retry_s`` (logged once per new problem), a FIFO whose writer went away is simply kept open
(we hold it read-write, so there is no end-of-file to spin on), and ``close()`` stops the
thread within about half a second. A serial port is put in raw mode (no echo, no line
editing); its speed is the device's setting (``stty -F /dev/ttyUSB0 9600``, or a udev rule).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import termios
import threading
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_ENTRY_CHARS = 32
_TERMINATORS = frozenset(b"\n\r#")


class LineKeypad:
    """Reads entries from ``source`` on a thread and calls ``on_line(entry)`` for each."""

    def __init__(
        self,
        source: Path,
        on_line: Callable[[str], object],
        retry_s: float = 2.0,
        name: str = "keypad",
    ) -> None:
        self.source = Path(source)
        self.on_line = on_line
        self.retry_s = retry_s
        self.name = name
        self.entries = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-reader", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._thread.is_alive() and self.last_error is None

    # -- the reader thread ------------------------------------------------------------------
    def _open(self) -> int:
        info = os.stat(self.source)
        # A FIFO opened read-write never reports end-of-file when a writer closes it, and
        # opening it never blocks waiting for a writer.
        flags = os.O_RDWR if stat.S_ISFIFO(info.st_mode) else os.O_RDONLY
        fd = os.open(self.source, flags | os.O_NONBLOCK | os.O_NOCTTY)
        if os.isatty(fd):  # a serial keypad: bytes as they come, no echo back to the device
            with contextlib.suppress(termios.error):
                tty.setraw(fd)
        return fd

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                fd = self._open()
            except OSError as exc:
                self._problem(f"cannot open {self.source}: {exc.strerror}")
                self._stop.wait(self.retry_s)
                continue
            if self.last_error is not None:
                log.info("%s: %s open again", self.name, self.source)
            self.last_error = None
            try:
                self._read_entries(fd)
            except OSError as exc:
                self._problem(f"reading {self.source} failed: {exc.strerror}")
                self._stop.wait(self.retry_s)
            finally:
                os.close(fd)

    def _read_entries(self, fd: int) -> None:
        buffer = bytearray()
        overlong = False
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 256)
            except BlockingIOError:
                continue
            if not chunk:  # end of a plain file or a serial device gone: wait, then go on
                self._stop.wait(0.2)
                continue
            for byte in chunk:
                if byte in _TERMINATORS:
                    if buffer and not overlong:
                        self._deliver(buffer.decode("ascii", errors="replace").strip())
                    buffer.clear()
                    overlong = False
                elif len(buffer) >= MAX_ENTRY_CHARS:
                    if not overlong:
                        self.dropped += 1
                        log.warning(
                            "%s: entry longer than %d characters dropped",
                            self.name,
                            MAX_ENTRY_CHARS,
                        )
                    overlong = True
                else:
                    buffer.append(byte)

    def _deliver(self, entry: str) -> None:
        if not entry:
            return
        self.entries += 1
        try:
            self.on_line(entry)
        except Exception:  # the keypad keeps working whatever the handler does
            log.exception("%s: entry handler failed", self.name)

    def _problem(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s: %s (retrying every %gs)", self.name, message, self.retry_s)
        self.last_error = message

    # -- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop reading; safe to call more than once."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def __enter__(self) -> LineKeypad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(Exception):
            self.close()
