"""What every real-browser test shares: Debian's Chromium, its flags, the skip where it is
missing, and the app served by waitress on loopback.

The server binds port 0 itself and reports the port it got: picking a free port first and
binding it later leaves a window in which another process can take it.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian chromium not installed (scripts/setup.sh installs it)",
)


def launch(playwright):  # type: ignore[no-untyped-def]
    """Headless Debian Chromium under Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


@contextlib.contextmanager
def served(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve ``app`` with waitress (4 threads, as on the box) on 127.0.0.1; yields the base URL."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(5)


def watch_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """A list that fills with the page's console errors and any HTTP response >= 400: a
    test ends by asserting it is empty, so a broken asset or script cannot pass unseen."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return problems
