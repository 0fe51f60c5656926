"""Damaged database files: refused by name (never silently replaced), or opened with the damage
reported and residents still let in where their data is readable; `menwei db check` and
`menwei db recover` for the operator.

Real SQLite files damaged the way cards damage them: emptied, cut short, a garbled header,
a directory in the file's place, pages of a table zeroed, garbage in the WAL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import fault_disk, mount_tmpfs, unmount, zero_page

from edge.cli.main import main
from edge.db import connect, open_for_reading, transaction
from edge.db_file import DamagedStoreError, forget_read_headers
from edge.events.record import NewEvent, record_event
from edge.people.residents import insert_resident
from edge.people.vehicles import VehicleInput, add_vehicle, facts_for_plate
from edge.pii import PiiVault
from edge.store.open import open_gate_store

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
RESIDENT = "皖A12345"


@pytest.fixture(autouse=True)
def stand_in_folder(tmp_path, monkeypatch):
    """A gate's stand-in for a database that will not open goes to the test's own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def build(config) -> Path:
    """A box's database with a resident vehicle and 1,500 events with their outbox rows."""
    path = config.storage.database_path
    db = connect(path)
    db.execute("INSERT INTO gates VALUES ('north', 'North', 'vehicle', 'x')")
    add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
    for n in range(1500):
        event = NewEvent("north", "vehicle_passage", AT + timedelta(seconds=n), "open",
                         RESIDENT, details={"n": n, "pad": "x" * 200})  # fmt: skip
        record_event(db, event)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


REFUSED = {
    "zero-length": lambda p: p.write_bytes(b""),
    "garbled header": lambda p: p.write_bytes(b"\x13\x37" * 50 + p.read_bytes()[100:]),
    "directory": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("damage", sorted(REFUSED))
def test_a_file_that_is_not_a_database_is_refused_by_name_and_left_as_it_is(
    damage, gate_config, tmp_path
):
    config = gate_config(tmp_path)
    path = build(config)
    REFUSED[damage](path)
    forget_read_headers()  # as a restart finds it: this process read the good header before
    before = path.read_bytes() if path.is_file() else None
    stand_in, state = open_gate_store(config)  # a gate runs on, from its last good copy
    assert state and state.startswith("damaged") and str(path) in state
    assert "menwei db recover" in state
    assert stand_in.execute("PRAGMA database_list").fetchone()[2] != str(path)
    stand_in.conn.close()
    with pytest.raises(DamagedStoreError):
        connect(path)  # every process: the web's requests, sync, the CLI
    assert (path.read_bytes() if path.is_file() else None) == before  # not replaced
    result = CliRunner().invoke(main, ["db", "check", "-c", str(_toml(config, tmp_path))])
    assert result.exit_code == 1 and str(path) in result.output


def _toml(config, tmp_path: Path) -> Path:
    path = tmp_path / "menwei.toml"
    path.write_text(
        f'[storage]\ndata_dir = "{config.storage.data_dir}"\n'
        f'[security]\npii_key_file = "{tmp_path / "keys" / "pii.key"}"\n',
        encoding="utf-8",
    )
    return path


def test_processes_starting_together_on_a_new_box_all_open_the_one_new_database(tmp_path):
    """At boot the web and the gates start at once on a box with no database yet: none may
    see a database being born (SQLite's own first open leaves a 0-byte file for a moment,
    which is refused as lost data), and all end up in the same file."""
    path = tmp_path / "data" / "menwei.db"
    code = (
        "import sys; from edge.db import connect; connect(__import__('pathlib').Path(sys.argv[1]))"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    failures = [p.stderr.read().decode() for p in starts if p.wait(timeout=120) != 0]
    assert failures == []
    assert connect(path).execute("SELECT COUNT(*) FROM gates").fetchone()[0] == 0
    assert [p.name for p in path.parent.iterdir() if ".new-" in p.name] == []


def test_a_truncated_file_is_reported_at_start_and_by_db_check(gate_config, tmp_path):
    config = gate_config(tmp_path)
    path = build(config)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _db, state = open_gate_store(config)  # a cut reaching the schema: on a stand-in
    assert state and state.startswith("damaged") and str(path) in state
    result = CliRunner().invoke(main, ["db", "check", "-c", str(_toml(config, tmp_path))])
    assert result.exit_code == 1 and "truncated" in result.output


@pytest.mark.parametrize("table", ["events", "outbox"])
def test_a_zeroed_page_of_events_or_outbox_is_reported_and_residents_still_read(
    table, gate_config, tmp_path, caplog
):
    config = gate_config(tmp_path)
    path = build(config)
    zero_page(path, table)
    db, state = open_gate_store(config)
    assert state and state.startswith("damaged"), state
    assert "menwei db recover" in caplog.text and str(path) in caplog.text
    [vehicle] = facts_for_plate(db, RESIDENT).vehicles  # the gate decides from these
    assert vehicle.kind == "resident"
    db.conn.close()


def test_a_zeroed_page_of_the_vehicles_table_is_reported_at_start(gate_config, tmp_path):
    config = gate_config(tmp_path)
    path = build(config)
    zero_page(path, "vehicles", "first")
    _db, state = open_gate_store(config)
    assert state and state.startswith("damaged")


def test_garbage_in_the_wal_is_kept_aside_and_reported(gate_config, tmp_path):
    config = gate_config(tmp_path)
    path = build(config)
    Path(f"{path}-wal").write_bytes(b"garbage!" * 1000)
    db, state = open_gate_store(config)
    assert state and "write-ahead log" in state
    [kept] = path.parent.glob("menwei.db-wal.damaged-*")
    assert kept.read_bytes() == b"garbage!" * 1000
    assert facts_for_plate(db, RESIDENT).vehicles
    db.conn.close()


@pytest.mark.parametrize("table", ["outbox", "events"])
def test_db_recover_salvages_into_a_new_file_and_keeps_the_damaged_one(
    table, gate_config, tmp_path
):
    config = gate_config(tmp_path)
    path = build(config)
    zero_page(path, table, "first")
    damaged = path.read_bytes()
    toml = _toml(config, tmp_path)
    assert CliRunner().invoke(main, ["db", "check", "-c", str(toml)]).exit_code == 1
    result = CliRunner().invoke(main, ["db", "recover", "-c", str(toml)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == damaged  # the original is never changed
    [recovered] = path.parent.glob("menwei.db.recovered-*")
    [aside] = [p for p in path.parent.glob("menwei.db.damaged-*") if "-wal" not in p.name]
    assert aside.read_bytes() == damaged
    check = CliRunner().invoke(main, ["db", "check", "--file", str(recovered), "-c", str(toml)])
    assert check.exit_code == 0, check.output
    salvaged = connect(recovered)  # migrations accept the salvaged schema
    assert facts_for_plate(salvaged, RESIDENT).vehicles
    events = salvaged.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    salvaged.conn.close()
    if table == "events":  # one leaf page of rows lost, every other row kept, and said so
        assert 1400 < events < 1500 and "events: unreadable pages skipped" in result.output
    else:
        assert events == 1500


# Every process and command starts through the one click group: none may answer a store
# SQLite finds damaged only when it reads it with a stack trace.
COMMANDS = (["web", "--port", "1"], ["retention"], ["events"], ["resident", "list"],
            ["user", "list"], ["db-version"], ["sync", "status"])  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_file_cut_short_inside_its_pages_is_refused_in_the_readers_language(
    gate_config, tmp_path, command
):
    config = gate_config(tmp_path)
    path = build(config)
    with open(path, "r+b") as handle:  # the header is whole; the pages after 10 are gone
        handle.truncate(10 * 4096 + 1000)
    forget_read_headers()
    toml = _toml(config, tmp_path)
    result = CliRunner(env={"LANG": "zh_CN.UTF-8"}).invoke(main, [*command, "-c", str(toml)])
    assert isinstance(result.exception, SystemExit), result.exception  # not a stack trace
    assert result.exit_code == 1
    assert f"数据库 {path} 已损坏" in result.output
    assert "menwei db recover" in result.output


def test_retention_on_a_damaged_database_deletes_nothing_and_says_so(gate_config, tmp_path):
    config = gate_config(tmp_path)
    path = build(config)
    zero_page(path, "events", "first")
    forget_read_headers()
    toml = _toml(config, tmp_path)
    result = CliRunner(env={"LANG": "zh_CN.UTF-8"}).invoke(main, ["retention", "-c", str(toml)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "DAMAGED" in result.output
    assert f"完整性检查发现数据库 {path} 已损坏，因此没有删除任何内容" in result.output


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_command_on_a_full_or_read_only_disk_names_the_disk_not_damage(tmp_path, fault):
    """SQLite says "disk I/O error" when it cannot map its -shm file on a full disk: the
    reader is told the disk is full (or read-only), not sent to recover a sound database."""
    data = tmp_path / "data"
    mount_tmpfs(data, "2m")
    try:
        db = connect(data / "menwei.db")
        db.conn.close()
        for name in ("menwei.db-wal", "menwei.db-shm"):
            (data / name).unlink(missing_ok=True)
        fault_disk(data, fault)
        forget_read_headers()
        toml = tmp_path / "menwei.toml"
        toml.write_text(f'[storage]\ndata_dir = "{data}"\n', encoding="utf-8")
        result = CliRunner(env={"LANG": "zh_CN.UTF-8"}).invoke(
            main, ["db-version", "-c", str(toml)]
        )
    finally:
        unmount(data)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert ("所在磁盘已满" if fault == "full" else "是只读的") in result.output, result.output
    assert "已损坏" not in result.output


def test_backup_and_db_check_work_from_a_read_only_disk(tmp_path):
    """A card the kernel remounted read-only is when a copy matters most: `menwei backup`
    and `menwei db check` read it without the -shm file they cannot create there."""
    data = tmp_path / "data"
    mount_tmpfs(data, "4m")
    try:
        db = connect(data / "menwei.db")
        add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
        db.conn.close()  # the last connection: WAL checkpointed and removed
        fault_disk(data, "read-only")
        forget_read_headers()
        toml = tmp_path / "menwei.toml"
        toml.write_text(f'[storage]\ndata_dir = "{data}"\n', encoding="utf-8")
        runner = CliRunner(env={"LANG": "zh_CN.UTF-8"})
        checked = runner.invoke(main, ["db", "check", "-c", str(toml)])
        copy = tmp_path / "copy.db"
        backed = runner.invoke(main, ["backup", str(copy), "-c", str(toml)])
    finally:
        unmount(data)
    assert checked.exit_code == 0, checked.output
    assert "完好" in checked.output
    assert backed.exit_code == 0, backed.output
    assert "备份已写入" in backed.output
    saved = sqlite3.connect(copy)
    try:
        assert saved.execute("SELECT plate FROM vehicles").fetchall() == [(RESIDENT,)]
    finally:
        saved.close()


LISTS = (["events"], ["resident", "list"], ["user", "list"], ["room", "list"], ["vehicle", "list"],
         ["watchlist", "list"], ["pass", "list"], ["sync", "status"])  # fmt: skip


@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_commands_that_only_read_work_on_a_faulted_disk(tmp_path, fault):
    """While the card is read-only or full, the operator still reads the events and lists."""
    data = tmp_path / "data"
    mount_tmpfs(data, "4m")
    key = tmp_path / "pii.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    toml = tmp_path / "menwei.toml"
    toml.write_text(
        f'[storage]\ndata_dir = "{data}"\n[security]\npii_key_file = "{key}"\n', encoding="utf-8"
    )
    runner = CliRunner(env={"LANG": "zh_CN.UTF-8"})
    try:
        db = connect(data / "menwei.db")
        add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
        with transaction(db) as conn:
            insert_resident(conn, PiiVault.from_key_file(key), "李四", "3-1-402", "residents", AT)
        db.conn.close()  # nothing open on the disk: it can be remounted read-only
        fault_disk(data, fault)
        forget_read_headers()
        results = {" ".join(c): runner.invoke(main, [*c, "-c", str(toml)]) for c in LISTS}
    finally:
        unmount(data)
    failed = {c: r.output for c, r in results.items() if r.exit_code != 0}
    assert failed == {}
    assert RESIDENT in results["vehicle list"].output
    assert "李四" in results["resident list"].output


def test_without_a_temporary_folder_for_the_stand_in_the_gate_refuses_by_name(
    gate_config, tmp_path, monkeypatch
):
    config = gate_config(tmp_path)
    path = build(config)
    REFUSED["garbled header"](path)
    forget_read_headers()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    with pytest.raises(DamagedStoreError) as refused:
        open_gate_store(config)
    assert str(path) in str(refused.value) and "menwei db recover" in str(refused.value)


def test_a_database_planted_where_the_stand_in_goes_is_never_decided_from(gate_config, tmp_path):
    """The gate decides from what its stand-in holds, so a database someone else put in
    its place (a local user on a shared /tmp) must be replaced, and a temporary folder
    that is not this user's alone is refused rather than used."""
    config = gate_config(tmp_path)
    path = build(config)
    REFUSED["garbled header"](path)
    forget_read_headers()
    first, _ = open_gate_store(config)
    stand_in_path = Path(first.execute("PRAGMA database_list").fetchone()[2])
    first.conn.close()
    assert stand_in_path.parent.stat().st_mode & 0o077 == 0  # this user's own folder
    stand_in_path.unlink()
    with contextlib.closing(sqlite3.connect(stand_in_path)) as planted:
        planted.execute("CREATE TABLE residents (id INTEGER PRIMARY KEY, name TEXT)")
        planted.execute("INSERT INTO residents VALUES (1, 'planted')")
        planted.commit()
    again, _ = open_gate_store(config)
    tables = again.execute("SELECT name FROM sqlite_master").fetchall()
    again.conn.close()
    assert tables == [], "the planted database was replaced by an empty stand-in"
    stand_in_path.parent.chmod(0o777)
    with pytest.raises(DamagedStoreError) as refused:
        open_gate_store(config)
    assert "private folder" in str(refused.value)


def test_reading_a_database_that_is_gone_leaves_no_empty_file_in_its_place(tmp_path):
    """A read-only reader (the web's healthz, backup, db check) of a database moved away
    while the box runs: the last way in (``immutable=1``) created an empty file there, so
    a restart took the move for lost data."""
    path = tmp_path / "menwei.db"
    with pytest.raises(sqlite3.Error):
        open_for_reading(path)
    assert not path.exists()
