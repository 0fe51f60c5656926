"""tests/helpers.serving_process: a port found free can be taken by another process before
the server binds it (a parallel test worker); the server is then started again on another
port instead of failing the test, and a server that fails otherwise still fails it."""

from __future__ import annotations

import socket
import sys

import helpers
import pytest

SERVER = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('serving', s.getsockname()[1], flush=True)\n"
    "s.accept()\n"
)


def test_a_port_taken_in_between_is_chosen_again(monkeypatch) -> None:
    with socket.socket() as thief:  # takes the port after it was found free
        thief.bind(("127.0.0.1", 0))
        thief.listen()
        taken = thief.getsockname()[1]
        ports = iter([taken])
        found_free = helpers.free_port
        monkeypatch.setattr(helpers, "free_port", lambda: next(ports, None) or found_free())
        tried: list[int] = []

        def command(port: int) -> list[str]:
            tried.append(port)
            return [sys.executable, "-c", SERVER, str(port)]

        server = helpers.serving_process(command, lambda s: f"serving {s.port}" in s.output())
        try:
            assert tried[0] == taken and len(tried) == 2 and server.port == tried[1] != taken
            assert server.proc.poll() is None
        finally:
            server.stop()


def test_a_server_failing_for_another_reason_fails_at_once() -> None:
    tried: list[int] = []

    def command(port: int) -> list[str]:
        tried.append(port)
        return [sys.executable, "-c", "raise SystemExit('no config')"]

    with pytest.raises(AssertionError, match="no config"):
        helpers.serving_process(command, lambda s: False)
    assert len(tried) == 1
