"""Downlink lists from the reference platform: ETag, atomic swap, bad lists change nothing."""

from __future__ import annotations

import json

import pytest
from helpers import SECRET

from edge.db import connect
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch, facts_for_plate
from sync.downlink import pull_list
from sync.json_protocol import JsonProtocol
from sync.transport import Transport

WATCH = [
    {"plate": "京A88888", "reason": "stolen", "expires_at": None},
    {"plate": "沪ad12345", "reason": "", "expires_at": "2030-01-01T00:00:00+08:00"},
]
VEHICLES = [
    {"plate": "皖A11111", "kind": "resident", "household": "1-1-101"},
    {
        "plate": "皖A22222",
        "kind": "visitor",
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_to": "2030-01-01T00:00:00+08:00",
    },
]


@pytest.fixture
def setup(tmp_path, reference_platform):
    platform = reference_platform()
    db = connect(tmp_path / "box.db")
    proto = JsonProtocol(
        Transport(platform.url, 1, 1, max_response_bytes=64 * 1024), "b", "hmac", SECRET
    )
    yield platform, db, proto


def district(db, table):
    return sorted(r[0] for r in db.execute(f"SELECT plate FROM {table} WHERE source = 'district'"))


def test_lists_applied_then_unchanged_by_etag_and_local_rows_kept(setup):
    platform, db, proto = setup
    add_watch(db, "粤B00001", "local note")
    add_vehicle(db, VehicleInput("粤B00002"))
    platform.set_list("watchlist", WATCH, "v1")
    platform.set_list("vehicles", VEHICLES, "v1")
    assert pull_list(db, proto, "watchlist") == "applied 2 items"
    assert pull_list(db, proto, "vehicles") == "applied 2 items"
    assert district(db, "watchlist") == ["京A88888", "沪AD12345"]  # normalised
    assert district(db, "vehicles") == ["皖A11111", "皖A22222"]
    assert pull_list(db, proto, "watchlist") == "unchanged"  # If-None-Match → 304
    facts = facts_for_plate(db, "皖A11111")
    assert facts.vehicles[0].label == "household 1-1-101"  # the gate's policy sees it
    platform.set_list("watchlist", WATCH[:1], "v2")
    assert pull_list(db, proto, "watchlist") == "applied 1 items"
    assert district(db, "watchlist") == ["京A88888"]
    local = db.execute("SELECT plate FROM watchlist WHERE source = 'local'").fetchall()
    assert local == [("粤B00001",)]
    assert db.execute("SELECT plate FROM vehicles WHERE source = 'local'").fetchall() == [
        ("粤B00002",)
    ]


BAD_LISTS = {
    "invalid plate": json.dumps({"version": "x", "items": [*WATCH, {"plate": "ABC123"}]}),
    "wrong type": json.dumps({"version": "x", "items": [{"plate": 12345}]}),
    "items not a list": json.dumps({"version": "x", "items": {"plate": "京A88888"}}),
    "naive time": json.dumps({"items": [{"plate": "京A88888", "expires_at": "2030-01-01T00:00"}]}),
    "malformed json": '{"items": [',
    "huge body": json.dumps({"items": [{"plate": "京A88888", "reason": "x" * 200_000}]}),
}


@pytest.mark.parametrize("case", sorted(BAD_LISTS))
def test_bad_list_is_rejected_with_a_reason_and_changes_nothing(setup, case, caplog):
    platform, db, proto = setup
    platform.set_list("watchlist", WATCH, "v1")
    pull_list(db, proto, "watchlist")
    before = db.execute("SELECT * FROM watchlist ORDER BY id").fetchall()
    platform.set_raw_list("watchlist", BAD_LISTS[case].encode(), etag='"bad"')
    outcome = pull_list(db, proto, "watchlist")
    assert outcome.startswith(("rejected", "unreachable")), outcome
    assert db.execute("SELECT * FROM watchlist ORDER BY id").fetchall() == before
    assert db.execute(
        "SELECT value FROM sync_state WHERE name = 'downlink.watchlist.etag'"
    ).fetchone() == ('"v1"',)
    assert any("keeping the last good list" in r.message for r in caplog.records)


def test_bad_vehicle_rows(setup):
    platform, db, proto = setup
    for items in (
        [{"plate": "皖A22222", "kind": "visitor"}],  # visitor without end
        [{"plate": "皖A22222", "kind": "boss"}],
        [{"plate": "皖A22222", "household": "x" * 41}],
        [{"plate": "皖A2", "kind": "resident"}],
    ):
        platform.set_list("vehicles", items, "bad")
        assert pull_list(db, proto, "vehicles").startswith("rejected")
    assert district(db, "vehicles") == []


def test_unreachable_platform_keeps_the_last_good_list(setup):
    platform, db, proto = setup
    platform.set_list("vehicles", VEHICLES, "v1")
    pull_list(db, proto, "vehicles")
    platform.faults.outage = True
    assert pull_list(db, proto, "vehicles").startswith("unreachable")
    assert district(db, "vehicles") == ["皖A11111", "皖A22222"]
