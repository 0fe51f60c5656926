"""Shared set-up, as fixtures: a fresh database, mock pins, a console app with an account
of every role, configured sites, event writers, sync boxes, the reference district
platform, real photos, a served app and Debian's Chromium.

Fixtures that tests need with arguments (a console with a resident, a site with a given
rate limit) are factories: the fixture returns a function, and what it builds is torn down
with the fixture's scope. Plain functions to read pages and build inputs are in
``helpers.py``.

Hypothesis's default 200 ms deadline per example turns a descheduled test thread or a
garbage collection in a process holding the recognition models into a "flaky" failure on a
loaded CI machine. Speed is measured in bench/, never in unit tests, so examples have no
deadline here.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner, Result
from gpiozero.pins.mock import MockFactory
from helpers import (
    FACES,
    GATE,
    PASSWORD,
    SECRET,
    USERS,
    Clock,
    pending,
    picture,
    read_face_labels,
    write_secret,
)
from hypothesis import settings

from edge import audit
from edge.cli.main import main
from edge.config import MenweiConfig, load_config, parse_config
from edge.db import connect, iso, transaction
from edge.events.record import NewEvent, StoredEvent, record_event
from edge.people.residents import insert_resident
from edge.pii import create_key_file
from edge.store.open import open_store, snapshot_store
from edge.store.snapshots import SnapshotStore
from edge.web import accounts
from edge.web.accounts import create_user, hash_password
from edge.web.app import create_app
from qr_registry.rooms import add_room
from sync.reference_platform import ReferencePlatform

settings.register_profile("menwei", deadline=None)
settings.load_profile("menwei")


# -- side by side (pytest-xdist) ------------------------------------------------------------
# scripts/test.sh runs the suite on one pytest-xdist worker per core. A test marked
# ``alone`` measures the latency of a box under a load it makes itself (hostile clients, a
# login flood): a second test beside it on a 2-core machine would be measured too. It runs
# with every other worker paused between tests: each test holds a shared lock on one file
# of the run while it runs; an ``alone`` test holds it exclusively. Everyone first passes a
# turnstile, so a waiting ``alone`` test is not starved by the other workers' next tests.
def _run_lock_paths(config: pytest.Config) -> tuple[Path, Path] | None:
    """The turnstile and the lock of this run, in the folder that holds every worker's
    basetemp (xdist gives each worker ``<run's folder>/<worker id>``)."""
    if not hasattr(config, "workerinput") or not config.option.basetemp:
        return None  # not a local xdist worker: one test at a time anyway
    folder = Path(config.option.basetemp).parent
    return folder / "side-by-side.turnstile", folder / "side-by-side.lock"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    paths = _run_lock_paths(item.config)
    if paths is None:
        yield
        return
    alone = item.get_closest_marker("alone") is not None
    with open(paths[0], "a") as turnstile, open(paths[1], "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(turnstile, fcntl.LOCK_UN)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(autouse=True)
def audit_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test's process writes audit rows with one test audit key, unless the code under
    test points the process at its config's key (create_app and the CLI do)."""
    path = tmp_path_factory.getbasetemp() / "audit-key" / "audit.key"
    audit.use_key_file(path)
    return path


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line and the demo speak the POSIX locale's language: every test reads
    English unless it sets ``LANG=zh_CN.UTF-8`` itself, whatever the developer's shell has."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


# -- the database and the pins --------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    """A fresh, migrated database file of the test's own (sqlite-utils' ``fresh_db``)."""
    database = connect(tmp_path / "menwei.db")
    yield database
    database.conn.close()


@pytest.fixture
def pin_factory() -> Iterator[MockFactory]:
    """gpiozero's mock pins, the only stand-in for hardware; reset after the test."""
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def clock() -> Clock:
    """2025-06-01 02:00 UTC (10:00 in Asia/Shanghai), moved by hand with ``advance``."""
    return Clock()


# -- real photos ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def face_labels() -> dict[str, str]:
    """file name -> identity of ../shared/fixtures/faces (read in place, never copied);
    skips the test when the photos are absent."""
    if not (FACES / "labels.tsv").is_file():
        pytest.skip(f"real face fixtures not present at {FACES} (../shared is absent)")
    return read_face_labels(FACES)


# -- accounts -------------------------------------------------------------------------------
@functools.cache
def _account_hash(password: str, words: tuple[str, ...]) -> str:
    return hash_password(password, words)


@contextlib.contextmanager
def reused_account_hashes() -> Iterator[None]:
    """Accounts created inside get the argon2id hash this process made the first time for the
    same password and username: a genuine hash with the production parameters, its salt
    shared by the tests' databases. The fixtures below seed five or six accounts per test,
    always the same names and password; hashing each afresh (64 MiB, ~0.1 s of a core)
    cost minutes over the suite. Logins still verify them for real, and the accounts a test
    makes itself are hashed as usual."""

    def cached(password: str, words: tuple[str, ...] = ()) -> str:
        return _account_hash(password, tuple(words))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hash_password", cached)
        yield


# -- sites ----------------------------------------------------------------------------------
def _registry_config(tmp: Path, **registry: object) -> MenweiConfig:
    return parse_config(
        {
            "storage": {"data_dir": str(tmp / "data")},
            "security": {"pii_key_file": str(tmp / "keys" / "pii.key")},
            "web": {"secure_cookies": False},
            "registry": {"base_url": "http://127.0.0.1:8080", **registry},
        }
    )


@pytest.fixture(scope="session")
def registry_config() -> Callable[..., MenweiConfig]:
    """``registry_config(tmp, **[registry] keys)``: a site without gates, for the web app."""
    return _registry_config


@pytest.fixture(scope="session")
def seed_registry() -> Callable[[MenweiConfig, datetime], dict]:
    """``seed_registry(config, now)``: accounts of every registry role and two landlords
    with rooms in one building; returns their ids by name."""

    def seed(config: MenweiConfig, now: datetime) -> dict:
        db = connect(config.storage.database_path)
        ids: dict = {}
        with reused_account_hashes(), transaction(db) as conn:
            for name, role in [
                ("admin", "admin"), ("landlord_a", "landlord"), ("landlord_b", "landlord"),
                ("police", "police"), ("grid", "grid"),
            ]:  # fmt: skip
                ids[name] = create_user(conn, name, PASSWORD, role, now).id
            for key, unit, room, landlord in (
                ("room_a1", "1单元", "401", "landlord_a"),
                ("room_a2", "1单元", "402", "landlord_a"),
                ("room_b", "2单元", "101", "landlord_b"),
            ):
                ids[key] = add_room(conn, "幸福小区", "3幢", unit, room, ids[landlord], now)
        db.conn.close()
        return ids

    return seed


def build_gate_config(tmp: Path) -> MenweiConfig:
    """A site with ``north`` (vehicle, barrier relay on GPIO 17) and ``east`` (pedestrian,
    lock relay on GPIO 22), both on a folder camera of one frame."""
    frames = tmp / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(frames / "0.jpg"), np.full((720, 1280, 3), 90, np.uint8))
    return parse_config(
        {
            "storage": {"data_dir": str(tmp / "data")},
            "security": {"pii_key_file": str(tmp / "keys" / "pii.key")},
            "web": {"secure_cookies": False},
            "registry": {"base_url": "http://127.0.0.1:8080"},
            "hardware": {"pin_factory": "mock"},
            "gates": [
                {
                    "id": "north",
                    "name": "北门车行",
                    "kind": "vehicle",
                    "camera": {"source": str(frames), "replay_fps": 5},
                    "barrier": {"open_pin": 17, "active_high": True, "pulse_s": 0.3},
                },
                {
                    "id": "east",
                    "name": "东门人行",
                    "kind": "pedestrian",
                    "camera": {"source": str(frames)},
                    "lock": {"relay_pin": 22},
                },
            ],
        }
    )


@pytest.fixture(scope="session")
def gate_config() -> Callable[[Path], MenweiConfig]:
    """``gate_config(tmp)``: see :func:`build_gate_config` (the benchmarks call it directly)."""
    return build_gate_config


# -- the console ----------------------------------------------------------------------------
def build_console_env(
    tmp: Path,
    clock: Callable[[], datetime] | None = None,
    config: MenweiConfig | None = None,
    resident_household: str | None = None,
) -> dict:
    """The web app on a real SQLite file with one account of every role
    (``helpers.USERS``); returns a dict of app, config, clock, account ids and resident id.

    The ``resident`` account is a resident's own: only with ``resident_household``, where a
    resident (``env["resident_id"]``) is added for it, so other tests' counts stay as they are.
    """
    clock = clock or Clock()
    config = config or _registry_config(tmp)
    app = create_app(config, clock=clock)
    db = connect(config.storage.database_path)
    resident_id = None
    with reused_account_hashes(), transaction(db) as conn:
        ids = {
            role: create_user(conn, name, PASSWORD, role, clock()).id
            for role, name in USERS.items()
            if role != "resident"
        }
        if resident_household is not None:
            vault = app.extensions["menwei"].vault
            resident_id = insert_resident(
                conn, vault, "周晓", resident_household, "residents", clock()
            )
            user = create_user(
                conn, USERS["resident"], PASSWORD, "resident", clock(), resident_id=resident_id
            )
            ids["resident"] = user.id
    db.conn.close()
    return {
        "app": app,
        "config": config,
        "clock": clock,
        "ids": ids,
        "resident_id": resident_id,
    }


@pytest.fixture(scope="session")
def console_env() -> Callable[..., dict]:
    """``console_env(tmp, clock=None, config=None, resident_household=None)``: see
    :func:`build_console_env` (the benchmarks call it directly)."""
    return build_console_env


class EventRecorder:
    """Writes events into the config's database exactly as a gate process would."""

    def __init__(self, config: MenweiConfig) -> None:
        self.config = config
        self.db = open_store(config)  # registers the configured gates
        self.snapshots = snapshot_store(config)

    def write(
        self,
        at: datetime,
        kind: str = "vehicle_passage",
        gate: str = "north",
        decision: str = "deny",
        plate: str | None = None,
        subject: str | None = None,
        reasons: tuple[dict[str, str], ...] = (),
        details: dict | None = None,
        confidence: float | None = None,
        snapshot: bool = False,
        linked: tuple[NewEvent, ...] = (),
    ) -> StoredEvent:
        event = NewEvent(
            gate,
            kind,
            at,
            decision,
            plate=plate,
            subject=subject,
            confidence=confidence,
            reasons=reasons or ({"code": kind, "message": f"{kind} at {gate}"},),
            details=details or {},
        )
        image = picture(len(plate or subject or kind)) if snapshot else None
        return record_event(self.db, event, image, self.snapshots, linked)

    def close(self) -> None:
        self.db.conn.close()


@pytest.fixture(scope="session")
def event_recorder() -> Iterator[Callable[[MenweiConfig], EventRecorder]]:
    """``event_recorder(config)``: writes events (with snapshots on request) the way the
    gate does, through edge.events.record.record_event."""
    made: list[EventRecorder] = []

    def build(config: MenweiConfig) -> EventRecorder:
        made.append(EventRecorder(config))
        return made[-1]

    yield build
    for recorder in made:
        recorder.close()


# -- district sync --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def box_config() -> Callable[..., MenweiConfig]:
    """``box_config(folder, url, **[sync] keys)``: a box connected to the platform at ``url``
    (fast back-off for tests), its secret file written beside it."""

    def build(folder: Path, url: str, **sync: object) -> MenweiConfig:
        write_secret(folder)
        data = {
            "storage": {"data_dir": str(folder / "data")},
            "sync": {
                "platform_url": url,
                "device_id": "box-1",
                "secret_file": str(folder / "sync.secret"),
                "batch_size": 50,
                "backoff_initial_s": 0.01,
                "backoff_max_s": 0.05,
                "idle_poll_s": 0.02,
                "read_timeout_s": 1.0,
                **sync,
            },
        }
        return parse_config(data, str(folder / "menwei.toml"))

    return build


def build_box(
    path: Path,
    events: int,
    start: datetime | None = None,
    snapshots: SnapshotStore | None = None,
    fast: bool = True,
) -> sqlite_utils.Database:
    """``build_box(path, events, start=None, snapshots=None, fast=True)``: a box database with
    ``events`` recorded gate events (plates cycle through a few)."""
    db = connect(path)
    db.conn.execute(
        "INSERT OR IGNORE INTO gates (id, name, kind, updated_at) VALUES (?, 'Gate', 'vehicle', ?)",
        (GATE, iso(datetime.now(UTC))),
    )
    if fast:  # filling a fixture, not testing durability: skip the per-commit fsync
        db.conn.execute("PRAGMA synchronous = OFF")
    start = start or datetime(2026, 5, 1, 8, tzinfo=UTC)
    frame = np.full((48, 64, 3), 128, np.uint8) if snapshots else None
    for i in range(events):
        record_event(
            db,
            NewEvent(
                GATE,
                "vehicle_passage",
                start + timedelta(milliseconds=i),
                "open",
                plate=f"皖A{i % 100000:05d}",
                confidence=0.95,
                details={"colour": "blue"},
            ),
            snapshot=frame,
            snapshots=snapshots,
        )
    db.conn.execute("PRAGMA synchronous = FULL")
    return db


@pytest.fixture(scope="session")
def make_box() -> Callable[..., sqlite_utils.Database]:
    """``make_box(path, events, start=None, snapshots=None, fast=True)``: see
    :func:`build_box` (the benchmarks call it directly)."""
    return build_box


@pytest.fixture
def reference_platform() -> Iterator[Callable[..., ReferencePlatform]]:
    """``reference_platform(db_path, **options)``: the reference district platform on 127.0.0.1
    (the tests' shared secret unless ``secret=`` is given), stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(*args: Any, **options: Any) -> ReferencePlatform:
            options.setdefault("secret", SECRET)
            return stack.enter_context(ReferencePlatform(*args, **options))

        yield start


class SyncProcess:
    """``menwei sync -c config_path`` as real processes, one at a time (see ``sync_process``)."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from edge.cli.main import main; main()", "sync", "-c",
             str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def kill_while_sending(
        self, receipts: Callable[[], int], rng: random.Random, wait_s: float = 120
    ) -> bool:
        """Start it, wait until the platform's ``receipts()`` move (it is sending; ``wait_s``
        bounds a process that never sends, not a slow start on a loaded machine), SIGKILL it
        a random 0-150 ms later. True when it had been sending."""
        before = receipts()
        proc = self.start()
        deadline = time.monotonic() + wait_s
        while receipts() == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        return receipts() > before

    def drain_and_stop(self, box: sqlite_utils.Database, wait_s: float, stop_s: float) -> None:
        """A clean run until ``box`` holds nothing pending (at most ``wait_s``), then SIGTERM:
        it must exit 0 within ``stop_s``."""
        proc = self.start()
        deadline = time.monotonic() + wait_s
        while pending(box) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(stop_s) == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""


@pytest.fixture
def sync_process() -> Iterator[Callable[[Path], SyncProcess]]:
    """``sync_process(config_path)``: start, SIGKILL-while-sending and drain ``menwei sync``
    as real processes; any still running when the test ends is killed."""
    made: list[SyncProcess] = []

    def build(config_path: Path) -> SyncProcess:
        made.append(SyncProcess(config_path))
        return made[-1]

    yield build
    for runner in made:
        for proc in runner.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if proc.stderr:
                proc.stderr.close()


# -- a site for the CLI -------------------------------------------------------------------
CLI_CONFIG = """
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
"""


class CliSite:
    """A configured site folder (``data/`` and a PII key) and ``menwei`` run on it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "menwei.toml"
        self.config.write_text(CLI_CONFIG, encoding="utf-8")
        create_key_file(folder / "pii.key")

    def run(self, *args: str, input: str | None = None) -> Result:
        """``menwei ARGS -c menwei.toml`` through click's CliRunner."""
        return CliRunner().invoke(main, [*args, "-c", str(self.config)], input=input)

    def db(self) -> sqlite_utils.Database:
        """The site's store, opened as the CLI opens it (the caller closes it)."""
        return open_store(load_config(self.config))

    def count(self, table: str) -> int:
        db = self.db()
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            db.conn.close()


@pytest.fixture
def cli_site(tmp_path: Path) -> CliSite:
    """A site in ``tmp_path`` with a PII key, and ``cli_site.run(...)`` for the CLI."""
    return CliSite(tmp_path)


# -- a served app and a real browser --------------------------------------------------------
@contextlib.contextmanager
def _served(app: Any) -> Iterator[str]:
    """Serve ``app`` with waitress (4 threads, as on the box) on 127.0.0.1; yields the base
    URL. The server binds port 0 itself and reports the port it got: picking a free port
    first and binding it later leaves a window in which another process can take it."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(5)


@pytest.fixture(scope="session")
def served() -> Callable[[Any], contextlib.AbstractContextManager[str]]:
    """``with served(app) as base_url:`` the app behind waitress on loopback."""
    return _served


@pytest.fixture(scope="session")
def launch_chromium() -> Callable[[Any], Any]:
    """``launch_chromium(playwright)``: headless Debian Chromium under Playwright (never
    ``playwright install``); skips the test where it is not installed."""
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium not installed (scripts/setup.sh installs it)")

    def launch(playwright: Any) -> Any:
        return playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )

    return launch
