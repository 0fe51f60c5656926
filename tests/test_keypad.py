"""The line keypad driver on a real FIFO: entries, Enter/# terminators, writers coming and
going, overlong entries dropped, a missing device retried, and a prompt stop."""

from __future__ import annotations

import os
import threading
import time

from gate_drivers.keypad import MAX_ENTRY_CHARS, LineKeypad


def wait_for(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def write(path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)  # like a bridge process: open, write, close
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_entries_from_a_fifo_with_enter_and_hash(tmp_path):
    fifo = tmp_path / "keypad.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    with LineKeypad(fifo, got.append, retry_s=0.1) as keypad:
        write(fifo, b"12*654321\n")
        assert wait_for(lambda: got == ["12*654321"])
        write(fifo, b"3*11")  # a writer may deliver an entry in pieces, and go away between
        write(fifo, b"2233#\r\n\n7*98765432\r")
        assert wait_for(lambda: len(got) == 3)
        assert got == ["12*654321", "3*112233", "7*98765432"]
        assert keypad.entries == 3 and keypad.last_error is None


def test_overlong_entry_is_dropped_whole_and_reading_goes_on(tmp_path):
    fifo = tmp_path / "keypad.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    with LineKeypad(fifo, got.append) as keypad:
        write(fifo, b"1" * (MAX_ENTRY_CHARS * 3) + b"\n5*123987\n")
        assert wait_for(lambda: got == ["5*123987"])
        assert keypad.dropped == 1


def test_handler_errors_do_not_stop_the_keypad(tmp_path):
    fifo = tmp_path / "keypad.fifo"
    os.mkfifo(fifo)
    got: list[str] = []

    def handler(entry: str) -> None:
        got.append(entry)
        if entry == "boom":
            raise RuntimeError("handler bug")

    with LineKeypad(fifo, handler):
        write(fifo, b"boom\n1*123987\n")
        assert wait_for(lambda: got == ["boom", "1*123987"])


def test_missing_device_is_retried_until_it_appears(tmp_path):
    fifo = tmp_path / "late.fifo"
    got: list[str] = []
    with LineKeypad(fifo, got.append, retry_s=0.05) as keypad:
        assert wait_for(lambda: keypad.last_error is not None)
        assert "cannot open" in keypad.last_error
        os.mkfifo(fifo)
        assert wait_for(lambda: keypad.last_error is None)
        write(fifo, b"4*246810\n")
        assert wait_for(lambda: got == ["4*246810"])


def test_close_is_prompt_while_waiting_for_input(tmp_path):
    fifo = tmp_path / "keypad.fifo"
    os.mkfifo(fifo)
    keypad = LineKeypad(fifo, lambda _: None)
    time.sleep(0.1)
    started = time.monotonic()
    keypad.close()
    assert time.monotonic() - started < 1.5
    assert not any(t.name == "keypad-reader" for t in threading.enumerate())
