"""Load run: concurrent tenants submitting the registration form to `menwei web` (waitress).

What it measures: the latency of the public form POST (validate, encrypt three fields,
one durable SQLite transaction with audit + outbox rows, redirect) against the production
WSGI server on loopback, with N tenants at once. Each simulated tenant does what a phone
does: GET the form (cookie + CSRF token), then POST it. Baseline in the same run: the
same submissions one at a time (concurrency 1), and the GET of the form page.

Target: p95 <= 200 ms at 50 concurrent on 2 cores.

    .venv/bin/python bench/registry.py [--concurrency 50] [--per-tenant 4]

Only 127.0.0.1 is contacted; the server is a child process stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.db import connect, transaction, utc_now
from edge.web.accounts import create_user
from qr_registry.documents import check_char
from qr_registry.rooms import add_room

SERVER = """
import logging, sys
logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # queueing is what we measure
from waitress import serve
from edge.config import load_config
from edge.web.app import create_app
config = load_config(__import__("pathlib").Path(sys.argv[1]))
serve(create_app(config), host="127.0.0.1", port=config.web.port, threads=config.web.threads,
      ident="menwei", _quiet=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def person(n: int) -> dict[str, str]:
    born = date(1960, 1, 1) + timedelta(days=n // 1000)  # unique number for every n
    first17 = f"320102{born:%Y%m%d}{n % 1000:03d}"
    return {
        "name": "测试租户",
        "doc_type": "resident_id",
        "doc_number": first17 + check_char(first17),
        "sex": "M" if n % 2 else "F",
        "birth_date": born.isoformat(),
        "ethnicity": "汉族",
        "phone": f"138{n:08d}",
        "hukou_address": "江苏省南京市玄武区某路1号",
        "occupation": "工程师",
        "relation": "tenant",
        "move_in_date": utc_now().date().isoformat(),
        "expected_until": "2027-12-31",
        "consent": "yes",
    }


class Tenant:
    """One phone: its own keep-alive connection and cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text


def run(port: int, paths: list[str], concurrency: int, per_tenant: int, start_n: int) -> dict:
    get_ms: list[float] = []
    post_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency)

    def tenant(index: int) -> None:
        client = Tenant(port)
        barrier.wait()
        for k in range(per_tenant):
            n = start_n + index * per_tenant + k
            path = paths[n % len(paths)]
            try:
                t0 = time.perf_counter()
                status, page = client.request("GET", path)
                t1 = time.perf_counter()
                token = re.search(r'name="csrf_token" value="([^"]+)"', page)
                if status != 200 or token is None:
                    raise RuntimeError(f"GET {status}")
                body = urllib.parse.urlencode({**person(n), "csrf_token": token.group(1)})
                t2 = time.perf_counter()
                status, _ = client.request("POST", path, body)
                t3 = time.perf_counter()
                if status != 303:
                    raise RuntimeError(f"POST {status}")
                with lock:
                    get_ms.append((t1 - t0) * 1000)
                    post_ms.append((t3 - t2) * 1000)
            except Exception as exc:  # count every failure, keep going
                with lock:
                    errors.append(str(exc))
                client = Tenant(port)

    threads = [threading.Thread(target=tenant, args=(i,)) for i in range(concurrency)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    return {"get": get_ms, "post": post_ms, "errors": errors, "wall": wall}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(label: str, result: dict) -> None:
    post, get = result["post"], result["get"]
    rate = len(post) / result["wall"] if result["wall"] else 0
    print(
        f"{label:<28} submissions {len(post):4d}  errors {len(result['errors']):3d}  "
        f"POST p50 {pct(post, 0.5):7.1f} ms  p95 {pct(post, 0.95):7.1f} ms  "
        f"max {max(post, default=float('nan')):7.1f} ms  | GET p50 {pct(get, 0.5):6.1f} ms  "
        f"p95 {pct(get, 0.95):6.1f} ms  | {rate:5.1f} submissions/s"
    )
    if result["errors"]:
        print("   first errors:", result["errors"][:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--per-tenant", type=int, default=6)
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "menwei.toml"
        config.write_text(
            f'[storage]\ndata_dir = "{tmp}/data"\n[security]\npii_key_file = "{tmp}/pii.key"\n'
            f"[web]\nport = {port}\nthreads = {args.threads}\nsecure_cookies = false\n"
            "[registry]\npublic_submissions_per_minute = 100000\npending_per_room = 100\n"
            "submissions_per_sticker_per_day = 1000\n",
            encoding="utf-8",
        )
        db = connect(Path(tmp) / "data" / "menwei.db")
        with transaction(db) as conn:
            landlord = create_user(conn, "bench", "bench-password", "landlord", utc_now())
            rooms = [
                add_room(conn, "压测小区", f"{b}幢", "1单元", f"{r:03d}", landlord.id, utc_now())
                for b in range(1, 6)
                for r in range(101, 121)
            ]
        db.conn.close()
        paths = [f"/r/{room.token}" for room in rooms]
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(config)])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            cores = len(os.sched_getaffinity(0))
            print(f"machine: {platform.machine()}, {cores} cores; waitress threads {args.threads}")
            run(port, paths, 4, 2, 900_000)  # warm-up (imports, first compile of templates)
            report("baseline: 1 tenant at a time", run(port, paths, 1, 40, 0))
            total = args.concurrency * args.per_tenant
            report(
                f"{args.concurrency} concurrent tenants",
                run(port, paths, args.concurrency, args.per_tenant, 10_000),
            )
            print(f"(target: POST p95 <= 200 ms at 50 concurrent; {total} submissions)")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
