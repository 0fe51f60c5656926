"""Plain functions and values the tests share: reading a page (CSRF token, form nonce, QR
code), building an input (an ID number, a tenant form, a frame) and reading rows back.

Nothing here sets anything up — no app, database, pins or browser; that is what the
fixtures in ``conftest.py`` are for. ``serving_process`` starts a server process on a free
port (the caller stops it), because the port has to be picked again when it is taken.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner
from openpyxl import Workbook

from edge.cli.main import main as menwei_cli
from edge.faces.detector import FaceDetector
from edge.faces.images import read_image_file
from edge.faces.liveness import synthetic
from edge.people.workbook import SHEETS
from edge.web.accounts import ROLES
from qr_registry.documents import check_char
from qr_registry.registrations import open_person

PASSWORD = "correct-horse-9"
USERS = {role: f"{role}1" for role in ROLES}  # one console account per role: admin1, ...
SECRET = b"test-secret-0123456789"  # the sync tests' shared secret with the platform
GATE = "g1"  # the gate of the sync tests' box databases
FACES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "faces"


@dataclass
class Clock:
    """A clock a test moves by hand (``create_app(clock=...)``, library calls' ``now``)."""

    moment: datetime = field(default_factory=lambda: datetime(2025, 6, 1, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


# -- pages ----------------------------------------------------------------------------------
def initialised_config(tmp_path: Path) -> Path:
    """`menwei init`'s own config, made to run here: data under the test's folder, mock pins
    (the CLI tests read the config an installer starts from, not one written by hand)."""
    path = tmp_path / "menwei.toml"
    result = CliRunner().invoke(menwei_cli, ["init", str(path)])
    assert result.exit_code == 0, result.output
    text = (
        path.read_text(encoding="utf-8")
        .replace('data_dir = "/var/lib/menwei"', 'data_dir = "data"')
        .replace('pin_factory = "lgpio"', 'pin_factory = "mock"')
    )
    path.write_text(text, encoding="utf-8")
    return path


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def form_fields(html: str) -> dict[str, str]:
    """The CSRF token and (if present) the one-time form nonce of the first form on a page."""
    fields = {"csrf_token": csrf_of(html)}
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', html)
    if nonce:
        fields["form_nonce"] = nonce.group(1)
    return fields


def nonce_for(html: str, action: str) -> str:
    """The form nonce of the form posting to ``action`` (pages have one form per gate)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"(.*?)</form>', html, re.S)
    assert form, f"no form posting to {action}"
    found = re.search(r'name="form_nonce" value="([^"]+)"', form.group(1))
    assert found, "form has no nonce"
    return found.group(1)


def qr_token(html: str) -> str:
    """The text of the QR image (a data: URI PNG) on a page: a pass's token, decoded back."""
    match = re.search(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert match, "no QR image on the page"
    png = np.frombuffer(base64.b64decode(match.group(1)), np.uint8)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(png, cv2.IMREAD_COLOR))
    return text


def client_as(env: dict, role: str | None) -> Any:
    """A test client of ``env``'s app logged in as the account of ``role`` (None: anonymous)."""
    client = env["app"].test_client()
    if role:
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login", data={"csrf_token": token, "username": USERS[role], "password": PASSWORD}
        )
        assert response.status_code == 302, response.text
    return client


def rule_url(rule: Any) -> str:
    """A URL for a URL-map rule, its arguments filled with plausible values (an int id, a
    ULID-shaped event id, "x"): the walks over the whole URL map use it."""

    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if converter.startswith("int"):
            return "1"
        if "event" in name or name == "id":
            return "01JD0000000000000000000000"
        return "x"

    return re.sub(r"<(?:([a-z]+(?:\([^)]*\))?):)?([a-z_]+)>", value, rule.rule)


def watch_problems(page: Any) -> list[str]:
    """A list that fills with a browser page's console errors and any HTTP response >= 400:
    a test ends by asserting it is empty, so a broken asset or script cannot pass unseen."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return problems


# -- inputs ---------------------------------------------------------------------------------
def make_id(prefix6: str, born: date, seq: int) -> str:
    """A resident ID number with a valid check character."""
    first17 = f"{prefix6}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def tenant_form(seq: int = 123, phone: str = "13800138000", name: str = "张三") -> dict[str, str]:
    return {
        "name": name,
        "doc_type": "resident_id",
        "doc_number": make_id("320102", date(1990, 1, 1), seq),
        "sex": "M" if seq % 2 else "F",
        "birth_date": "1990-01-01",
        "ethnicity": "汉族",
        "phone": phone,
        "hukou_address": "江苏省南京市玄武区某路1号",
        "occupation": "软件工程师",
        "relation": "tenant",
        "move_in_date": "2025-05-20",
        "expected_until": "2026-05-19",
        "consent": "yes",
    }


def picture(seed: int = 0) -> np.ndarray:
    """A generated 640x360 frame with some structure (so the JPEG is not trivial)."""
    rng = np.random.default_rng(seed)
    image = np.full((360, 640, 3), 40 + seed % 100, np.uint8)
    for _ in range(8):
        x, y = int(rng.integers(0, 600)), int(rng.integers(0, 320))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + 40, y + 30), colour, -1)
    return image


def live_frames(detector: FaceDetector, name: str, n: int, seed: int = 0) -> list[np.ndarray]:
    """Door-camera frames of the person in fixture photo ``name`` standing at the door, alive:
    the head turning a few degrees over a still background (edge.faces.liveness.synthetic)."""
    photo = read_image_file(FACES / name)
    face = detector.detect(photo)[0]
    rng = np.random.default_rng(seed)
    return synthetic.genuine(photo, face, n, rng, "natural").frames


def attack_frames(
    detector: FaceDetector, kind: synthetic.AttackKind, name: str, n: int, seed: int = 0
) -> list[np.ndarray]:
    """Door-camera frames of fixture photo ``name`` presented by hand as ``kind`` (a print,
    a print with its border, a screen, a phone with its body in view)."""
    photo = read_image_file(FACES / name)
    face = detector.detect(photo)[0]
    return synthetic.attack(kind, photo, face, n, np.random.default_rng(seed)).frames


def write_secret(folder: Path, secret: bytes = SECRET) -> Path:
    """The sync secret file (0600) in ``folder``."""
    path = folder / "sync.secret"
    path.write_bytes(secret + b"\n")
    os.chmod(path, 0o600)
    return path


def read_face_labels(folder: Path = FACES) -> dict[str, str]:
    """file name -> identity from ``folder``/labels.tsv (the ``face_labels`` fixture skips
    the test when it is absent; this does not)."""
    with (folder / "labels.tsv").open(encoding="utf-8") as handle:
        return {row["file"]: row["identity"] for row in csv.DictReader(handle, delimiter="\t")}


def single_face_files(labels: dict[str, str]) -> dict[str, str]:
    """Photos of one whole face (no group photo, no deliberately partial face)."""
    return {f: i for f, i in labels.items() if not i.startswith("MULTI") and "partial" not in f}


# -- rows -----------------------------------------------------------------------------------
def audit_rows(db: sqlite_utils.Database, action: str | None = None) -> list[dict]:
    sql = "SELECT actor, action, target, details FROM audit_log"
    args: list = []
    if action:
        sql += " WHERE action = ?"
        args.append(action)
    rows = db.execute(sql + " ORDER BY seq", args).fetchall()
    return [{"actor": a, "action": b, "target": t, "details": json.loads(d)} for a, b, t, d in rows]


def reg_id_by_name(app: Any, db_path: Path, name: str) -> str:
    """The newest registration of ``name`` (names are encrypted: decrypt with the app's key)."""
    vault = app.extensions["menwei"].vault
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT id, person_enc FROM registrations ORDER BY id DESC").fetchall()
    for reg_id, blob in rows:
        if open_person(vault, reg_id, blob).name == name:
            return reg_id
    raise LookupError(name)


def pending(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def outbox_keys(db: sqlite_utils.Database) -> list[str]:
    return [k for (k,) in db.execute("SELECT key FROM outbox ORDER BY key")]


def db_of(env: dict) -> sqlite_utils.Database:
    """A new connection to the database of a console ``env`` (the caller closes it)."""
    from edge.db import connect

    return connect(env["config"].storage.database_path)


def workbook(**sheets: list[list[object]]) -> bytes:
    """A workbook with the given sheets (by kind), headers first, as a person would fill it."""
    book = Workbook()
    book.remove(book.active)
    for kind, rows in sheets.items():
        sheet = book.create_sheet(SHEETS[kind].title)
        sheet.append(SHEETS[kind].headers())
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mount_tmpfs(folder: Path, size: str, inodes: int | None = None) -> None:
    """A tmpfs of ``size`` (and at most ``inodes`` files) on ``folder``: a disk that fills
    up; skips where mounting needs root this process does not have. ``unmount`` it after."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")


def unmount(folder: Path) -> None:
    """Lazily unmount a ``mount_tmpfs`` (a process still holding a file keeps it until it
    lets go); never raises."""
    subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


class Forker:
    """tests/gate_forker.py: starts `menwei` processes (gate, hub serve, hub link) from a
    warm fork of the command line; ``start`` returns the child's pid."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("gate_forker.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "LANG": "C.UTF-8", "LANGUAGE": "en"},
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "READY"

    def start(self, argv: list[str | Path], output: Path) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        line = json.dumps({"output": str(output), "argv": [str(a) for a in argv]})
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def free_port() -> int:
    """A loopback port nobody listens on at this moment. Another process may bind it before
    the caller does: start servers with ``serving_process``, which starts again then."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ADDRESS_IN_USE = ("Address already in use", "EADDRINUSE", "Errno 98")


@dataclass
class Serving:
    """A server process started by ``serving_process``: its port and its output so far
    (stdout and stderr lines, read by a thread so the pipe never fills)."""

    proc: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout_s: float = 30.0) -> int:
        """Stop (SIGTERM, then SIGKILL) and wait; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        if self.reader is not None:
            self.reader.join(timeout_s)
        return int(self.proc.returncode)


def _read_lines(serving: Serving) -> None:
    assert serving.proc.stdout is not None
    for line in serving.proc.stdout:
        serving.lines.append(line)


def serving_process(
    command: Callable[[int], list[str]],
    ready: Callable[[Serving], bool],
    env: dict[str, str] | None = None,
    attempts: int = 5,
    timeout_s: float = 90.0,
) -> Serving:
    """Start ``command(port)`` on a free loopback port and wait until ``ready``.

    Why retried: a port the test found free can be bound by another process (a parallel
    test worker) before the server binds it; the server then exits with "address already
    in use" and is started again on another port. ``ready`` must prove that *this* process
    serves the port (its own output naming it, or an answer only it can give), and it is
    asked only while the process runs. Any other early exit fails with the output."""
    for _ in range(attempts):
        port = free_port()
        proc = subprocess.Popen(
            command(port), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        serving = Serving(proc, port)
        serving.reader = threading.Thread(target=_read_lines, args=(serving,), daemon=True)
        serving.reader.start()
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None:
            if ready(serving) and proc.poll() is None:
                return serving
            if time.monotonic() > deadline:
                serving.stop()
                raise AssertionError(f"not ready on port {port}: {serving.output()}")
            time.sleep(0.1)
        serving.stop()
        if not any(words in serving.output() for words in ADDRESS_IN_USE):
            raise AssertionError(f"exited with {proc.returncode}: {serving.output()}")
    raise AssertionError(f"no free port in {attempts} attempts")


def menwei_web(
    config: Path, toml: Callable[[int], str], env: dict[str, str] | None = None
) -> Serving:
    """A real `menwei web` process on a free port, with the config ``toml(port)`` written
    to ``config``; ready when it has printed the address it bound."""

    def command(port: int) -> list[str]:
        config.write_text(toml(port), encoding="utf-8")
        return [str(Path(sys.executable).with_name("menwei")), "web", "-c", str(config)]

    return serving_process(command, lambda s: f"on http://127.0.0.1:{s.port}" in s.output(), env)


FAULTS = ("full", "read-only", "inodes")


def fault_disk(folder: Path, fault: str) -> None:
    """Make a tmpfs from ``mount_tmpfs`` "full" (a filler file until it is), out of
    "inodes" (empty files until none is left; bytes still free) or "read-only" (remounted:
    close the files open for writing on it first, or the kernel refuses). ``clear_fault``
    undoes it."""
    if fault == "full":
        # Unbuffered: a buffered file keeps the bytes that did not fit and raises ENOSPC
        # again when it is closed, outside the suppress.
        with open(folder / "filler", "wb", buffering=0) as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
    elif fault == "inodes":
        fillers = folder / "fillers"
        fillers.mkdir()
        with contextlib.suppress(OSError):
            for n in range(10_000_000):
                (fillers / str(n)).touch()
    elif fault == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        raise ValueError(f"no such disk fault: {fault}")


def clear_fault(folder: Path, fault: str) -> None:
    """Undo ``fault_disk``: the filler removed, the inodes freed, or remounted writable."""
    if fault == "full":
        (folder / "filler").unlink()
    elif fault == "inodes":
        shutil.rmtree(folder / "fillers")
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill(pid: int, sig: int = signal.SIGKILL, timeout_s: float = 20.0) -> None:
    """Send ``sig`` (SIGKILL: as a power cut) and wait until the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def zero_page(path: Path, table: str, which: str | int = "last") -> int:
    """Zero one leaf page of ``table`` the way a worn card loses one: its ``which`` leaf
    ("first", "last", or an index in page order). Returns the page number."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    leaves = conn.execute(
        "SELECT pageno, (SELECT page_size FROM pragma_page_size) FROM dbstat"
        " WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
        [table],
    ).fetchall()
    conn.close()
    index = which if isinstance(which, int) else {"first": 0, "last": -1}[which]
    pageno, page_size = leaves[index]
    with open(path, "r+b") as handle:
        handle.seek((pageno - 1) * page_size)
        handle.write(b"\0" * page_size)
    return int(pageno)


class GateProcess:
    """A real `menwei gate` process whose output lines are collected as they come, for the
    storage tests that watch a door start, decide and fail (killed, never asked to stop)."""

    def __init__(self, config: Path, gate_id: str, lang: str | None = None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if lang is not None:
            env["LANG"] = lang
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "menwei"), "gate", gate_id, "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_for_count(self, text: str, count: int, timeout_s: float = 90) -> bool:
        """Whether ``text`` was printed ``count`` times; an exited process has printed all
        it will once its output is read to the end."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.count(text) >= count:
                return True
            if self.process.poll() is not None:
                self._reader.join(10)
                return self.count(text) >= count
            time.sleep(0.05)
        return False

    def wait_for(self, text: str, timeout_s: float = 90) -> bool:
        return self.wait_for_count(text, 1, timeout_s)

    def kill(self) -> str:
        """SIGKILL (a power cut's way) and everything it printed."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)
        self._reader.join(10)
        return "".join(self.lines)
