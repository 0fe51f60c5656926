"""Helper process for test_storage_sigkill: starts real `menwei gate` processes quickly.

Importing Menwei (OpenCV, ONNX Runtime, Flask, ...) takes seconds on a loaded 2-core
machine, more than the gate's own start-up; fifty restarts would spend most of their time
importing. So this process imports the command line once and then, for each ``start``
line on stdin, forks: the child is a gate process like the one systemd starts — it runs
``menwei gate GATE -c CONFIG`` through the same click entry point (config checks, store
opening, spool, last good copy, models, relays, keypad, camera, loop) — with its stdout
and stderr in the file named on the line. The child's pid is printed; the test SIGKILLs
it. Children are reaped automatically (SIGCHLD ignored), so a killed gate's pid vanishes.
"""

from __future__ import annotations

import os
import signal
import sys

import cv2  # noqa: F401  (imported before any fork: the children share the warm modules)

from edge.cli.main import main
from edge.gates import assembly  # noqa: F401


def run_child(gate: str, config: str, output: str) -> None:
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        main(["gate", gate, "-c", config], standalone_mode=True)
    finally:
        os._exit(1)


def serve() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("READY", flush=True)
    for line in sys.stdin:
        command, gate, config, output = line.split()
        assert command == "start"
        pid = os.fork()
        if pid == 0:
            run_child(gate, config, output)
        print(pid, flush=True)


if __name__ == "__main__":
    serve()
