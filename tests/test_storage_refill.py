"""``menwei db recover`` refills the people rows a damaged page took from the gates' sealed
last good copy (edge.people.memory_copy), and tells the operator in their language what came
back, what those rows lack (names, phones: the copy holds only what a gate decides from)
and what is gone for good. Real SQLite files with real zeroed pages, a real sealed copy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import zero_page

from edge.cli.main import main
from edge.db import connect
from edge.people.memory_copy import PeopleCopy
from edge.people.residents import add_resident
from edge.people.vehicles import VehicleInput, add_vehicle, facts_for_plate
from edge.pii import PiiVault

RESIDENT = "皖A12345"
ZH = {"LANG": "zh_CN.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}


@pytest.fixture
def box(gate_config, tmp_path):
    """A box with 3,001 vehicles and 400 residents, its gate's copy sealed in the spool
    folder, then one car struck off (after the copy was written) and the WAL checkpointed."""
    config = gate_config(tmp_path)
    key = tmp_path / "keys" / "pii.key"
    vault = PiiVault.from_key_file(key, create=True)
    path = config.storage.database_path
    db = connect(path)
    add_vehicle(db, VehicleInput(RESIDENT, "resident", "3-1-402"))
    db.conn.executemany(
        "INSERT INTO vehicles (plate, kind, created_at) VALUES (?, 'resident', 'x')",
        [(f"沪B{i:05d}",) for i in range(3000)],
    )
    for i in range(400):
        add_resident(db, vault, f"居民{i}", f"5-1-{100 + i}")
    copy = PeopleCopy(config.storage.spool_path / "north.people", vault)
    copy.refresh(db.conn)
    assert copy.save()
    struck = db.execute("SELECT MAX(id) FROM vehicles").fetchone()[0]
    db.execute("DELETE FROM vehicles WHERE id = ?", [struck])
    db.conn.close()
    toml = tmp_path / "menwei.toml"
    toml.write_text(
        f'[storage]\ndata_dir = "{config.storage.data_dir}"\n[security]\npii_key_file = "{key}"\n',
        encoding="utf-8",
    )
    return path, toml, struck


def ids(path: Path, table: str) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute(f"SELECT id FROM {table}")}


def test_recover_refills_lost_people_rows_from_the_gate_copy_and_says_so_in_zh(box) -> None:
    path, toml, struck = box
    before = {t: ids(path, t) for t in ("vehicles", "residents", "households")}
    zero_page(path, "vehicles", 3)
    zero_page(path, "residents", 1)
    result = CliRunner().invoke(main, ["db", "recover", "-c", str(toml)], env=ZH)
    assert result.exit_code == 0, result.output
    [recovered] = path.parent.glob(f"{path.name}.recovered-*")
    for table, had in before.items():
        assert ids(recovered, table) == had, table  # every row back, none invented
    assert struck not in ids(recovered, "vehicles")  # struck off after the copy: stays off
    with sqlite3.connect(recovered) as conn:
        blank = conn.execute("SELECT COUNT(*) FROM residents WHERE name_enc IS NULL").fetchone()
        assert 0 < blank[0] < 400  # the refilled ones: no name in the copy
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    out = result.output
    assert "已从门岗副本" in out and "车辆名单：补回" in out and "居民名单：补回" in out
    assert "姓名和电话" in out and "之后新增的记录不在副本中" in out
    salvaged = connect(recovered)  # migrations accept it, and the gate's facts read again
    assert facts_for_plate(salvaged, RESIDENT).vehicles
    salvaged.conn.close()


def test_without_the_key_the_loss_is_reported_not_hidden(box) -> None:
    path, toml, _struck = box
    had = ids(path, "vehicles")
    zero_page(path, "vehicles", 3)
    (toml.parent / "keys" / "pii.key").unlink()
    result = CliRunner().invoke(main, ["db", "recover", "-c", str(toml)], env=ZH)
    assert result.exit_code == 0, result.output
    [recovered] = path.parent.glob(f"{path.name}.recovered-*")
    assert ids(recovered, "vehicles") < had
    assert "车辆名单 中丢失的人员数据未能补回" in result.output
    assert "north.people" in result.output
