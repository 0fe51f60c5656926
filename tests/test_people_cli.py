"""`menwei resident ...` and `menwei pass ...` through click's CliRunner, on real faces and
a real SQLite file: names shown to the admin but encrypted at rest, consent required, every
refused photo named with its reason and nothing stored, PINs prompted twice, passes issued
with a QR PNG and revoked."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from helpers import FACES

from edge.cli.main import main
from edge.config import load_config
from edge.people.passes import pass_fact
from edge.people.residents import check_pin
from edge.pii import create_key_file
from edge.store.open import open_store

CONFIG = """
[storage]
data_dir = "data"
[security]
pii_key_file = "pii.key"
"""


@pytest.fixture
def site(tmp_path) -> Path:
    path = tmp_path / "menwei.toml"
    path.write_text(CONFIG, encoding="utf-8")
    create_key_file(tmp_path / "pii.key")
    return path


def run(site: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, [*args, "-c", str(site)], input=input)


def db_of(site: Path):
    return open_store(load_config(site))


def test_resident_add_list_remove_with_templates(site, face_labels):
    result = run(site, "resident", "add", "王小明", "--household", "3-1-402")
    assert result.exit_code == 0 and "added resident #1" in result.output
    raw = (site.parent / "data" / "menwei.db").read_bytes()
    assert "王小明".encode() not in raw, "names are encrypted at rest"
    photos = [str(FACES / n) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    result = run(site, "resident", "enrol-face", "1", *photos, "--consent-by", "admin")
    assert result.exit_code == 0, result.output
    assert "enrolled 2 face template(s)" in result.output
    assert re.search(r"fr_obama2\.jpg: liveness score [01]\.\d\d", result.output), result.output
    listed = run(site, "resident", "list")
    assert re.search(r"#1\s+王小明\s+3-1-402\s+residents\s+Active\s+2\s+no\s", listed.output)
    result = run(site, "resident", "remove", "1")
    assert result.exit_code == 0 and "2 face template(s)" in result.output
    db = db_of(site)
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert run(site, "resident", "list").output.strip() == "(none)"
    result = run(site, "resident", "remove", "1")
    assert result.exit_code == 1 and "no resident 1" in result.output


def test_enrol_face_refuses_without_consent_and_names_every_refused_photo(
    site, tmp_path, face_labels
):
    run(site, "resident", "add", "Resident")
    good = str(FACES / "fr_obama.jpg")
    result = run(site, "resident", "enrol-face", "1", good)
    assert result.exit_code == 1 and "consent" in result.output
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a photo", encoding="utf-8")
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), cv2.UMat(480, 640, cv2.CV_8UC3, (120, 120, 120)).get())
    args = [good, str(FACES / "fr_two_people.jpg"), str(not_image), str(blank)]
    result = run(site, "resident", "enrol-face", "1", *args, "--consent-by", "admin")
    assert result.exit_code == 1
    refused = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert len(refused) == 3, result.output
    assert "fr_two_people.jpg" in refused[0] and "2 faces" in refused[0]
    assert "notes.jpg" in refused[1] and "not an image" in refused[1]
    assert "wall.png" in refused[2] and "face" in refused[2]
    assert "nothing enrolled: 3 of 4 photo(s) refused" in result.output
    db = db_of(site)
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert db.execute("SELECT face_consent_at FROM residents").fetchone()[0] is None
    result = run(site, "resident", "enrol-face", "7", good, "--consent-by", "admin")
    assert result.exit_code == 1 and "no resident 7" in result.output


def test_set_pin_prompts_twice_and_refuses_weak_pins(site):
    run(site, "resident", "add", "Resident")
    result = run(site, "resident", "set-pin", "1", input="480915\n480915\n")
    assert result.exit_code == 0, result.output
    assert "480915" not in result.output, "the PIN is not echoed"
    assert check_pin(db_of(site), 1, "480915")
    result = run(site, "resident", "set-pin", "1", input="123456\n123456\n")
    assert result.exit_code == 1 and "too easy" in result.output
    assert check_pin(db_of(site), 1, "480915"), "a refused PIN changes nothing"


def test_missing_key_is_a_clear_error(site):
    (site.parent / "pii.key").unlink()
    result = run(site, "resident", "add", "Resident")
    assert result.exit_code == 1 and "menwei install" in result.output
    assert "Traceback" not in result.output


def test_pass_issue_writes_qr_png_and_revoke(site, tmp_path):
    run(site, "resident", "add", "Host", "--household", "5-2-1101")
    png = tmp_path / "visitor.png"
    result = run(
        site,
        "pass",
        "issue",
        "--resident",
        "1",
        "--valid-to",
        "2099-01-01T18:00",
        "--uses",
        "2",
        "--png",
        str(png),
    )
    assert result.exit_code == 0, result.output
    token = result.output.split("QR payload (shown once): ")[1].split()[0]
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.imread(str(png)))
    assert decoded == token
    fact = pass_fact(db_of(site), token)
    assert fact.max_uses == 2 and fact.label == "visitor of resident 1" and not fact.revoked
    assert token not in run(site, "pass", "list").output, "tokens are never stored"
    assert run(site, "pass", "revoke", str(fact.id)).exit_code == 0
    assert pass_fact(db_of(site), token).revoked
    again = run(site, "pass", "revoke", str(fact.id))
    assert again.exit_code == 1 and "already revoked" in again.output
    bad = run(site, "pass", "issue", "--resident", "9", "--valid-to", "2099-01-01")
    assert bad.exit_code == 1 and "no resident 9" in bad.output
    bad = run(site, "pass", "issue", "--valid-to", "yesterday")
    assert bad.exit_code == 2 and "not a date/time" in bad.output
    bad = run(site, "pass", "issue", "--valid-to", "2000-01-01")
    assert bad.exit_code == 1 and "before valid_to" in bad.output
    assert len(db_of(site).execute("SELECT id FROM qr_passes").fetchall()) == 1
