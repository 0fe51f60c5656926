"""Helper process for the SIGKILL tests: starts real `menwei` processes quickly.

Importing Menwei (OpenCV, ONNX Runtime, Flask, ...) takes seconds on a loaded 2-core
machine, more than a gate's own start-up; fifty restarts would spend most of their time
importing. So this process imports the command line once and then, for each line on stdin
(JSON: ``{"output": FILE, "argv": ["gate", "east", "-c", CONFIG]}``), forks: the child is
the process systemd starts — it runs ``menwei ARGV...`` through the same click entry point
(``menwei gate``: config checks, store opening, spool, last good copy, models, relays,
keypad, camera, loop; ``menwei hub serve`` / ``hub link`` alike) — with its stdout and
stderr in FILE. The child's pid is printed; the test SIGKILLs it. Children are reaped
automatically (SIGCHLD ignored), so a killed process's pid vanishes.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import cv2  # noqa: F401  (imported before any fork: the children share the warm modules)

from edge.cli.main import main
from edge.gates import assembly  # noqa: F401
from sync.community import hub, link  # noqa: F401


def run_child(argv: list[str], output: str) -> None:
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        main(argv, standalone_mode=True)
    finally:
        os._exit(1)


def serve() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("READY", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run_child([str(a) for a in request["argv"]], str(request["output"]))
        print(pid, flush=True)


if __name__ == "__main__":
    serve()
