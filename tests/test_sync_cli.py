"""`menwei sync status` / `menwei sync dead` and the [sync] config section's validation."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from helpers import outbox_keys, write_secret

from edge.cli.main import main
from edge.config import ConfigError, parse_config
from edge.store.outbox import mark_dead
from sync.secret import SecretError, read_secret

CONFIG = """\
[storage]
data_dir = "data"

[sync]
platform_url = "http://127.0.0.1:9"
device_id = "box-1"
secret_file = "sync.secret"
"""


@pytest.fixture
def box(tmp_path, make_box):
    write_secret(tmp_path)
    path = tmp_path / "menwei.toml"
    path.write_text(CONFIG, encoding="utf-8")
    db = make_box(tmp_path / "data" / "menwei.db", 4)
    return path, db


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_status_counts_and_dead_letter_alarm(box):
    path, db = box
    result = run("sync", "status", "-c", str(path), "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["queued"], status["delivered"], status["dead"]) == (4, 0, 0)
    assert status["oldest_pending_age_s"] > 0 and status["worker"] == "unknown"
    mark_dead(db, 1, "plate field invalid")
    result = run("sync", "status", "-c", str(path))
    assert result.exit_code == 1  # monitoring sees the alarm
    assert "queued 3  delivered 0  dead 1" in result.output
    listing = run("sync", "dead", "-c", str(path))
    assert outbox_keys(db)[0] in listing.output and "plate field invalid" in listing.output
    assert "requeued 1" in run("sync", "dead", "--requeue", "all", "-c", str(path)).output
    assert run("sync", "status", "-c", str(path)).exit_code == 0


def test_sync_refuses_to_start_without_section_or_with_open_secret(tmp_path, box):
    path, _ = box
    os.chmod(tmp_path / "sync.secret", 0o644)
    result = run("sync", "-c", str(path))
    assert result.exit_code != 0 and "readable by others" in result.output
    path.write_text('[storage]\ndata_dir = "data"\n', encoding="utf-8")
    result = run("sync", "-c", str(path))
    assert result.exit_code != 0 and "no [sync] section" in result.output


def test_secret_file_rules(tmp_path):
    secret = tmp_path / "s"
    secret.write_bytes(b"\n")
    os.chmod(secret, 0o600)
    with pytest.raises(SecretError, match="one non-empty line"):
        read_secret(secret)
    with pytest.raises(SecretError, match="cannot read"):
        read_secret(tmp_path / "missing")


BASE = {"platform_url": "https://district.example/viid", "device_id": "box-1", "secret_file": "s"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"platform_url": "http://district.example"}, "plain http"),
        ({"platform_url": "ftp://x"}, "https:// URL"),
        ({"platform_url": "https://u:p@district.example"}, "credentials"),
        ({"protocol": "gat1400"}, "20 digits"),
        ({"device_id": "box 1"}, "device_id"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"secret": "inline"}, "unknown key"),
        ({"protocol": "mqtt"}, "sync.protocol"),
    ],
)
def test_bad_sync_config_is_refused_with_key_and_reason(change, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"sync": {**BASE, **change}})
    assert message in str(info.value)


def test_relative_sync_paths_follow_the_config_file(tmp_path):
    config = parse_config(
        {"storage": {"data_dir": "d"}, "sync": {**BASE, "ca_file": "ca.pem"}},
        str(tmp_path / "menwei.toml"),
    )
    assert config.sync.secret_file == tmp_path / "s"
    assert config.sync.ca_file == tmp_path / "ca.pem"
    assert config.sync.status_file == tmp_path / "d" / "sync-status.json"
    gat = parse_config({"sync": {**BASE, "protocol": "gat1400", "device_id": "3" * 20}})
    assert gat.sync.protocol == "gat1400"
    assert parse_config({}).sync is None


def test_status_shows_the_gat1400_session_from_the_worker(box):
    path, _ = box
    session = {"registered": {"3" * 20: True}, "clock_skew_s": 42.0, "clock_alarm": True}
    status_file = path.parent / "data" / "sync-status.json"
    status_file.write_text(
        json.dumps({"worker": "running", "gat1400": session, "alarm": "clock_skew"}), "utf-8"
    )
    status = json.loads(run("sync", "status", "-c", str(path), "--json").output)
    assert status["gat1400"] == session and status["alarm"] == "clock_skew"
    assert '"clock_skew_s": 42.0' in run("sync", "status", "-c", str(path)).output


def test_status_says_when_sync_is_not_configured(tmp_path):
    path = tmp_path / "menwei.toml"
    path.write_text('[storage]\ndata_dir = "data"\n', encoding="utf-8")
    result = run("sync", "status", "-c", str(path))
    assert result.exit_code == 0 and "sync is not configured" in result.output
    assert (
        json.loads(run("sync", "status", "--json", "-c", str(path)).output)["configured"] is False
    )
