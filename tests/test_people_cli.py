"""`menwei resident ...` and `menwei pass ...` through click's CliRunner, on real faces and
a real SQLite file: names shown to the admin but encrypted at rest, consent required, every
refused photo named with its reason and nothing stored, PINs prompted twice, passes issued
with a QR PNG and revoked."""

from __future__ import annotations

import json
import re

import cv2
from helpers import FACES

from edge.people.passes import pass_fact
from edge.people.residents import check_pin


def test_resident_add_list_remove_with_templates(cli_site, face_labels):
    result = cli_site.run("resident", "add", "王小明", "--household", "3-1-402")
    assert result.exit_code == 0 and "added resident #1" in result.output
    raw = (cli_site.folder / "data" / "menwei.db").read_bytes()
    assert "王小明".encode() not in raw, "names are encrypted at rest"
    photos = [str(FACES / n) for n in ("fr_obama.jpg", "fr_obama2.jpg")]
    result = cli_site.run("resident", "enrol-face", "1", *photos, "--consent-by", "admin")
    assert result.exit_code == 0, result.output
    assert "enrolled 2 face template(s)" in result.output
    assert re.search(r"fr_obama2\.jpg: liveness score [01]\.\d\d", result.output), result.output
    db = cli_site.db()
    rows = db.execute(
        "SELECT actor, target, details FROM audit_log WHERE action = 'face_enrol'"
    ).fetchall()
    db.conn.close()
    assert len(rows) == 1 and rows[0][:2] == ("cli", "resident:1"), rows
    details = json.loads(rows[0][2])
    assert len(details["templates"]) == 2 and len(details["liveness_scores"]) == 2, details
    listed = cli_site.run("resident", "list")
    assert re.search(r"#1\s+王小明\s+3-1-402\s+residents\s+Active\s+2\s+no\s", listed.output)
    result = cli_site.run("resident", "remove", "1")
    assert result.exit_code == 0 and "2 face template(s)" in result.output
    db = cli_site.db()
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert cli_site.run("resident", "list").output.strip() == "(none)"
    result = cli_site.run("resident", "remove", "1")
    assert result.exit_code == 1 and "no resident 1" in result.output


def test_enrol_face_refuses_without_consent_and_names_every_refused_photo(
    cli_site, tmp_path, face_labels
):
    cli_site.run("resident", "add", "Resident")
    good = str(FACES / "fr_obama.jpg")
    result = cli_site.run("resident", "enrol-face", "1", good)
    assert result.exit_code == 1 and "consent" in result.output
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a photo", encoding="utf-8")
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), cv2.UMat(480, 640, cv2.CV_8UC3, (120, 120, 120)).get())
    args = [good, str(FACES / "fr_two_people.jpg"), str(not_image), str(blank)]
    result = cli_site.run("resident", "enrol-face", "1", *args, "--consent-by", "admin")
    assert result.exit_code == 1
    refused = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert len(refused) == 3, result.output
    assert "fr_two_people.jpg" in refused[0] and "2 faces" in refused[0]
    assert "notes.jpg" in refused[1] and "not an image" in refused[1]
    assert "wall.png" in refused[2] and "face" in refused[2]
    assert "nothing enrolled: 3 of 4 photo(s) refused" in result.output
    db = cli_site.db()
    assert (
        db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'face_enrol'").fetchone()[0] == 0
    )
    assert db.execute("SELECT COUNT(*) FROM face_templates").fetchone()[0] == 0
    assert db.execute("SELECT face_consent_at FROM residents").fetchone()[0] is None
    result = cli_site.run("resident", "enrol-face", "7", good, "--consent-by", "admin")
    assert result.exit_code == 1 and "no resident 7" in result.output


def test_set_pin_prompts_twice_and_refuses_weak_pins(cli_site):
    cli_site.run("resident", "add", "Resident")
    result = cli_site.run("resident", "set-pin", "1", input="480915\n480915\n")
    assert result.exit_code == 0, result.output
    assert "480915" not in result.output, "the PIN is not echoed"
    assert check_pin(cli_site.db(), 1, "480915")
    result = cli_site.run("resident", "set-pin", "1", input="123456\n123456\n")
    assert result.exit_code == 1 and "too easy" in result.output
    assert check_pin(cli_site.db(), 1, "480915"), "a refused PIN changes nothing"


def test_missing_key_is_a_clear_error(cli_site):
    (cli_site.folder / "pii.key").unlink()
    result = cli_site.run("resident", "add", "Resident")
    assert result.exit_code == 1 and "menwei install" in result.output
    assert "Traceback" not in result.output


def test_pass_issue_writes_qr_png_and_revoke(cli_site, tmp_path):
    cli_site.run("resident", "add", "Host", "--household", "5-2-1101")
    png = tmp_path / "visitor.png"
    result = cli_site.run(
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
    image = cv2.imread(str(png))
    # the door's two readers: OpenCV's default one misses about 1 code in 100
    readers = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    decoded = [reader.detectAndDecode(image)[0] for reader in readers]
    assert token in decoded
    fact = pass_fact(cli_site.db(), token)
    assert fact.max_uses == 2 and fact.label == "visitor of resident 1" and not fact.revoked
    assert token not in cli_site.run("pass", "list").output, "tokens are never stored"
    assert cli_site.run("pass", "revoke", str(fact.id)).exit_code == 0
    assert pass_fact(cli_site.db(), token).revoked
    again = cli_site.run("pass", "revoke", str(fact.id))
    assert again.exit_code == 1 and "already revoked" in again.output
    bad = cli_site.run("pass", "issue", "--resident", "9", "--valid-to", "2099-01-01")
    assert bad.exit_code == 1 and "no resident 9" in bad.output
    bad = cli_site.run("pass", "issue", "--valid-to", "yesterday")
    assert bad.exit_code == 2 and "not a date/time" in bad.output
    bad = cli_site.run("pass", "issue", "--valid-to", "2000-01-01")
    assert bad.exit_code == 1 and "before valid_to" in bad.output
    bad = cli_site.run("pass", "issue", "--valid-to", "")
    assert bad.exit_code == 2 and "--valid-to" in bad.output and "end time" in bad.output
    assert len(cli_site.db().execute("SELECT id FROM qr_passes").fetchall()) == 1
