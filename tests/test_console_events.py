"""Gate events in the console: search with filters and keyset pages, an event explained,
snapshots behind login, CSV export, the live feed, and the police audit trail.

Real SQLite file, real app and test client; events are written with edge.events.record.record_event
and their snapshots by edge.store.snapshots, exactly as a gate process writes them.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from helpers import audit_rows, client_as, db_of

from edge.events.record import NewEvent
from edge.events.search import Cursor, EventFilters, search_sql

T0 = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


@pytest.fixture(scope="module")
def site(gate_config, console_env, event_recorder):
    """``site(tmp)``: both gates' site in the console, with an event writer."""

    def build(tmp):
        config = gate_config(tmp)
        env = console_env(tmp, config=config)
        env["writer"] = event_recorder(config)
        return env

    return build


@pytest.fixture
def env(tmp_path, site):
    env = site(tmp_path)
    yield env
    env["writer"].close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory, site):
    """One app with the six-event scenario, shared by the read-only tests (setting up an
    app with its argon2 accounts costs ~2 s; these tests only read and are never audited,
    except the failing police searches, which must write nothing)."""
    env = site(tmp_path_factory.mktemp("scene"))
    env["names"] = scenario(env["writer"])
    yield env
    env["writer"].close()


def ids_in(html: str) -> list[str]:
    """Event ids of the result rows, in page order."""
    return re.findall(r'<tr data-event-id="([0-9A-Z]{26})"', html)


def scenario(writer: Any) -> dict[str, str]:
    """Six events on 1-2 June 2025 (UTC times; local = UTC+8)."""
    w = writer.write
    return {
        "resident": w(T0, decision="open", plate="皖A12345",
                      subject="resident vehicle of household 3-1-402").id,
        "stranger": w(T0 + timedelta(hours=1), plate="皖A12399").id,
        "face": w(T0 + timedelta(hours=2), kind="face_passage", gate="east", decision="open",
                  subject="residents: resident 12 of household 5-2-101").id,
        "watch": w(T0 + timedelta(hours=3), kind="watchlist_alert", decision="none",
                   plate="京A88888").id,
        "late": w(datetime(2025, 6, 1, 15, 59, tzinfo=UTC), kind="plate_unread").id,
        "midnight": w(datetime(2025, 6, 1, 16, 0, tzinfo=UTC), kind="door_forced", gate="east",
                      decision="none").id,
    }  # fmt: skip


# -- who may see what -------------------------------------------------------------------------
def test_routes_by_role(env):
    stored = env["writer"].write(T0, plate="皖A12345", snapshot=True)
    urls = {
        "search": "/events/",
        "feed": "/events/feed?after=0",
        "event": f"/events/{stored.id}",
        "snapshot": f"/events/{stored.id}/snapshot",
        "export": "/events/export.csv",
    }
    expected = {
        "admin": dict.fromkeys(urls, 200),
        "police": dict.fromkeys(urls, 200),
        "guard": {**dict.fromkeys(urls, 200), "export": 403},
        # grid workers see plates, never whole pictures (test_event_thumbnails.py)
        "grid": {**dict.fromkeys(urls, 200), "export": 403, "snapshot": 403},
        "landlord": dict.fromkeys(urls, 403),
    }
    for role, codes in expected.items():
        client = client_as(env, role)
        for name, url in urls.items():
            response = client.get(url)
            assert response.status_code == codes[name], (role, name, response.status_code)
    anonymous = client_as(env, None)
    for url in urls.values():
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response.location, url
    refused = client_as(env, "guard").get("/events/export.csv")
    assert refused.status_code == 403 and "您无权查看此页面" in refused.text


# -- search -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"plate": "皖A12345"}, ["resident"]),
        ({"plate": "皖a·123", "plate_match": "prefix"}, ["stranger", "resident"]),
        ({"plate": "皖A1234", "plate_match": "prefix"}, ["resident"]),
        ({"person": "household 5-2"}, ["face"]),
        ({"person": "HOUSEHOLD 3-1-402"}, ["resident"]),
        ({"person": "100%_"}, []),
        ({"from": "2025-06-01", "to": "2025-06-01"},
         ["late", "watch", "face", "stranger", "resident"]),
        ({"from": "2025-06-02"}, ["midnight"]),
        ({"from": "2025-06-01T10:00", "to": "2025-06-01T11:00"}, ["face", "stranger"]),
        ({"to": "2025-06-01 08:59"}, []),
        ({"to": "2025-06-01 09:00"}, ["resident"]),
        ({"to": "2025-06-01 10:00:00"}, ["stranger", "resident"]),
        ({"gate": "east"}, ["midnight", "face"]),
        ({"decision": "open"}, ["face", "resident"]),
        ({"kind": "watchlist_alert"}, ["watch"]),
        ({"gate": "north", "decision": "deny", "plate": "皖A12", "plate_match": "prefix"},
         ["stranger"]),
        ({}, ["midnight", "late", "watch", "face", "stranger", "resident"]),
    ],
)  # fmt: skip
def test_search_filters_newest_first(scene, query, expected):
    env, names = scene, scene["names"]
    response = client_as(env, "guard").get("/events/", query_string=query)
    assert response.status_code == 200, response.text
    assert ids_in(response.text) == [names[n] for n in expected]
    assert f'data-count="total">{len(expected)}<' in response.text


def test_counts_per_decision(scene):
    html = client_as(scene, "admin").get("/events/").text
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    assert counts == {"total": "6", "open": "2", "deny": "2", "none": "2"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"plate": "ABC!!"}, "province character"),
        ({"plate": "皖A12"}, "not a complete plate"),
        ({"plate": "皖A12345", "plate_match": "fuzzy"}, "exactly or by its beginning"),
        ({"person": "x" * 65}, "too long"),
        ({"from": "yesterday"}, "as a date"),
        ({"from": "2025-13-01"}, "as a date"),
        ({"to": "2025-06-01T25:00"}, "as a date"),
        ({"from": "2025-06-02", "to": "2025-06-01"}, "must be after its start"),
        ({"gate": "nowhere"}, "no such gate"),
        ({"decision": "maybe"}, "Unknown decision"),
        ({"kind": "explosion"}, "Unknown kind"),
        ({"before": "garbage"}, "page link is damaged"),
        ({"before": "12~2025-06-01"}, "page link is damaged"),
    ],
)
def test_bad_search_input_is_a_clear_400_and_audits_nothing(scene, query, message):
    env = scene
    response = client_as(env, "police").get("/events/", query_string={**query, "lang": "en"})
    assert response.status_code == 400
    assert message in response.text
    assert ids_in(response.text) == []
    assert audit_rows(db_of(env), "search") == []


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("/events/not-an-id", 400, "not an event number"),
        ("/events/01HZZZZZZZZZZZZZZZZZZZZZZ!", 400, "not an event number"),
        ("/events/01J0000000000000000000000A", 404, "There is no event"),
        ("/events/01J0000000000000000000000A/snapshot", 404, "There is no event"),
        ("/events/../../etc/passwd", 404, ""),
        ("/events/feed?after=-1", 400, "page link is damaged"),
        ("/events/feed?after=abc", 400, "page link is damaged"),
        ("/events/feed?after=1&alerts=yes", 400, "page link is damaged"),
        ("/events/export.csv?from=31/12/2025", 400, "as a date"),
    ],
)
def test_bad_ids_and_cursors(scene, url, code, message):
    response = client_as(scene, "admin").get(url + ("&" if "?" in url else "?") + "lang=en")
    assert response.status_code == code, response.text
    assert message in response.text


def test_snapshot_size_must_be_known(env):
    stored = env["writer"].write(T0, plate="皖A12345", snapshot=True)
    response = client_as(env, "admin").get(f"/events/{stored.id}/snapshot?size=huge&lang=en")
    assert response.status_code == 400 and "Unknown snapshot size" in response.text


# -- keyset pages -----------------------------------------------------------------------------
def test_keyset_pages_cover_every_event_once_in_order(env):
    writer = env["writer"]
    written = []
    for i in range(120):  # groups of three share one millisecond: the rowid breaks the tie
        written.append(writer.write(T0 + timedelta(seconds=i // 3), plate=f"皖A{10000 + i}").id)
    expected = list(reversed(written))
    client = client_as(env, "police")
    seen, url, pages = [], "/events/", 0
    while url:
        html = client.get(url).text
        page = ids_in(html)
        assert len(page) == (50 if pages < 2 else 20)
        seen += page
        pages += 1
        older = re.search(r'href="([^"]+)" id="older"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
        if pages > 1:
            assert 'id="newest"' in html
    assert pages == 3 and seen == expected
    # Police paging is audited page by page, with where each page started.
    searches = audit_rows(db_of(env), "search")
    assert len(searches) == 3 and searches[0]["details"]["page"] == ""
    assert all(s["details"]["page"] for s in searches[1:])


def test_keyset_page_keeps_filters_and_uses_an_index_not_offset(env):
    writer = env["writer"]
    for i in range(60):
        writer.write(T0 + timedelta(seconds=i), gate="north" if i % 2 else "east",
                     kind="vehicle_passage" if i % 2 else "face_passage")  # fmt: skip
    client = client_as(env, "guard")
    first = client.get("/events/?gate=north").text
    older = re.search(r'href="([^"]+)" id="older"', first)
    assert older is None, "30 events fit on one page"
    db = db_of(env)
    at = "2025-06-01T01:00:30.000+00:00"
    for filters, index in [
        (EventFilters(), "events_time"),
        (EventFilters(gate_id="north"), "events_gate_time"),
        (EventFilters(kind="face_passage"), "events_kind"),
    ]:
        tail, args = search_sql(filters, Cursor(at, 40), 51)
        assert "OFFSET" not in tail
        plan = " ".join(
            row[3] for row in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM events {tail}", args)
        )
        assert index in plan and "TEMP B-TREE" not in plan, plan


# -- one event explained ----------------------------------------------------------------------
def test_event_page_explains_decision_with_related_alert_and_snapshot(env):
    writer = env["writer"]
    alert = NewEvent("north", "watchlist_alert", T0, "none", plate="京A88888",
                     reasons=({"code": "watchlist", "message": "plate on watchlist: stolen"},),
                     details={"watch_ids": [7]})  # fmt: skip
    passage = writer.write(
        T0, decision="deny", plate="京A88888", confidence=0.9731, snapshot=True,
        reasons=({"code": "unknown_vehicle", "message": "plate not registered"},
                 {"code": "policy_deny", "message": "unknown vehicles are denied"}),
        details={"votes": 4, "frames": 6, "first_seen": "2025-06-01T00:59:58+00:00",
                 "decide_ms": 41.5},
        linked=(alert,),
    )  # fmt: skip
    [alert_id] = passage.linked_ids
    client = client_as(env, "guard")
    html = client.get(f"/events/{passage.id}?lang=en").text
    reasons = re.search(r'<ol id="reasons".*?</ol>', html, re.S).group(0)
    assert reasons.index("Plate not registered") < reasons.index("unknown vehicles are denied")
    details = re.search(r'<table id="details">.*?</table>', html, re.S).group(0)
    assert "<th>Votes</th><td>4</td>" in details and "<th>Frames</th><td>6</td>" in details
    assert "41.5" in details and "<td>2025-06-01 08:59:58</td>" in details  # site time
    assert 'id="confidence">97.3%<' in html and 'id="plate">京A88888<' in html
    related = re.search(r'<ul id="related">.*?</ul>', html, re.S).group(0)
    assert f"/events/{alert_id}" in related and "raised by this event" in related
    assert f'src="/events/{passage.id}/snapshot"' in html
    back = client.get(f"/events/{alert_id}?lang=en").text
    assert f"/events/{passage.id}" in back and "this event belongs to it" in back
    assert "plate on watchlist: stolen" in back
    # the alert has no picture of its own: its page shows the passage's snapshot
    assert 'id="snapshot-of"' in back and f'src="/events/{passage.id}/snapshot"' in back
    # The snapshot route serves the very file edge.store.snapshots wrote; the thumbnail is a
    # quarter.
    full = client.get(f"/events/{passage.id}/snapshot")
    assert full.status_code == 200 and full.mimetype == "image/jpeg"
    on_disk = env["config"].storage.snapshot_dir / passage.snapshot_path
    assert full.data == on_disk.read_bytes()
    assert full.headers["Cache-Control"] == "no-store"
    thumb = client.get(f"/events/{passage.id}/snapshot?size=thumb")
    image = cv2.imdecode(np.frombuffer(thumb.data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (90, 160)
    # In Chinese (the default) each reason leads with its translated label; a code this
    # version does not know shows its stored message alone.
    zh = client.get(f"/events/{passage.id}?lang=zh").text
    reasons_zh = re.search(r'<ol id="reasons".*?</ol>', zh, re.S).group(0)
    assert "车牌未登记" in reasons_zh and "plate not registered" not in reasons_zh
    assert reasons_zh.count("<strong>") == 0 and "unknown vehicles are denied" in reasons_zh
    row = client.get("/events/?lang=zh").text
    assert "车牌未登记" in row and "plate not registered" not in row


def test_snapshot_route_refuses_paths_outside_the_snapshot_folder(env):
    root = env["config"].storage.snapshot_dir
    client = client_as(env, "admin")
    for where in ("../menwei.db", "/etc/passwd", "2025/../../menwei.db", "link"):
        stored = env["writer"].write(T0, plate="皖A12345", snapshot=True)
        if where == "link":
            (root / "2025" / "link.jpg").symlink_to(env["config"].storage.database_path)
            where = "2025/link.jpg"
        db = env["writer"].db
        db.execute("UPDATE events SET snapshot_path = ? WHERE id = ?", [where, stored.id])
        for size in ("", "thumb"):
            response = client.get(f"/events/{stored.id}/snapshot?size={size}&lang=en")
            assert response.status_code == 404, where
            assert "has no snapshot" in response.text
            assert b"SQLite format" not in response.data and b"root:" not in response.data


def test_event_without_snapshot_has_none(env):
    stored = env["writer"].write(T0, kind="camera_fault", decision="none")
    response = client_as(env, "guard").get(f"/events/{stored.id}/snapshot?lang=en")
    assert response.status_code == 404 and "has no snapshot" in response.text


# -- the feed ---------------------------------------------------------------------------------
def test_feed_returns_only_newer_events_with_alert_flags(env):
    writer = env["writer"]
    writer.write(T0, plate="皖A12345")  # before the page opened: never in the feed
    client = client_as(env, "guard")
    start = client.get("/events/feed").get_json()
    assert start["events"] == [] and start["cursor"] >= 1
    alert = NewEvent("north", "watchlist_alert", T0, "none", plate="京A88888",
                     reasons=({"code": "watchlist", "message": "stolen"},))  # fmt: skip
    passage = writer.write(T0 + timedelta(seconds=5), plate="京A88888", linked=(alert,))
    forced = writer.write(T0 + timedelta(seconds=6), kind="door_forced", gate="east")
    fault = writer.write(T0 + timedelta(seconds=7), kind="camera_fault")
    cleared = writer.write(T0 + timedelta(seconds=8), kind="fire_alarm_cleared", gate="east")
    body = client.get(f"/events/feed?after={start['cursor']}").get_json()
    got = [(e["id"], e["kind"], e["alert"]) for e in body["events"]]
    assert got == [
        (passage.id, "vehicle_passage", False),
        (passage.linked_ids[0], "watchlist_alert", True),
        (forced.id, "door_forced", True),
        (fault.id, "camera_fault", True),
        (cleared.id, "fire_alarm_cleared", False),
    ]
    first = body["events"][1]
    assert first["id"] in first["row_html"] and "京A88888" in first["alert_html"]
    assert body["events"][0]["alert_html"] is None and body["more"] is False
    assert body["events"][2]["time"] == "2025-06-01 09:00:06"
    again = client.get(f"/events/feed?after={body['cursor']}").get_json()
    assert again == {"cursor": body["cursor"], "events": [], "more": False, "open_prompts": []}
    alerts = client.get(f"/events/feed?after={start['cursor']}&alerts=1").get_json()
    assert [e["kind"] for e in alerts["events"]] == [
        "watchlist_alert",
        "door_forced",
        "camera_fault",
    ]
    assert alerts["cursor"] == body["cursor"]


def test_feed_hands_out_batches_and_restarts_after_a_restore(env):
    writer = env["writer"]
    client = client_as(env, "admin")
    start = client.get("/events/feed").get_json()["cursor"]
    for i in range(60):
        writer.write(T0 + timedelta(seconds=i), plate=f"皖A{10000 + i}")
    first = client.get(f"/events/feed?after={start}").get_json()
    assert len(first["events"]) == 50 and first["more"] is True
    second = client.get(f"/events/feed?after={first['cursor']}").get_json()
    assert len(second["events"]) == 10 and second["more"] is False
    assert {e["id"] for e in first["events"]}.isdisjoint(e["id"] for e in second["events"])
    beyond = client.get("/events/feed?after=999999").get_json()
    assert beyond["events"] == [] and beyond["cursor"] == second["cursor"]


# -- police audit -----------------------------------------------------------------------------
def test_police_and_grid_reads_are_audited_guards_are_not(env):
    writer = env["writer"]
    stored = writer.write(T0, plate="皖A12345", snapshot=True, subject="resident of 3-1-402")
    for role in ("police", "grid", "guard"):
        client = client_as(env, role)
        cursor = client.get("/events/feed").get_json()["cursor"]
        before = len(audit_rows(db_of(env)))
        client.get(
            "/events/", query_string={"plate": "皖A12345", "person": "张三", "gate": "north"}
        )
        client.get(f"/events/{stored.id}")
        client.get(f"/events/{stored.id}/snapshot")
        client.get(f"/events/feed?after={cursor}")  # nothing new: never an audit row
        client.get(f"/events/feed?after={cursor}&alerts=1")
        alert = writer.write(T0 + timedelta(minutes=1), kind="door_forced", gate="east")
        client.get(f"/events/feed?after={cursor}&alerts=1")
        rows = audit_rows(db_of(env))[before:]
        if role == "guard":
            assert rows == []
            continue
        user = f"user:{env['ids'][role]}"
        assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
            (user, "search", "events"),
            (user, "view", f"event:{stored.id}"),
            # a grid worker's request for a whole picture is refused, and logged too
            (user, "view_snapshot" if role == "police" else "snapshot_refused",
             f"event:{stored.id}"),
            (user, "feed", "events"),
        ]  # fmt: skip
        search = rows[0]["details"]
        assert search["filters"] == {"plate": "皖A12345", "plate_match": "exact",
                                     "gate_id": "north", "person": "(given)"}  # fmt: skip
        assert search["results"] == 0  # the subject does not contain the typed name
        assert rows[3]["details"]["alerts"] == [alert.id]
        assert "张三" not in str(rows)


# -- export -----------------------------------------------------------------------------------
def test_export_csv_is_filtered_safe_and_audited(env):
    writer = env["writer"]
    scenario(writer)
    evil = writer.write(T0 + timedelta(minutes=30), plate="皖A12388", subject="=HYPERLINK(1)",
                        reasons=({"code": "x", "message": "+cmd|' /C calc'!A0"},))  # fmt: skip
    response = client_as(env, "police").get(
        "/events/export.csv", query_string={"plate": "皖A123", "plate_match": "prefix"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["事件编号", "时间", "出入口"]  # Chinese unless lang=en
    body = rows[1:]
    assert [r[4] for r in body] == ["皖A12399", "皖A12388", "皖A12345"]
    evil_row = next(r for r in body if r[0] == evil.id)
    assert evil_row[5] == "'=HYPERLINK(1)" and evil_row[8].startswith("'+cmd")
    assert evil_row[1] == "2025-06-01 09:30:00" and evil_row[2] == "北门车行"
    [export] = audit_rows(db_of(env), "export")
    assert export["details"]["results"] == 3
    assert export["details"]["filters"] == {"plate": "皖A123", "plate_match": "prefix"}
    assert export["actor"] == f"user:{env['ids']['police']}"
