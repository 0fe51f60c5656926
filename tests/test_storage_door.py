"""A running door's files go wrong. Its PII key file is missing, cut short or readable by
others: the key seals names and face templates, not the PIN hashes and QR passes a door
also opens by, so the gate runs (PIN and QR pass, faces off), says in one line what is
wrong and what to do, and `menwei status` names it; the commands that need the key refuse
in the reader's language, and nothing makes a new key over data the old one sealed. Its
database file is removed or replaced by a folder while it runs: residents still get in,
no new empty database appears in its place.

Real processes on real files: `menwei gate` reading a keypad FIFO, `menwei status`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import GateProcess

from edge.box.install import InstallPlan, install
from edge.config import load_config
from edge.people.residents import add_resident, hash_pin
from edge.pii import PiiKeyError, PiiVault
from edge.store.open import open_store, pii_vault

PIN = "480915"
CONFIG = """
[storage]
data_dir = "{data}"
spool_dir = "{spool}"
spool_reserve_mb = 1
[security]
pii_key_file = "{key}"
[hardware]
pin_factory = "mock"
[[gates]]
id = "east"
name = "East"
kind = "pedestrian"
faces = false
[gates.camera]
source = "{frames}"
replay_fps = 2
[gates.lock]
relay_pin = 22
release_s = 0.2
[gates.keypad]
source = "{fifo}"
[gates.liveness]
mode = "off"
"""

KEY_FAULTS = {
    "missing": lambda key: key.unlink(),
    "cut short": lambda key: key.write_bytes(key.read_bytes()[:10]),
    "readable by others": lambda key: key.chmod(0o644),
}


@pytest.fixture
def door(tmp_path) -> Iterator[tuple[Path, Path, Path]]:
    """(config, key file, keypad FIFO): one resident with a PIN."""
    data, spool, frames = tmp_path / "data", tmp_path / "spool", tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.jpg"), np.full((240, 320, 3), 90, np.uint8))
    fifo = tmp_path / "keypad.fifo"
    os.mkfifo(fifo)
    key = tmp_path / "keys" / "pii.key"
    key.parent.mkdir()
    PiiVault.from_key_file(key, create=True)
    config = tmp_path / "menwei.toml"
    config.write_text(
        CONFIG.format(data=data, spool=spool, key=key, frames=frames, fifo=fifo), "utf-8"
    )
    settings = load_config(config)
    db = open_store(settings)
    add_resident(db, pii_vault(settings), "张三", "1-1-101")
    db.execute("UPDATE residents SET pin_hash = ?", [hash_pin(PIN)])
    db.conn.close()
    yield config, key, fifo


def menwei(*args: str | Path, lang: str = "zh_CN.UTF-8") -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "menwei"
    return subprocess.run(
        [str(command), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "LANG": lang, "LANGUAGE": ""},
        timeout=120,
    )


@pytest.mark.parametrize("fault", sorted(KEY_FAULTS))
def test_a_door_without_a_usable_key_still_opens_by_pin_and_says_what_to_do(door, fault):
    config, key, fifo = door
    KEY_FAULTS[fault](key)
    keypad = os.open(fifo, os.O_RDWR)
    gate = GateProcess(config, "east", "zh_CN.UTF-8")
    try:
        assert gate.wait_for("Ctrl-C"), "".join(gate.lines)
        os.write(keypad, f"1*{PIN}\n".encode())
        assert gate.wait_for("放行"), "".join(gate.lines)  # the resident is let in
        status = menwei("status", "--json", "-c", config)
        [row] = [g for g in json.loads(status.stdout) if g["gate"] == "east"]
        assert "PII key" in (row["storage_fault"] or ""), row
    finally:
        output = gate.kill()
        os.close(keypad)
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if str(key) in line]
    assert "faces are off" in line and "restore" in line, line
    assert "张三" not in output


@pytest.mark.parametrize("fault", sorted(KEY_FAULTS))
def test_a_command_that_needs_the_key_says_so_in_the_readers_language(door, fault):
    config, key, _fifo = door
    KEY_FAULTS[fault](key)
    refused = menwei("resident", "list", "-c", config)
    assert refused.returncode == 1, refused.stdout
    assert "Traceback" not in refused.stderr
    assert str(key) in refused.stderr and "密钥" in refused.stderr, refused.stderr


def test_the_web_never_makes_a_new_key_over_names_the_lost_one_sealed(door):
    """A box with residents (names sealed with the key) but no registrations yet: the web
    used to create a fresh key when the file was missing, and every name and template
    sealed before was unreadable from then on (and a restored key could not read what was
    sealed after)."""
    config, key, _fifo = door
    key.unlink()
    refused = menwei("web", "-c", config, "--port", "1")  # refuses before it binds
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr and "密钥" in refused.stderr, refused.stderr
    assert not key.exists()


def test_install_never_makes_a_new_key_over_a_database_with_sealed_data(door, tmp_path):
    config, key, _fifo = door
    settings = load_config(config)
    key.unlink()
    plan = InstallPlan(
        root=tmp_path / "root", menwei_executable=Path(sys.executable).parent / "menwei",
        create_user=False, run_systemctl=False,
    )  # fmt: skip
    etc, data = tmp_path / "root" / "etc/menwei", tmp_path / "root" / "var/lib/menwei"
    data.mkdir(parents=True)
    shutil.copy(settings.storage.database_path, data / "menwei.db")
    with pytest.raises(PiiKeyError, match="restore"):
        install(plan)
    assert not (etc / "pii.key").exists()


DB_FAULTS = {
    "removed": lambda path: path.unlink(),
    "replaced by a folder": lambda path: (path.unlink(), path.mkdir()),
}


@pytest.mark.parametrize("fault", sorted(DB_FAULTS))
def test_a_database_file_gone_under_a_running_door_lets_residents_in(door, fault):
    config, _key, fifo = door
    path = load_config(config).storage.database_path
    keypad = os.open(fifo, os.O_RDWR)
    gate = GateProcess(config, "east", "zh_CN.UTF-8")
    try:
        assert gate.wait_for("Ctrl-C"), "".join(gate.lines)
        DB_FAULTS[fault](path)
        os.write(keypad, f"1*{PIN}\n".encode())
        assert gate.wait_for("放行"), "".join(gate.lines)  # from the last good copy
        assert gate.process.poll() is None
    finally:
        output = gate.kill()
        os.close(keypad)
    assert "Traceback" not in output, output
    assert not path.is_file(), "a new empty database was made where the real one was"


def test_a_door_on_a_store_without_tables_says_each_read_fault_once(door):
    """On its stand-in (a garbled database) every read fails, naming whichever table it
    read first: the refresh names households, a PIN residents. Each was logged again at
    every change, a line per passage and per refresh all day; now once per fault."""
    config, _key, fifo = door
    path = load_config(config).storage.database_path
    path.write_bytes(b"\x13\x37" * 50 + path.read_bytes()[100:])
    keypad = os.open(fifo, os.O_RDWR)
    gate = GateProcess(config, "east", "zh_CN.UTF-8")
    try:
        assert gate.wait_for("Ctrl-C"), "".join(gate.lines)
        for n in range(1, 4):
            os.write(keypad, f"1*{PIN}\n".encode())
            assert gate.wait_for_count("密码开门", n), "".join(gate.lines)
        seen = read_faults(config)
        deadline = time.monotonic() + 60
        while read_faults(config) < seen + 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # two more refreshes, each failing again
        assert read_faults(config) >= seen + 2
    finally:
        output = gate.kill()
        os.close(keypad)
    said = [line for line in output.splitlines() if "people data cannot be read from" in line]
    assert len(said) == len(set(line.split(": ", 1)[1] for line in said)) <= 2, said


def read_faults(config: Path) -> int:
    status = menwei("status", "--json", "-c", config, lang="C.UTF-8")
    [row] = [g for g in json.loads(status.stdout) if g["gate"] == "east"]
    return int(row["people_copy"]["read_faults"])
