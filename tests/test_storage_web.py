"""The web process on a full or read-only data disk: it starts, a tenant gets a clear 503 page
in their language (not a generic 500), ``/healthz`` names the fault, and the watchdog probe
still counts the process alive (a restart cannot mend a disk).

Real tmpfs mounts (the suite runs as root, as on a box; skipped where mounting is refused).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import Clock, clear_fault, csrf_of, fault_disk, mount_tmpfs, tenant_form, unmount

from edge.box.store_check import IntegrityStatus, status_path, write_status
from edge.web.app import create_app
from edge.web.server import probe
from edge.web.storage import FAULT_HEADER


@pytest.fixture
def site(tmp_path, registry_config, seed_registry) -> Iterator[tuple[object, dict, Path]]:
    data = tmp_path / "data"
    mount_tmpfs(data, "16m")
    try:
        config = registry_config(tmp_path)
        create_app(config, clock=Clock())  # migrates; the translation cache is written once
        ids = seed_registry(config, Clock()())
        yield config, ids, data
    finally:
        unmount(data)


def register(app, ids: dict, lang: str):
    client = app.test_client()
    url = f"/r/{ids['room_a1'].token}?lang={lang}"
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={**tenant_form(), "csrf_token": csrf_of(page.text)})


def test_full_disk_web_starts_and_a_tenant_gets_a_clear_503_in_their_language(site):
    config, ids, data = site
    fault_disk(data, "full")
    cache = config.storage.web_cache_dir
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.mo")}
    app = create_app(config, clock=Clock())  # starts on the full disk
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.mo")} == before  # nothing rewritten
    zh = register(app, ids, "zh")
    assert zh.status_code == 503 and zh.headers["Retry-After"] == "60"
    assert "暂时无法登记，请稍后再试" in zh.text
    en = register(app, ids, "en")
    assert en.status_code == 503 and "Registration is temporarily unavailable" in en.text
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.headers[FAULT_HEADER] == "storage"
    assert "full" in health.text
    clear_fault(data, "full")
    assert register(app, ids, "zh").status_code == 303  # registered once the disk has room
    health = app.test_client().get("/healthz")
    assert health.status_code == 503  # the last fault is still reported for a minute
    assert "OperationalError" in health.text


def test_read_only_disk_web_starts_serves_pages_and_refuses_writes_clearly(site):
    config, ids, data = site
    for mo in config.storage.web_cache_dir.rglob("*.mo"):
        mo.unlink()  # a new version whose catalogs are not cached yet
    fault_disk(data, "read-only")
    try:
        app = create_app(config, clock=Clock())
        page = app.test_client().get(f"/r/{ids['room_a1'].token}")
        assert page.status_code == 200 and "同意" in page.text  # read, and in Chinese
        refused = register(app, ids, "zh")
        assert refused.status_code == 503 and "暂时无法登记" in refused.text
        health = app.test_client().get("/healthz")
        assert health.status_code == 503 and "read-only" in health.text
    finally:
        clear_fault(data, "read-only")


def test_the_watchdog_probe_counts_a_storage_fault_alive_and_anything_else_not():
    answers = {"/healthz": (503, {FAULT_HEADER: "storage"})}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers = answers["/healthz"]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert probe(url)
        answers["/healthz"] = (503, {})
        assert not probe(url)
        answers["/healthz"] = (500, {FAULT_HEADER: "storage"})
        assert not probe(url)
    finally:
        server.shutdown()
        server.server_close()


def test_healthz_reports_damage_the_hourly_integrity_check_found(site):
    """The hourly check's result (run/integrity.json, edge.box.store_check) reaches
    monitoring: 503 with the first problems while it says damaged, 200 once sound again."""
    config, _ids, _data = site
    app = create_app(config, clock=Clock())
    assert app.test_client().get("/healthz").status_code == 200
    damaged = IntegrityStatus("2026-12-01T13:00:00.000+00:00", False, True, 1.5,
                              ("Page 5: btreeInitPage() returns error code 11",))  # fmt: skip
    write_status(status_path(config), damaged)
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and health.headers[FAULT_HEADER] == "storage"
    assert "integrity_check" in health.text and "Page 5" in health.text
    unfinished = IntegrityStatus("2026-12-01T14:00:00.000+00:00", True, False, 120.0)
    write_status(status_path(config), unfinished)  # a check cut short says nothing either way
    assert app.test_client().get("/healthz").status_code == 200
