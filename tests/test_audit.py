"""The audit log is append-only and any edit, deletion or reordering is detected."""

from __future__ import annotations

import pytest

from edge import audit
from edge.db import connect, transaction


@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    database = connect(tmp_path / "menwei.db")
    for i in range(5):
        audit.record(database, f"user:{i}", "view", f"registration:{i}", n=i)
    return database


def test_chain_verifies_and_triggers_forbid_changes(db) -> None:  # type: ignore[no-untyped-def]
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
def test_tampering_found_even_with_triggers_dropped(db, sql: str, bad_seq: int) -> None:  # type: ignore[no-untyped-def]
    db.conn.executescript(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;" + sql + ";"
    )
    result = audit.verify(db)
    assert not result.ok and result.first_bad_seq == bad_seq
