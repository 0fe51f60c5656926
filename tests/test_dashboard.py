"""The dashboard: traffic per local hour and day by gate, open/deny with deny reasons,
alarms by kind, registrations pending/overdue per building; who may see it; its charts
and tables in zh and en.

Real SQLite file, real app and test client; events written with edge.events.record.record_event
as a gate writes them, registrations through the tenant form's own code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import client_as, db_of

from edge.db import iso, transaction
from edge.events import stats as event_stats
from edge.events.record import new_event_id
from qr_registry.rooms import add_room

NOW = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)  # the Clock's default: 10:00 in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def env(tmp_path, gate_config, console_env, event_recorder):
    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config, resident_household="3-1-402")
    env["writer"] = event_recorder(config)
    return env


def deny(code: str) -> tuple[dict[str, str], ...]:
    return ({"code": code, "message": f"{code} (test)"},)


def seed_events(writer) -> None:
    # today (local 2025-06-01): 08:10 twice at north (one denied), 09:59 at east, and
    # 00:30 local = 16:30 UTC of the day before (must count for today, hour 00)
    writer.write(NOW - timedelta(hours=1, minutes=50), decision="open", plate="皖A12345")
    writer.write(NOW - timedelta(hours=1, minutes=50), reasons=deny("unknown_vehicle"))
    writer.write(NOW - timedelta(minutes=1), kind="face_passage", gate="east", decision="open")
    writer.write(datetime(2025, 5, 31, 16, 30, tzinfo=UTC), reasons=deny("unknown_vehicle"))
    # 23:30 local of the day before (15:30 UTC): yesterday, not today
    writer.write(datetime(2025, 5, 31, 15, 30, tzinfo=UTC), reasons=deny("resident_expired"))
    # 29 days ago counts, 30 days ago does not
    writer.write(NOW - timedelta(days=29), decision="open")
    writer.write(NOW - timedelta(days=30, hours=3), decision="open")
    # not passages: an alarm, a camera fault, a door closing
    writer.write(NOW - timedelta(hours=3), kind="door_forced", gate="east", decision="none")
    writer.write(NOW - timedelta(days=3), kind="camera_fault", decision="none")
    writer.write(NOW - timedelta(hours=2), kind="door_closed", gate="east", decision="none")


def test_figures_fall_into_local_hours_and_days(env):
    seed_events(env["writer"])
    figures = event_stats.dashboard(db_of(env).conn, NOW, SHANGHAI)
    assert figures.today.isoformat() == "2025-06-01"
    assert len(figures.days) == 30 and figures.days[0].isoformat() == "2025-05-03"
    assert figures.hourly["north"][8] == 2 and figures.hourly["north"][0] == 1
    assert figures.hourly["east"][9] == 1
    assert sum(figures.hourly["north"]) == 3  # yesterday's 23:30 is not today
    assert figures.daily["north"][-2] == 1 and figures.daily["north"][-1] == 3
    assert figures.daily["north"][0] == 1  # 29 days ago
    assert sum(figures.daily["north"]) == 5  # 30 days ago left out
    assert figures.decisions_today == {"open": 2, "deny": 2}
    assert figures.decisions_period == {"open": 3, "deny": 3}
    assert figures.deny_reasons == [("unknown_vehicle", 2), ("resident_expired", 1)]
    assert figures.alarms["door_forced"] == 1 and figures.alarms["camera_fault"] == 1
    assert "door_closed" not in figures.alarms


def test_half_hour_zone_splits_utc_hours(env):
    """In a UTC+5:30 zone, 02:10 UTC is 07:40 local and 02:40 UTC is 08:10 local."""
    kolkata = ZoneInfo("Asia/Kolkata")
    writer = env["writer"]
    writer.write(datetime(2025, 6, 1, 2, 10, tzinfo=UTC), decision="open")
    writer.write(datetime(2025, 6, 1, 2, 40, tzinfo=UTC), decision="open")
    assert event_stats.hour_cut(kolkata, NOW) == "30"
    assert event_stats.hour_cut(SHANGHAI, NOW) == "60"
    figures = event_stats.dashboard(db_of(env).conn, NOW + timedelta(hours=1), kolkata)
    assert figures.hourly["north"][7] == 1 and figures.hourly["north"][8] == 1


def test_a_hand_edited_time_is_skipped_not_a_500(env):
    db = db_of(env)
    with transaction(db) as conn:
        conn.execute(
            "INSERT INTO events (id, occurred_at, gate_id, kind, decision) VALUES"
            " (?, '2025-06-01Tjunk', 'north', 'vehicle_passage', 'open')",
            (new_event_id(NOW),),
        )
    assert event_stats.dashboard(db.conn, NOW, SHANGHAI).decisions_today["open"] == 0
    assert client_as(env, "admin").get("/dashboard/").status_code == 200


def test_registrations_pending_and_overdue_per_building(env):
    db = db_of(env)
    with transaction(db) as conn:
        landlord = env["ids"]["landlord"]
        rooms = [
            add_room(conn, "幸福小区", building, "1单元", number, landlord, NOW).id
            for building, number in (("12幢", "101"), ("3幢", "101"), ("3幢", "102"))
        ]
        for n, (room, status, deadline) in enumerate(
            [
                (rooms[1], "pending", NOW + timedelta(days=1)),
                (rooms[1], "pending", NOW - timedelta(hours=1)),  # overdue
                (rooms[2], "pending", NOW - timedelta(days=2)),  # overdue
                (rooms[2], "confirmed", NOW - timedelta(days=2)),  # decided: not counted
            ]
        ):
            conn.execute(
                "INSERT INTO registrations (id, ref_code, room_id, status, doc_type, doc_enc,"
                " doc_hash, doc_mask, phone_enc, phone_hash, phone_mask, hukou_address_enc,"
                " relation, move_in_date, expected_until, consent_at, consent_version,"
                " submitted_at, confirm_deadline, updated_at, person_enc) VALUES (?, ?, ?, ?,"
                " 'id', x'00', 'h', 'm', x'00', 'h', 'm', x'00', 'tenant', '2025-05-01',"
                " '2026-05-01', ?, 'v1', ?, ?, ?, x'00')",
                (new_event_id(NOW), f"T{n:07d}", room, status, iso(NOW), iso(NOW),
                 iso(deadline), iso(NOW)),
            )  # fmt: skip
    found = event_stats.registrations_by_building(db.conn, NOW)
    ours = [(b.building, b.pending, b.overdue) for b in found if b.community == "幸福小区"]
    assert ours == [("3幢", 3, 2), ("12幢", 0, 0)]  # the console's seeded flats are elsewhere
    html = client_as(env, "admin").get("/dashboard/").text
    table = re.search(r'id="dash-registrations-table">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"幸福小区 3幢</th><td>3</td><td>2</td>", table)
    assert re.search(r"幸福小区 12幢</th><td>0</td><td>0</td>", table)


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("police", 200), ("grid", 200), ("guard", 403), ("landlord", 403),
     ("resident", 403)],
)  # fmt: skip
def test_who_may_see_the_dashboard(env, role, status):
    assert client_as(env, role).get("/dashboard/").status_code == status


def test_anonymous_goes_to_login_and_admin_lands_on_the_dashboard(env):
    response = client_as(env, None).get("/dashboard/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client_as(env, "admin").get("/").headers["Location"].endswith("/dashboard/")


def test_page_in_chinese_with_charts_and_tables(env):
    seed_events(env["writer"])
    html = client_as(env, "admin").get("/dashboard/").text
    assert "<h1>仪表盘</h1>" in html
    assert html.count('<svg class="dash-chart') == 4  # hourly, daily, two splits
    assert 'role="img"' in html and "今日按小时" in html
    hourly = re.search(r'id="dash-hourly-table">(.*?)</table>', html, re.S).group(1)
    # hour 08: north 2, east 0, total 2 (gates in id order: east, north)
    assert re.search(r'<th scope="row">08</th><td>0</td><td>2</td><td>2</td>', hourly)
    assert "北门车行" in hourly and "东门人行" in hourly
    reasons = re.search(r'id="dash-reasons">(.*?)</table>', html, re.S).group(1)
    assert "车牌未登记" in reasons and "<td>2</td>" in reasons
    alarms = re.search(r'id="dash-alarms-table">(.*?)</table>', html, re.S).group(1)
    assert "门被强行打开" in alarms or "强行" in alarms
    assert "http://" not in html.replace("http://www.w3.org", "")  # nothing from elsewhere


def test_page_in_english(env):
    html = client_as(env, "police").get("/dashboard/?lang=en").text
    assert "<h1>Dashboard</h1>" in html and "Passages today by hour" in html
    assert "China Standard Time (UTC+8)" in html and "Asia/Shanghai" not in html


def test_text_in_the_svg_is_escaped(env, tmp_path):
    """A gate named with markup (config is outside input too) is text in the chart."""
    db = db_of(env)
    with transaction(db) as conn:
        conn.execute("INSERT INTO gates (id, name, kind, updated_at) VALUES"
                     " ('old', '<script>x</script>', 'vehicle', ?)", (iso(NOW),))  # fmt: skip
    env["writer"].write(NOW - timedelta(minutes=5), gate="old", decision="open")
    html = client_as(env, "admin").get("/dashboard/").text
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
