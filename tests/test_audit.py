"""The audit log is append-only and any edit, deletion or reordering is detected."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from edge import audit
from edge.cli.main import main
from edge.db import connect, transaction


@pytest.fixture
def db(tmp_path):
    database = connect(tmp_path / "menwei.db")
    for i in range(5):
        audit.record(database, f"user:{i}", "view", f"registration:{i}", n=i)
    return database


def test_chain_verifies_and_triggers_forbid_changes(db) -> None:
    assert audit.verify(db) == audit.VerifyResult(True, 5)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), transaction(db) as conn:
            conn.execute(sql)
    with pytest.raises(RuntimeError):
        audit.append(db.conn, "x", "y")  # outside a transaction


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_log SET details = '{\"n\": 9}' WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 2", 3),
        ("UPDATE audit_log SET at = '2020-01-01T00:00:00.000+00:00' WHERE seq = 5", 5),
    ],
)
def test_tampering_found_even_with_triggers_dropped(db, sql: str, bad_seq: int) -> None:
    db.conn.executescript(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;" + sql + ";"
    )
    result = audit.verify(db)
    assert not result.ok and result.first_bad_seq == bad_seq


# -- completeness: truncation and re-hashing ----------------------------------------------
def _drop_triggers(database) -> None:
    database.conn.executescript(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    )


def _old_style_rehash(database, from_seq: int) -> None:
    """What an attacker with only the database does: recompute plain SHA-256 links (the
    chain's format before it was keyed) from ``from_seq`` to the end."""
    prev = database.execute("SELECT hash FROM audit_log WHERE seq = ?", [from_seq - 1]).fetchone()
    prev_hash = prev[0] if prev else audit.GENESIS
    rows = database.execute(
        "SELECT seq, at, actor, action, target, details FROM audit_log WHERE seq >= ? ORDER BY seq",
        [from_seq],
    ).fetchall()
    for seq, at, actor, action, target, details in rows:
        canonical = json.dumps(
            [seq, at, actor, action, target, details, prev_hash],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        new_hash = hashlib.sha256(canonical.encode()).hexdigest()
        database.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ?, keyed = 0 WHERE seq = ?",
            [prev_hash, new_hash, seq],
        )
        prev_hash = new_hash
    database.conn.commit()


@pytest.fixture
def long_chain(tmp_path):
    database = connect(tmp_path / "menwei.db")
    for i in range(120):
        audit.record(database, f"user:{i % 7}", "view", f"registration:{i}", n=i)
    return database


def test_deleting_the_newest_rows_is_reported_as_truncation(long_chain, tmp_path) -> None:
    """Before: deleting the newest 50 rows left a chain that verified (nothing names the
    end). sqlite_sequence still remembers row 120."""
    _drop_triggers(long_chain)
    long_chain.execute("DELETE FROM audit_log WHERE seq > 70")
    long_chain.conn.commit()
    result = audit.verify(long_chain)
    assert not result.ok and result.first_bad_seq == 71
    assert result.problem.startswith("truncated") and "71-120" in result.problem


def test_truncation_with_the_counter_reset_is_caught_by_a_checkpoint(long_chain, tmp_path) -> None:
    sink = tmp_path / "log" / "checkpoints.jsonl"
    made = audit.make_checkpoint(long_chain, sink)
    assert made.seq == 120
    assert audit.verify(long_chain, sink).ok
    _drop_triggers(long_chain)
    long_chain.conn.executescript(
        "DELETE FROM audit_log WHERE seq > 70;"
        "UPDATE sqlite_sequence SET seq = 70 WHERE name = 'audit_log';"
        "DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints;"
    )
    result = audit.verify(long_chain, sink)  # the file outside the data folder remembers
    assert not result.ok and result.problem.startswith("truncated")
    assert "saw row 120" in result.problem


def test_editing_a_row_and_rehashing_the_rest_is_reported(long_chain, tmp_path) -> None:
    """Before: edit row 40, recompute every later hash, and `audit verify` said OK."""
    _drop_triggers(long_chain)
    long_chain.execute("UPDATE audit_log SET target = 'registration:999' WHERE seq = 40")
    _old_style_rehash(long_chain, 40)
    result = audit.verify(long_chain)
    assert not result.ok and result.first_bad_seq == 40
    assert result.problem == "re-hashed: an unkeyed row after keyed rows"
    # a whole chain rewritten unkeyed links up again, and the checkpoint tells
    _old_style_rehash(long_chain, 1)
    sink = tmp_path / "cp.jsonl"
    assert audit.verify(long_chain, sink).ok is True  # nothing to compare with yet
    database2 = connect(tmp_path / "second.db")
    for i in range(5):
        audit.record(database2, "user:1", "view", f"registration:{i}")
    audit.make_checkpoint(database2, sink)
    _drop_triggers(database2)
    database2.execute("UPDATE audit_log SET target = 'x' WHERE seq = 2")
    _old_style_rehash(database2, 1)
    result = audit.verify(database2, sink)
    assert not result.ok and result.problem.startswith("re-hashed") and result.first_bad_seq == 5


def test_rehashing_with_the_key_is_caught_by_the_district_copy(long_chain, tmp_path) -> None:
    """Someone with root (database, key and both local copies) can rewrite everything on
    the box; the checkpoint the district holds still names the old newest row."""
    sink = tmp_path / "cp.jsonl"
    district = audit.make_checkpoint(long_chain, sink)
    _drop_triggers(long_chain)
    long_chain.conn.executescript(
        "DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints;"
        "DELETE FROM audit_log WHERE seq >= 100;"
        "UPDATE sqlite_sequence SET seq = 99 WHERE name = 'audit_log';"
    )
    sink.unlink()
    key = audit.load_key()
    with transaction(long_chain) as conn:  # re-sign row 99 onwards with the real key
        for i in range(30):
            audit.append(conn, "user:0", "view", f"registration:{i}")
    assert audit.verify(long_chain, sink).ok
    result = audit.verify(long_chain, sink, extra=[district])
    assert not result.ok and result.first_bad_seq == 120
    assert result.problem.startswith("re-hashed")
    assert key.public_key == district.public_key


def test_a_checkpoint_not_signed_by_this_box_is_reported(long_chain, tmp_path) -> None:
    sink = tmp_path / "cp.jsonl"
    real = audit.make_checkpoint(long_chain, sink)
    forged = audit.Checkpoint(real.seq, real.hash, real.at, real.public_key, "00" * 64)
    result = audit.verify(long_chain, sink, extra=[forged])
    assert not result.ok and "not signed by this box" in result.problem


def test_a_chain_written_before_keying_stays_valid_and_protected(tmp_path, audit_key) -> None:
    """Migration 8: old unkeyed rows are the prefix; the first keyed row's MAC covers them."""
    database = connect(tmp_path / "menwei.db")
    for i in range(4):
        audit.record(database, "cli", "add_room", f"room:{i}")
    _drop_triggers(database)
    _old_style_rehash(database, 1)  # as an old box wrote them
    database.conn.executescript(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
        " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    )
    audit.record(database, "user:1", "view", "registration:1")
    assert audit.verify(database) == audit.VerifyResult(True, 5)
    database.conn.executescript("DROP TRIGGER audit_log_no_update;")
    database.execute("UPDATE audit_log SET target = 'room:9' WHERE seq = 2")
    _old_style_rehash(database, 2)  # the prefix re-linked, up to the keyed row
    database.execute("UPDATE audit_log SET keyed = 1 WHERE seq = 5")
    database.conn.commit()
    assert not audit.verify(database).ok


def test_the_key_is_made_on_first_use_but_never_replaced_under_a_keyed_chain(tmp_path) -> None:
    database = connect(tmp_path / "menwei.db")
    key_path = tmp_path / "keys" / "audit.key"
    audit.use_key_file(key_path)
    audit.record(database, "cli", "view")
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    key_path.unlink()
    audit.use_key_file(tmp_path / "keys" / "other.key")
    audit.use_key_file(key_path)
    with pytest.raises(audit.AuditKeyError, match="restore the key file"):
        audit.record(database, "cli", "view")


def test_cli_checkpoint_goes_to_three_places_and_verify_names_truncation(tmp_path) -> None:
    secret = tmp_path / "sync.secret"
    secret.write_text("s3cret\n")
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}/data"\n'
        f'[security]\npii_key_file = "{tmp_path}/keys/pii.key"\n'
        f'audit_checkpoint_file = "{tmp_path}/log/checkpoints.jsonl"\n'
        f'[sync]\nplatform_url = "http://127.0.0.1:9"\ndevice_id = "box-1"\n'
        f'secret_file = "{secret}"\n',
        encoding="utf-8",
    )
    c = ["-c", str(config)]
    runner = CliRunner()
    for name in ("aa1", "aa2", "aa3"):
        made = runner.invoke(
            main, ["user", "add", name, "--role", "guard", *c], input="gatehouse-ledger-7\n" * 2
        )
        assert made.exit_code == 0, made.output
    assert (tmp_path / "keys" / "audit.key").exists()  # beside the PII key by default
    done = runner.invoke(main, ["audit", "checkpoint", *c])
    assert done.exit_code == 0 and "entry 3" in done.output, done.output
    db = connect(tmp_path / "data" / "menwei.db")
    (payload,) = db.execute(
        "SELECT payload FROM outbox WHERE topic = 'audit_checkpoint'"
    ).fetchone()
    sent = audit.Checkpoint.from_json(payload)
    assert sent is not None and sent.seq == 3 and sent.signed_by(sent.public_key)
    line = (tmp_path / "log" / "checkpoints.jsonl").read_text().splitlines()[-1]
    assert audit.Checkpoint.from_json(line) == sent
    ok = runner.invoke(main, ["audit", "verify", *c])
    assert ok.exit_code == 0 and "matches the checkpoint" in ok.output
    _drop_triggers(db)
    db.execute("DELETE FROM audit_log WHERE seq = 3")
    db.conn.commit()
    broken = runner.invoke(main, ["audit", "verify", *c])
    assert broken.exit_code == 1 and "truncated" in broken.output


def test_cli_checkpoint_to_an_unwritable_place_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path}/data"\n'
        f'[security]\npii_key_file = "{tmp_path}/keys/pii.key"\n'
        f'audit_checkpoint_file = "{blocker}/checkpoints.jsonl"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["audit", "checkpoint", "-c", str(config)])
    assert result.exit_code == 1 and "cannot write" in result.output
    db = connect(tmp_path / "data" / "menwei.db")
    assert db.execute("SELECT COUNT(*) FROM audit_checkpoints").fetchone()[0] == 0
