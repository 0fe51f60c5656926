"""`menwei demo` end to end: rendered frames → real camera driver → reader → policy → store.

This is the newcomer's first look at the appliance, so it is tested as a whole: every
scripted car must produce the decision the story promises, the barrier relay must have
pulsed exactly for the cars let in, and everything must be in the database.
"""

from __future__ import annotations

import json

import pytest

from edge.demo import run_demo
from edge.events import recent_events
from edge.store import open_store


@pytest.mark.slow
def test_demo_procession_decides_as_scripted(tmp_path):
    lines: list[str] = []
    assert run_demo(tmp_path / "demo", echo=lines.append, fps=10) == 0
    from edge.demo import demo_config

    db = open_store(demo_config(tmp_path / "demo", 10))
    events = list(reversed(recent_events(db, 50)))
    summary = [(e["kind"], e["plate"], e["decision"]) for e in events]
    assert summary == [
        ("vehicle_passage", "皖A12345", "open"),
        ("vehicle_passage", "沪C0L876", "deny"),
        ("vehicle_passage", "粤BD12345", "open"),
        ("vehicle_passage", "苏E99999", "deny"),
        ("vehicle_passage", "京A88888", "deny"),
        ("watchlist_alert", "京A88888", "none"),
        ("plate_unread", None, "deny"),
    ]  # the resident's second pass within the dedupe window is no new event
    assert all(e["snapshot_path"] for e in events if e["kind"] != "watchlist_alert")
    outbox = db.execute("SELECT key, payload FROM outbox ORDER BY seq").fetchall()
    assert [key for key, _ in outbox] == [e["id"] for e in events]
    assert json.loads(outbox[0][1])["plate"] == "皖A12345"
    states = {row[0] for row in db.execute("SELECT state FROM outbox")}
    assert states == {"delivered"}, "the demo delivers everything to the reference platform"
    assert any("District sync: 7 events delivered" in line for line in lines)
    assert any("ALERT raised" in line for line in lines)
    assert (tmp_path / "demo" / "menwei.toml").is_file()
