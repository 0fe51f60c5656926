"""Damaged database files: refused by name (never silently replaced), or opened with the damage
reported and residents still let in where their data is readable; `menwei db check` and
`menwei db recover` for the operator.

Real SQLite files damaged the way cards damage them: emptied, cut short, a garbled header,
a directory in the file's place, pages of a table zeroed, garbage in the WAL.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import zero_page

from edge.cli.main import main
from edge.db import connect
from edge.db_file import DamagedStoreError, forget_read_headers
from edge.events.record import NewEvent, record_event
from edge.people.vehicles import VehicleInput, add_vehicle, facts_for_plate
from edge.store.open import open_gate_store

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
RESIDENT = "皖A12345"


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
    with pytest.raises(DamagedStoreError) as refused:
        open_gate_store(config)
    assert str(path) in str(refused.value) and "menwei db recover" in str(refused.value)
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
    try:
        _db, state = open_gate_store(config)
    except DamagedStoreError as exc:  # a cut that reaches the schema refuses at once
        assert str(path) in str(exc)
    else:
        assert state and state.startswith("damaged")
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
