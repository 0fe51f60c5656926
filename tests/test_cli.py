"""The command line: init, check-config, enrolment and events, with clear errors."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import initialised_config

from edge.cli.main import main
from edge.migrations import LATEST_VERSION


@pytest.fixture
def config(tmp_path) -> Path:
    return initialised_config(tmp_path)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_init_refuses_to_overwrite(config):
    result = run("init", str(config))
    assert result.exit_code != 0 and "exists" in result.output


def test_check_config_ok_and_hides_camera_password(config):
    result = run("check-config", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "north-vehicle" in result.output and "password" not in result.output


def test_check_config_opens_camera_files_and_a_gate_refuses_before_making_anything(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.jpg"), np.full((48, 64, 3), 90, np.uint8))
    path = tmp_path / "menwei.toml"
    gates = ""
    for pin, gate_id, source in ((17, "north", frames), (18, "south", tmp_path / "no.mp4")):
        gates += f'[[gates]]\nid = "{gate_id}"\nname = "{gate_id}"\nkind = "vehicle"\n'
        gates += f'camera = {{ source = "{source}" }}\nbarrier = {{ open_pin = {pin} }}\n'
    data = tmp_path / "var" / "menwei"
    path.write_text(f'[storage]\ndata_dir = "{data}"\n[hardware]\npin_factory = "mock"\n'
                    + gates, encoding="utf-8")  # fmt: skip
    result = run("check-config", "-c", str(path))
    assert result.exit_code == 1, result.output
    assert "a 64x48 picture read" in result.output
    assert "BAD  camera of south: no such file or folder" in result.output
    gate = run("gate", "south", "-c", str(path))
    assert gate.exit_code == 1 and "cannot start" in gate.output and "no.mp4" in gate.output
    assert not (tmp_path / "var").exists()  # no database, no run folder: nothing made


def test_a_missing_config_names_every_way_to_give_one(tmp_path):
    result = run("vehicle", "list", "-c", str(tmp_path / "nowhere.toml"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "-c FILE" in result.output and "MENWEI_CONFIG" in result.output
    assert "menwei init" in result.output


def test_check_config_bad_file_names_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\ntimezone = "Nowhere/City"\n', encoding="utf-8")
    result = run("check-config", "-c", str(bad))
    assert result.exit_code == 1
    assert "site.timezone" in result.output and "Traceback" not in result.output


def test_vehicle_and_watchlist_round_trip(config):
    c = ["-c", str(config)]
    assert run("vehicle", "add", "皖A12345", "--household", "3-1-402", *c).exit_code == 0
    visitor = run(
        "vehicle", "add", "粤BD12345", "--kind", "visitor", "--valid-to", "2099-01-01T18:00", *c
    )
    assert visitor.exit_code == 0, visitor.output
    listed = run("vehicle", "list", *c).output
    assert "皖A12345" in listed and "3-1-402" in listed and "2099-01-01 18:00" in listed
    day = run("vehicle", "add", "粤BD12346", "--kind", "visitor", "--valid-to", "2099-01-02", *c)
    assert day.exit_code == 0, day.output
    assert "2099-01-02 23:59" in run("vehicle", "list", *c).output  # a date alone: its end
    assert run("watchlist", "add", "京A88888", "--reason", "stolen", *c).exit_code == 0
    assert "京A88888" in run("watchlist", "list", *c).output
    assert run("vehicle", "remove", "皖A12345", *c).exit_code == 0
    assert "皖A12345" not in run("vehicle", "list", *c).output
    assert run("watchlist", "remove", "京A88888", *c).exit_code == 0
    assert run("events", *c).exit_code == 0
    assert run("db-version", *c).output.strip() == str(LATEST_VERSION)


@pytest.mark.parametrize("plate", ["皖AO1234X", "hello", "皖A1234"])
def test_malformed_plate_is_a_clear_error(config, plate):
    result = run("vehicle", "add", plate, "-c", str(config))
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_bad_date_is_a_clear_error(config):
    result = run(
        "vehicle",
        "add",
        "皖A12345",
        "--kind",
        "visitor",
        "--valid-to",
        "tomorrow",
        "-c",
        str(config),
    )
    assert result.exit_code == 2 and "not a date" in result.output


def test_remove_unknown_plate(config):
    result = run("vehicle", "remove", "皖A00000", "-c", str(config))
    assert result.exit_code == 1 and "no enrolment" in result.output


def test_retention_reports_every_purge(config):
    from datetime import UTC, datetime, timedelta

    from edge.config import load_config
    from edge.people.vehicles import VehicleInput, add_vehicle
    from edge.store.open import open_store

    db = open_store(load_config(config))
    ended = datetime.now(UTC) - timedelta(days=40)  # past visitor_pass_days (30) in the example
    add_vehicle(
        db, VehicleInput("粤BD12345", "visitor", "5-2-1101", ended - timedelta(hours=2), ended)
    )
    result = run("retention", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "deleted 0 snapshots" in result.output
    assert "purged 0 closed registrations" in result.output
    assert "1 old visitor passes" in result.output
    assert db.execute("SELECT COUNT(*) FROM vehicles").fetchone()[0] == 0


def test_unknown_gate_is_one_line_and_a_bug_is_not_swallowed(config, monkeypatch):
    """A UserError becomes a one-line message; any other ValueError is a bug and keeps its
    stack trace (the CLI no longer turns every ValueError into a user message)."""
    result = run("relays-safe", "south", "-c", str(config))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "no gate 'south' in config (known: north-vehicle)" in result.output

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a programming error")

    monkeypatch.setattr("edge.store.open.open_store", broken)
    result = run("db-version", "-c", str(config))
    assert isinstance(result.exception, ValueError), result.output
    assert "a programming error" not in result.output  # not dressed up as a user message


def test_third_party_noise_is_quiet_unless_verbose(config, monkeypatch):
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    queue = logging.getLogger("waitress.queue")
    monkeypatch.setattr(queue, "level", logging.NOTSET)
    assert run("-v", "db-version", "-c", str(config)).exit_code == 0
    assert "OPENCV_LOG_LEVEL" not in os.environ and queue.level == logging.NOTSET
    assert run("db-version", "-c", str(config)).exit_code == 0
    assert os.environ["OPENCV_LOG_LEVEL"] == "ERROR" and queue.level == logging.ERROR


def test_the_command_line_speaks_the_locales_language(config):
    """An operator with LANG=zh_CN.UTF-8 reads the commands' own messages in Chinese, not
    only the tables: retention's report, the sync status line, enrolment confirmations."""
    zh = CliRunner(env={"LANG": "zh_CN.UTF-8"})
    said = {
        " ".join(args): zh.invoke(main, [*args, "-c", str(config)])
        for args in (["retention"], ["sync", "status"],
                     ["vehicle", "add", "皖A12345", "--household", "3-1-402"],
                     ["watchlist", "add", "京A88888", "--reason", "被盗"],
                     ["vehicle", "remove", "皖A12345"])
    }  # fmt: skip
    for command, result in said.items():
        assert result.exit_code == 0, (command, result.output)
    assert "完整性检查：" in said["retention"].output
    assert "已删除 0 张快照" in said["retention"].output
    assert "已清除 0 条已结束的租户登记" in said["retention"].output
    assert "未配置同步" in said["sync status"].output and "待发送 0" in said["sync status"].output
    assert "已登记车辆 #" in said["vehicle add 皖A12345 --household 3-1-402"].output
    assert "已添加布控条目 #" in said["watchlist add 京A88888 --reason 被盗"].output
    assert "已删除 1 条登记" in said["vehicle remove 皖A12345"].output
    english = re.compile(r"\b(?:deleted|purged|queued|enrolled|added|removed|sync is)\b")
    assert [c for c, r in said.items() if english.search(r.output)] == []


def test_status_names_a_running_gates_storage_fault():
    """A gate running on a damaged, full or read-only store (deciding from its last good
    copy) shows it in `menwei status`, not an empty problem column."""
    from zoneinfo import ZoneInfo

    from edge.cli.gates import STATUS_COLUMNS
    from edge.vocabulary import Vocabulary

    fault = "damaged: /var/lib/menwei/menwei.db is not an SQLite database"
    row = {"gate": "north", "up": True, "camera": {"state": "ok"}, "storage_fault": fault}
    words = Vocabulary.for_language("zh", ZoneInfo("Asia/Shanghai"))
    [(_, problem)] = [c for c in STATUS_COLUMNS if c[0] == "Problem"]
    assert problem(row, words) == f"存储故障: {fault}"
