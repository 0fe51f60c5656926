"""menwei user add / room add / stickers / audit verify, and menwei web on waitress."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from click.testing import CliRunner
from helpers import menwei_web

from edge.cli.main import main

BASE = '[storage]\ndata_dir = "{tmp}/data"\n[security]\npii_key_file = "{tmp}/pii.key"\n'


def test_cli_bootstrap_stickers_and_audit(tmp_path: Path) -> None:
    config = tmp_path / "menwei.toml"
    config.write_text(BASE.format(tmp=tmp_path), encoding="utf-8")
    runner = CliRunner()
    c = ["-c", str(config)]
    made = runner.invoke(
        main, ["user", "add", "ll1", "--role", "landlord", *c], input="gatehouse-ledger-7\n" * 2
    )
    assert made.exit_code == 0, made.output
    short = runner.invoke(
        main, ["user", "add", "ll2", "--role", "landlord", *c], input="short\nshort\n"
    )
    assert short.exit_code != 0 and "10 to 200" in short.output
    for weak in ("aaaaaaaaaa", "password123", "1qaz2wsx3edc", "ll2-ll2-ll2-ll2"):
        refused = runner.invoke(
            main, ["user", "add", "ll2", "--role", "landlord", *c], input=f"{weak}\n{weak}\n"
        )
        assert refused.exit_code != 0 and "too easy to guess" in refused.output, weak
    room = runner.invoke(
        main, ["room", "add", "幸福小区", "3幢", "1单元", "402", "--landlord", "ll1", *c]
    )
    assert room.exit_code == 0 and "幸福小区 3幢 1单元 402" in room.output
    assert (
        runner.invoke(
            main, ["room", "add", "A", "B", "C", "1", "--landlord", "nobody", *c]
        ).exit_code
        != 0
    )
    pdf = tmp_path / "s.pdf"
    assert runner.invoke(main, ["stickers", "--landlord", "ll1", "-o", str(pdf), *c]).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    ok = runner.invoke(main, ["audit", "verify", *c])
    assert ok.exit_code == 0 and "2 entries" in ok.output


def test_menwei_web_serves_on_waitress(tmp_path: Path) -> None:
    web = menwei_web(
        tmp_path / "menwei.toml", lambda port: BASE.format(tmp=tmp_path) + f"[web]\nport = {port}\n"
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/login", timeout=30) as r:
            assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"
            assert "登录" in r.read().decode()
    finally:
        web.stop()


def test_rooms_and_accounts_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "menwei.toml"
    config.write_text(BASE.format(tmp=tmp_path), encoding="utf-8")
    runner = CliRunner()
    c = ["-c", str(config)]
    assert "--password" not in runner.invoke(main, ["user", "add", "--help"]).output
    password = "gatehouse-ledger-7\n" * 2
    for name in ("ll1", "guard7"):
        role = "landlord" if name == "ll1" else "guard"
        made = runner.invoke(main, ["user", "add", name, "--role", role, *c], input=password)
        assert made.exit_code == 0, made.output
    room = runner.invoke(main, ["room", "add", "幸福小区", "3幢", "1单元", "402", "--landlord",
                                "ll1", *c])  # fmt: skip
    assert "sticker URL: http" in room.output and "/r/" in room.output
    runner.invoke(main, ["room", "add", "幸福小区", "3幢", "1单元", "403", "--landlord", "ll1", *c])
    listed = runner.invoke(main, ["room", "list", *c]).output
    assert "幸福小区 3幢 1单元 402" in listed and "ll1" in listed and "/r/" in listed
    removed = runner.invoke(main, ["room", "remove", "2", *c])
    assert removed.exit_code == 0, removed.output
    assert "403" not in runner.invoke(main, ["room", "list", *c]).output
    assert runner.invoke(main, ["room", "remove", "2", *c]).exit_code == 1
    users = runner.invoke(main, ["user", "list", *c]).output
    assert "guard7" in users and "Active" in users and "gatehouse" not in users
    changed = runner.invoke(
        main, ["user", "passwd", "guard7", *c], input="ledger-gatehouse-8\n" * 2
    )
    assert changed.exit_code == 0, changed.output
    off = runner.invoke(main, ["user", "deactivate", "guard7", *c])
    assert off.exit_code == 0 and "deactivated" in off.output
    assert "Inactive" in runner.invoke(main, ["user", "list", *c]).output
    assert runner.invoke(main, ["user", "passwd", "nobody", *c], input=password).exit_code == 1
    assert runner.invoke(main, ["audit", "verify", *c]).exit_code == 0
