"""Load run: guard tablets polling the live view while a guard uses the console, and the
time from a watchlist hit's commit to its banner in a real browser.

What it measures, against `menwei web` (waitress, the configured 4 threads) in its own
process on loopback, over a database of --events gate events:
- page loads a guard makes (the live view /console/ and the event search /events/), p50/p95,
  first with nobody else on the server (baseline), then while --tablets other tablets each
  poll the feed every 0.7 s as console.js does;
- the feed polls themselves under that load;
- alert latency: a `watchlist_alert` is committed the way a gate writes it
  (edge.events.record.record_event, fsynced) and the time until the banner is in the DOM of a live
  page in headless Chromium (Debian's, via Playwright) is taken, --alerts times, while the
  tablets poll. Target: an alert on the console within a second.

    .venv/bin/python bench/console_load.py [--tablets 10] [--events 50000] [--alerts 20]

Only 127.0.0.1 is contacted; the server is a child process stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from console_events import fill  # noqa: E402
from registry import SERVER, Tenant, free_port, pct  # noqa: E402

from edge.config import load_config  # noqa: E402
from edge.db import connect, transaction, utc_now  # noqa: E402
from edge.events.record import NewEvent, record_event  # noqa: E402
from edge.store.open import open_store  # noqa: E402
from edge.web.accounts import create_user  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "bench-password-1"
POLL_S = 0.7  # what console.js does while the page is visible
CONFIG = """\
[storage]
data_dir = "{tmp}/data"
[security]
pii_key_file = "{tmp}/pii.key"
[web]
port = {port}
secure_cookies = false
login_max_failures = 100
[hardware]
pin_factory = "mock"
[[gates]]
id = "north"
name = "北门车行"
kind = "vehicle"
[gates.camera]
source = "{tmp}/frames"
[gates.barrier]
open_pin = 17
[[gates]]
id = "east"
name = "东门人行"
kind = "pedestrian"
[gates.camera]
source = "{tmp}/frames"
[gates.lock]
relay_pin = 22
"""


def signed_in(port: int, username: str) -> Tenant:
    client = Tenant(port)
    _status, page = client.request("GET", "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = f"csrf_token={token}&username={username}&password={PASSWORD}"
    status, _ = client.request("POST", "/login", body)
    if status != 302:
        raise RuntimeError(f"login of {username} answered {status}")
    return client


def cursor_of(client: Tenant) -> int:
    status, text = client.request("GET", "/events/feed")
    if status != 200:
        raise RuntimeError(f"feed answered {status}")
    return json.loads(text)["cursor"]


class Tablets:
    """N tablets on the live view: each polls the feed every POLL_S on its own connection."""

    def __init__(self, port: int, count: int) -> None:
        self.clients = [signed_in(port, f"tablet{i}") for i in range(count)]
        self.poll_ms: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in self.clients]

    def _run(self, client: Tenant) -> None:
        cursor = cursor_of(client)
        self._stop.wait(random.uniform(0, POLL_S))  # tablets are not in step
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                status, text = client.request("GET", f"/events/feed?after={cursor}")
                if status != 200:
                    raise RuntimeError(f"feed {status}")
                cursor = json.loads(text)["cursor"]
                with self._lock:
                    self.poll_ms.append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # count every failure, keep polling
                with self._lock:
                    self.errors.append(str(exc))
            self._stop.wait(POLL_S)

    def __enter__(self) -> Tablets:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def page_loads(client: Tenant, repeats: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"/console/": [], "/events/": []}
    for _ in range(repeats):
        for path, values in timings.items():
            started = time.perf_counter()
            status, _ = client.request("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            values.append((time.perf_counter() - started) * 1000)
    return timings


def show(label: str, values: list[float]) -> None:
    print(
        f"{label:<52} n {len(values):4d}  p50 {pct(values, 0.5):7.1f} ms  "
        f"p95 {pct(values, 0.95):7.1f} ms  max {max(values, default=float('nan')):7.1f} ms"
    )


def alert_latency(port: int, config_path: Path, alerts: int) -> list[float]:
    """Commit watchlist alerts one by one; time each until its banner is in the page."""
    from playwright.sync_api import sync_playwright

    config = load_config(config_path)
    db = open_store(config)
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    latencies = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        base = f"http://127.0.0.1:{port}"
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "guard")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/console/")
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=10_000)
        # Playwright's own waiting polls at 100-1000 ms steps, far too coarse to time this:
        # the page notes (wall clock, same machine) when each banner enters the DOM.
        page.evaluate(
            """() => { window.bannerAt = {};
              new MutationObserver(changes => {
                for (const c of changes) for (const n of c.addedNodes)
                  if (n.dataset && n.dataset.alertId)
                    window.bannerAt[n.dataset.alertId] = Date.now();
              }).observe(document.getElementById("alerts"), {childList: true}); }"""
        )
        for n in range(alerts):
            time.sleep(random.uniform(0.3, 1.2))  # hits do not arrive in step with the poll
            event = NewEvent(
                "north", "watchlist_alert", utc_now(), "none", plate="京A88888",
                reasons=({"code": "watchlisted", "message": f"bench alert {n}"},),
            )  # fmt: skip
            stored = record_event(db, event)
            committed_ms = time.time() * 1000  # record_event returns once committed
            page.wait_for_selector(f'.alert-banner[data-alert-id="{stored.id}"]', timeout=10_000)
            latencies.append(page.evaluate(f"window.bannerAt['{stored.id}']") - committed_ms)
        browser.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tablets", type=int, default=10)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=30, help="page loads per measurement")
    parser.add_argument("--alerts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp, port = Path(folder), free_port()
        (tmp / "frames").mkdir()
        config_path = tmp / "menwei.toml"
        config_path.write_text(CONFIG.format(tmp=tmp, port=port), encoding="utf-8")
        config = load_config(config_path)
        fill(config, args.events)
        db = connect(config.storage.database_path)
        with transaction(db) as conn:
            for name in ["guard", *(f"tablet{i}" for i in range(args.tablets))]:
                create_user(conn, name, PASSWORD, "guard", utc_now())
        db.conn.close()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(config_path)])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    signed_in(port, "guard")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            cores = len(os.sched_getaffinity(0))
            print(
                f"machine: {platform.machine()}, {cores} cores; waitress threads "
                f"{config.web.threads}; {args.events} events in the database"
            )
            guard = signed_in(port, "guard")
            page_loads(guard, 3)  # warm-up: imports, template compilation
            for path, values in page_loads(guard, args.repeats).items():
                show(f"baseline: GET {path}, server otherwise idle", values)
            with Tablets(port, args.tablets) as tablets:
                time.sleep(2 * POLL_S)
                for path, values in page_loads(guard, args.repeats).items():
                    show(f"GET {path} while {args.tablets} tablets poll", values)
                latencies: list[float] = []
                if CHROMIUM.exists() and shutil.which("chromium"):
                    latencies = alert_latency(port, config_path, args.alerts)
                else:
                    print("alert latency: skipped, Debian chromium not installed")
            show(f"feed polls of {args.tablets} tablets", tablets.poll_ms)
            print(f"feed poll errors: {len(tablets.errors)} {tablets.errors[:3]}")
            if latencies:
                show(f"alert: commit -> banner in Chromium ({args.tablets} tablets)", latencies)
                print("(target: an alert on the console within 1000 ms)")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
