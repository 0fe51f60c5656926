"""Installer and systemd units: rendered into a staging root, verified by systemd-analyze."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.box.install import UNITS, InstallPlan, install, render_unit
from edge.cli.main import main
from edge.config import load_config
from edge.pii import load_key_file
from edge.web.front import render

MENWEI = Path(sys.executable).parent / "menwei"


def plan(tmp_path: Path) -> InstallPlan:
    return InstallPlan(
        root=tmp_path / "root", menwei_executable=MENWEI, create_user=False, run_systemctl=False
    )


def test_install_into_staging_root_is_complete_and_idempotent(tmp_path):
    p = plan(tmp_path)
    done = install(p)
    root = p.root
    config = load_config(root / "etc/menwei/menwei.toml")
    assert config.storage.data_dir == Path("/var/lib/menwei")
    assert config.web.tls_certificate == Path("/etc/menwei/tls/cert.pem")
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8080)  # behind the front
    assert (config.web.front.address, config.web.front.https_port) == ("0.0.0.0", 443)
    assert "listen 0.0.0.0:443 ssl;" in render(config)
    key = root / "etc/menwei/pii.key"
    assert len(load_key_file(key)) == 32 and oct(key.stat().st_mode & 0o777) == "0o600"
    audit_key = root / "etc/menwei/audit.key"
    assert config.security.audit_key_path == Path("/etc/menwei/audit.key")
    assert len(load_key_file(audit_key)) == 32 and audit_key.read_bytes() != key.read_bytes()
    assert config.audit_checkpoint_path == Path("/var/log/menwei/audit-checkpoints.jsonl")
    assert (root / "etc/menwei/tls/cert.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
    assert oct((root / "etc/menwei/tls/key.pem").stat().st_mode & 0o777) == "0o600"
    for name in UNITS:
        text = (root / "etc/systemd/system" / name).read_text()
        assert "@" not in text.replace("menwei-gate@", "").replace("%i", "")
    assert any("PII key" in line for line in done)
    first_key = key.read_bytes()
    again = install(p)
    assert key.read_bytes() == first_key, "a second run must never replace the PII key"
    assert not any("PII key" in line or "config" in line for line in again)


def test_gate_unit_has_watchdog_restart_hardening_and_safe_stop(tmp_path):
    text = render_unit("menwei-gate@.service", plan(tmp_path))
    for line in [
        "Type=notify",
        "WatchdogSec=30",
        "Restart=always",
        "User=menwei",
        "SupplementaryGroups=gpio video",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/menwei",
        f"ExecStopPost={MENWEI} relays-safe %i -c /etc/menwei/menwei.toml",
    ]:
        assert line in text.splitlines(), line


def analyze(units: list[Path]) -> list[str]:
    """What systemd-analyze verify says about our units (it exits 0 even on parse errors)."""
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    return [line for line in (result.stdout + result.stderr).splitlines() if "menwei" in line]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    p = plan(tmp_path)
    install(p)
    unit_dir = p.root / "etc/systemd/system"
    # An instance of the template, as `systemctl enable menwei-gate@north` would create it.
    shutil.copy(unit_dir / "menwei-gate@.service", unit_dir / "menwei-gate@north.service")
    units = [
        unit_dir / n
        for n in (
            "menwei-gate@north.service",
            "menwei-web.service",
            "menwei-front.service",
            "menwei-audit.service",
            "menwei-audit.timer",
            "menwei-sync.service",
            "menwei.target",
        )
    ]
    assert analyze(units) == []
    broken = unit_dir / "menwei-gate@north.service"
    broken.write_text(broken.read_text().replace("WatchdogSec=30", "WatchdogSec=soon"))
    assert any("soon" in line for line in analyze([broken])), "verify must catch a bad value"


def test_relays_safe_command(tmp_path):
    p = plan(tmp_path)
    install(p)
    config = p.root / "etc/menwei/menwei.toml"
    text = config.read_text().replace('pin_factory = "lgpio"', 'pin_factory = "mock"')
    config.write_text(text)
    result = CliRunner().invoke(main, ["relays-safe", "north-vehicle", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "safe state" in result.output
