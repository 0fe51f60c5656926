"""A reader of Chinese meets no English and no UTC: every page every role may open (the URL
map, as tests/test_console_authorisation.py walks it), the event and registry exports, and
``menwei events`` / ``vehicle list`` under ``LANG=zh_CN.UTF-8``, over a site with events of
every kind and decision whose reasons come from the real policies.

A Latin word fails the test unless it is on the allowlist: plates, ids, the installer's own
words from the config (site and gate ids, account names), units and brand names. So does any
UTC ISO timestamp (``2026-12-01T13:12``, ``UTC``, ``+00:00``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import PASSWORD, USERS, csrf_of, tenant_form
from openpyxl import load_workbook

from edge import audit
from edge.cli.main import main
from edge.events.record import NewEvent, camera_change_event, manual_open_event, record_event
from edge.events.writer import UNCOUNTED_USE
from edge.gates.pedestrian import DOOR_MESSAGES
from edge.gates.watch_alerts import WatchHit, alert_event
from edge.people.vehicles import VehicleInput, add_vehicle, add_watch
from edge.people.watch_faces import WatchEntry
from edge.policy import person, vehicle
from edge.policy.person import PassFact, ResidentFact, Schedule, VisitFact, decide_person
from edge.policy.vehicle import PolicySettings, VehicleFact, WatchFact, decide_vehicle

NOW = datetime(2026, 12, 1, 13, 14, tzinfo=UTC)  # 21:14 in Shanghai
# Words a Chinese reader meets in Chinese software too: units, brands, formats, acronyms.
ALLOWED = {
    "ms", "px", "s", "KiB", "MiB", "GiB", "MB", "GB", "fps", "GPIO",
    "Menwei", "QR", "PIN", "ID", "CSV", "Excel", "WPS", "GA", "HTTPS", "URL", "IP", "SFace",
    "YuNet", "JPEG", "PNG", "PDF", "ISO", "GB/T", "IANA", "OK", "B",
    "English",  # the language switch names English in English, marked lang="en"
    "HMAC", "Ed",  # the audit chain's algorithms, named as the audit page explains them
    "xlsx", "zip", "jpg", "A",  # file types and the A4 sticker size, as the files are named
    "gates", "access",  # the config key [gates.access] the data page points the admin to
}  # fmt: skip
PLATE = re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fff]?")
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
# "UTC+8" names the site zone's offset (the dashboard); a bare "UTC" is a time in UTC
UTC_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\bUTC\b(?![+-]\d)|\+00:00|Z\b(?<=\dZ)")
ZONE_OFFSET = re.compile(r"\bUTC[+-]\d{1,2}(?::\d{2})?")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


class _Text(HTMLParser):
    """What a person reads on a page: text outside script/style/code.diagnostic, and the
    placeholder, title, alt and aria-label of elements, and button values."""

    SKIP = ("script", "style", "template")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.SKIP or (tag == "code" and "diagnostic" in (values.get("class") or "")):
            self.skipping.append(tag)
        for name in ("placeholder", "title", "alt", "aria-label"):
            if values.get(name):
                self.parts.append(str(values[name]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def latin_problems(text: str, allowed: set[str], where: str) -> list[str]:
    cleaned = ULID.sub(" ", PLATE.sub(" ", text))
    problems = [f"{where}: UTC time {m.group(0)!r}" for m in UTC_STAMP.finditer(cleaned)]
    cleaned = ZONE_OFFSET.sub(" ", cleaned)  # "中国标准时间（UTC+8）": the zone, named
    for token in sorted(allowed, key=len, reverse=True):
        if not token.isalpha():
            cleaned = cleaned.replace(token, " ")
    for match in WORD.finditer(cleaned):
        word = match.group(0)
        if word not in allowed and word.lower() not in allowed:
            start = max(0, match.start() - 30)
            problems.append(f"{where}: {word!r} in …{cleaned[start : match.end() + 30]!r}")
    return problems


@dataclass
class Site:
    env: dict[str, Any]
    allowed: set[str]
    event_ids: list[str]


def _vehicle_events(writer: Any, at: datetime) -> list[NewEvent]:
    """A vehicle passage for every vehicle rule, decided by the real policy."""
    gate = vehicle.GateFacts("north", "vehicle")
    household = "household 3-1-402"
    resident = VehicleFact(1, "皖A12345", "resident", None, None, household)
    visitor = VehicleFact(2, "皖B22222", "visitor", None, NOW + timedelta(days=1), household, 3, 1)
    same = VehicleFact(3, "皖B33333", "visitor", None, NOW + timedelta(days=1), household, 3, 1,
                       last_use_at=NOW - timedelta(seconds=30))  # fmt: skip
    expired = VehicleFact(4, "皖C44444", "temporary", None, NOW - timedelta(hours=1), household)
    early = VehicleFact(5, "皖C55555", "visitor", NOW + timedelta(hours=3), None, household)
    revoked = VehicleFact(6, "皖D66666", "visitor", None, None, household, revoked=True)
    spent = VehicleFact(7, "皖D77777", "visitor", None, None, household, 2, 2)
    watch = WatchFact(1, "京A88888", "涉案车辆", "local", None)
    cases = [
        (vehicle.Sighting("皖A12345", 0.97, True), vehicle.Facts((resident,)), PolicySettings()),
        (vehicle.Sighting("皖B22222", 0.95, True), vehicle.Facts((visitor,)), PolicySettings()),
        (vehicle.Sighting("皖B33333", 0.95, True), vehicle.Facts((same,)), PolicySettings()),
        (vehicle.Sighting("皖C44444", 0.91, True), vehicle.Facts((expired,)), PolicySettings()),
        (vehicle.Sighting("皖C55555", 0.91, True), vehicle.Facts((early,)), PolicySettings()),
        (vehicle.Sighting("皖D66666", 0.91, True), vehicle.Facts((revoked,)), PolicySettings()),
        (vehicle.Sighting("皖D77777", 0.91, True), vehicle.Facts((spent,)), PolicySettings()),
        (vehicle.Sighting("皖E12345", 0.93, True), vehicle.Facts(), PolicySettings()),
        (
            vehicle.Sighting("皖E12346", 0.93, True),
            vehicle.Facts(),
            PolicySettings("open_for_registration"),
        ),
        (vehicle.Sighting("京A88888", 0.9, True), vehicle.Facts((), (watch,)), PolicySettings()),
    ]
    events = []
    for sighting, facts, settings in cases:
        decision = decide_vehicle(sighting, gate, at, facts, settings)
        reasons = tuple(r.as_dict() for r in decision.reasons)
        if decision.vehicle is not None and decision.vehicle.max_uses:
            reasons += (UNCOUNTED_USE,)
        colour = "green" if len(sighting.plate) == 8 else "blue"
        details = {"colour": colour, "votes": 4, "frames": 6, "first_seen": at.isoformat(),
                   "plate_box": [10, 20, 90, 30]}  # fmt: skip
        linked = tuple(
            NewEvent("north", "watchlist_alert", at, "none", plate=sighting.plate,
                     reasons=(a.as_reason().as_dict(),), details={"watch_ids": list(a.watch_ids)})
            for a in decision.alerts
        )  # fmt: skip
        event = NewEvent("north", "vehicle_passage", at, decision.action, plate=sighting.plate,
                         subject=decision.subject, confidence=sighting.confidence,
                         reasons=reasons, details=details)  # fmt: skip
        record_event(writer.db, event, None, writer.snapshots, linked)
        events.append(event)
    unread = decide_vehicle(vehicle.Sighting("", 0.31, False), gate, at, vehicle.Facts())
    door = vehicle.GateFacts("east", "pedestrian")
    wrong = decide_vehicle(vehicle.Sighting("皖A12345", 0.9, True), door, at, vehicle.Facts())
    for decision, kind in ((unread, "plate_unread"), (wrong, "vehicle_passage")):
        event = NewEvent("north", kind, at, decision.action, confidence=0.31,
                         reasons=tuple(r.as_dict() for r in decision.reasons),
                         details={"seen_since": at.isoformat()})  # fmt: skip
        record_event(writer.db, event)
    return events


def _person_events(writer: Any, at: datetime) -> None:
    """A pedestrian event for every person rule, decided by the real policy."""
    gate = person.GateFacts("east", "pedestrian", (("residents", "day"), ("visitors", "always")))
    day = Schedule(days=("mon", "tue", "wed", "thu", "fri"))
    night = Schedule(start=datetime(2026, 1, 1, 8).time(), end=datetime(2026, 1, 1, 9).time())
    resident = ResidentFact(1, True, "residents", "resident 1 of household 3-1-402")
    visit = VisitFact(NOW - timedelta(hours=1), NOW + timedelta(hours=5), 1, 3)
    visitor = ResidentFact(5, True, "visitors", "visitor 5 of household 3-1-402", visit)
    late = ResidentFact(6, True, "visitors", "visitor 6 of household 3-1-402",
                        VisitFact(None, NOW - timedelta(hours=1)))  # fmt: skip
    soon = ResidentFact(7, True, "visitors", "visitor 7", VisitFact(NOW + timedelta(hours=1), None))
    used = ResidentFact(8, True, "visitors", "visitor 8", VisitFact(None, None, 2, 2))
    gone = ResidentFact(9, False, "visitors", "visitor 9", VisitFact(None, None))
    inactive = ResidentFact(2, False, "residents", "resident 2 of household 5-2-1101")
    staff = ResidentFact(3, True, "staff", "resident 3")
    qr = PassFact(4, "visitors", "visitor of 5-2-1101", NOW - timedelta(hours=1),
                  NOW + timedelta(hours=1), 0, 1, False)  # fmt: skip
    cases: list[tuple[person.Sighting, person.Facts, str]] = [
        (person.Sighting("face", 1, score=0.81), person.Facts(resident, None, (("day", day),)),
         "face_passage"),
        (person.Sighting("face", 1, score=0.81), person.Facts(resident, None, (("day", night),)),
         "face_passage"),
        (person.Sighting("face", 5, score=0.77), person.Facts(visitor), "face_passage"),
        (person.Sighting("face", 6, score=0.77), person.Facts(late), "face_passage"),
        (person.Sighting("face", 7, score=0.77), person.Facts(soon), "face_passage"),
        (person.Sighting("pin", 8), person.Facts(used), "pin_passage"),
        (person.Sighting("face", 9, score=0.7), person.Facts(gone), "face_passage"),
        (person.Sighting("pin", 2), person.Facts(inactive), "pin_passage"),
        (person.Sighting("face", 3, score=0.7), person.Facts(staff), "face_passage"),
        (person.Sighting("face", 1, score=0.8), person.Facts(resident, None, ()), "face_passage"),
        (person.Sighting("face"), person.Facts(), "face_unknown"),
        (person.Sighting("pin"), person.Facts(), "pin_passage"),
        (person.Sighting("qr_pass", pass_id=4), person.Facts(None, qr), "qr_pass"),
        (person.Sighting("qr_pass", pass_id=99), person.Facts(), "qr_pass"),
    ]  # fmt: skip
    for revoked, start, end, uses in ((True, -1, 1, 0), (False, 1, 2, 0), (False, -2, -1, 0),
                                      (False, -1, 1, 1)):  # fmt: skip
        fact = PassFact(4, "visitors", "visitor of 5-2-1101", NOW + timedelta(hours=start),
                        NOW + timedelta(hours=end), uses, 1, revoked)  # fmt: skip
        cases.append((person.Sighting("qr_pass", pass_id=4), person.Facts(None, fact), "qr_pass"))
    for sighting, facts, kind in cases:
        decision = decide_person(sighting, gate, at, facts)
        event = NewEvent("east", kind, at, decision.action, subject=decision.subject,
                         confidence=sighting.score,
                         reasons=tuple(r.as_dict() for r in decision.reasons),
                         details={"resident_number": 2, "locked_out": False})  # fmt: skip
        record_event(writer.db, event)
    wrong = decide_person(person.Sighting("face", 1), person.GateFacts("north", "vehicle", ()),
                          at, person.Facts(resident))  # fmt: skip
    reasons = tuple(r.as_dict() for r in wrong.reasons)
    record_event(writer.db, NewEvent("north", "face_passage", at, "deny", reasons=reasons))


def _other_events(writer: Any, at: datetime) -> None:
    for kind, message in DOOR_MESSAGES.items():
        decision = "open" if kind in ("exit_button", "fire_alarm") else "none"
        details = {"open_s": 4.2} if kind == "door_closed" else {"held_open_s": 30}
        record_event(writer.db, NewEvent("east", kind, at, decision,
                                         reasons=({"code": kind, "message": message},),
                                         details=details))  # fmt: skip
    record_event(writer.db, manual_open_event("north", at, USERS["guard"], "救护车进小区"))

    class Health:
        state, last_error = "reconnecting", "VIDEOIO(V4L2:/dev/video0): can't open camera"

    fault = camera_change_event("north", "ok", Health(), at)
    assert fault is not None
    record_event(writer.db, fault)
    Health.state = "ok"
    back = camera_change_event("north", "reconnecting", Health(), at + timedelta(seconds=5))
    assert back is not None
    record_event(writer.db, back)
    # rows written before reasons carried parameters (an older gate, the district's copy):
    # their stored English message never reaches a Chinese reader
    for kind, code, message in (
        ("vehicle_passage", "visitor_expired", "visitor vehicle of household 1: expired at x"),
        ("face_passage", "unknown_face", "face_unknown at east"),
        ("pin_passage", "resident_pin", "pin_passage at east"),
        ("vehicle_passage", "watchlisted", "plate 京A88888 is on the watchlist"),
    ):
        old = ({"code": code, "message": message},)
        record_event(writer.db, NewEvent("north", kind, at, "deny", reasons=old))  # type: ignore[arg-type]
    entry = WatchEntry(3, "在逃人员 甲", "公安通报", "district", (3, 4))
    record_event(writer.db, alert_event(WatchHit(entry, 0.64, 3, at, None), "east", at))


@pytest.fixture(scope="module")
def site(tmp_path_factory, gate_config, console_env, event_recorder, seed_registry) -> Site:
    tmp = tmp_path_factory.mktemp("zh")
    config = gate_config(tmp)
    env = console_env(tmp, config=config, resident_household="3-1-402")
    seeded = seed_registry(config, NOW)
    writer = event_recorder(config)
    for i, at in enumerate((NOW - timedelta(minutes=20), NOW - timedelta(minutes=5))):
        _vehicle_events(writer, at)
        _person_events(writer, at + timedelta(seconds=i))
        _other_events(writer, at + timedelta(seconds=2))
    add_vehicle(writer.db, VehicleInput("皖A12345", "resident", "3-1-402", None, None, "地库"))
    add_vehicle(writer.db, VehicleInput("皖B22222", "visitor", "3-1-402", None,
                                        NOW + timedelta(days=2), ""))  # fmt: skip
    add_watch(writer.db, "京A88888", "涉案车辆", "local", NOW + timedelta(days=30))
    # a tenant registers through the QR form, so the landlord and police pages have rows
    client = env["app"].test_client()
    url = f"/r/{seeded['room_a1'].token}"
    form = {**tenant_form(), "csrf_token": csrf_of(client.get(url).text)}
    assert client.post(url, data=form).status_code in (200, 303)
    env["seeded"] = seeded
    ids = [row[0] for row in writer.db.execute("SELECT id FROM events ORDER BY occurred_at")]
    allowed = set(ALLOWED) | {g.id for g in config.gates} | set(USERS.values())
    allowed |= {"landlord_a", "landlord_b", "admin", "police", "grid"}  # account names
    allowed |= set(config.site.name.split()) | {"day"}  # the site's and a schedule's name
    return Site(env, allowed, ids)


def _rules(app: Any) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if any(w in rule.endpoint for w in ("snapshot", "export", "feed", "sticker", "qr")):
            continue
        found.append((rule.endpoint, rule.rule))
    return found


def _fill(rule: str, site: Site) -> str:
    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if converter.startswith("int"):
            return "1"
        if "event" in name:
            return site.event_ids[-1]
        if name == "token":
            return site.env["seeded"]["room_a1"].token
        return "1"

    return re.sub(r"<(?:([a-z]+(?:\([^)]*\))?):)?([a-z_]+)>", value, rule)


def _login(site: Site, username: str) -> Any:
    audit.use_key_file(site.env["config"].security.audit_key_path)  # the site's, as set up
    client = site.env["app"].test_client()
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": PASSWORD})  # fmt: skip
    assert response.status_code == 302, response.text
    return client


def test_every_page_of_every_role_reads_in_chinese(site):
    problems: list[str] = []
    seen = 0
    accounts = [None, *USERS.values(), "landlord_a"]
    for username in accounts:
        client = _login(site, username) if username else site.env["app"].test_client()
        urls = {_fill(rule, site) for _endpoint, rule in _rules(site.env["app"])}
        urls |= {f"/events/{event_id}" for event_id in site.event_ids}
        for url in sorted(urls):
            response = client.get(url, query_string={"lang": "zh"})
            if response.status_code in (301, 302, 303, 403, 405):
                continue
            if "html" not in response.mimetype:
                continue
            seen += 1
            problems += latin_problems(
                visible_text(response.text), site.allowed, f"{username} {url}"
            )
    assert seen > 40
    by_word: dict[str, str] = {}
    for problem in problems:  # one example of each word: the list stays readable
        by_word.setdefault(problem.split(": ", 1)[1].split(" in ")[0], problem)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(by_word.values()))


def test_exports_are_in_chinese_with_local_times(site):
    problems: list[str] = []
    police = _login(site, USERS["police"])
    events = police.get("/events/export.csv").data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(events)))) > 40
    problems += latin_problems(events, site.allowed, "events.csv")
    officer = _login(site, "police")
    registry = officer.get("/police/export.csv").data.decode("utf-8-sig")
    assert "张三" in registry
    problems += latin_problems(registry, site.allowed, "registrations.csv")
    book = load_workbook(io.BytesIO(officer.get("/police/export.xlsx").data))
    cells = " ".join(str(c.value) for row in book.active.iter_rows() for c in row if c.value)
    problems += latin_problems(cells + " " + book.active.title, site.allowed, "registrations.xlsx")
    admin = _login(site, USERS["admin"])
    for url in ("/data/export.xlsx", "/data/template.xlsx"):  # the admin's workbooks
        book = load_workbook(io.BytesIO(admin.get(url, query_string={"lang": "zh"}).data))
        for sheet in book.worksheets:
            cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)
            problems += latin_problems(f"{sheet.title} {cells}", site.allowed, url)
    assert not problems, "\n".join(problems[:60])
    english = police.get("/events/export.csv?lang=en").data.decode("utf-8-sig")
    assert english.startswith("Event number,Time,Gate") and "Visitor pass expired" in english


def test_the_command_line_reads_in_chinese_under_a_chinese_locale(site, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    config_path = site.env["config"].storage.data_dir.parent / "menwei.toml"
    config_path.write_text(
        "[storage]\n"
        f'data_dir = "{site.env["config"].storage.data_dir}"\n'
        "[security]\n"
        f'pii_key_file = "{site.env["config"].security.pii_key_file}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    problems: list[str] = []
    for args in (["events", "--limit", "200"], ["vehicle", "list"], ["watchlist", "list"],
                 ["resident", "list"], ["pass", "list"]):  # fmt: skip
        result = runner.invoke(main, [*args, "-c", str(config_path)])
        assert result.exit_code == 0, result.output
        problems += latin_problems(result.output, site.allowed, " ".join(args))
    assert not problems, "\n".join(problems[:60])


def test_a_refusal_reads_as_an_error_in_chinese_never_as_a_success(site):
    admin = _login(site, USERS["admin"])
    form = {"csrf_token": csrf_of(admin.get("/admin/").text), "username": USERS["guard"],
            "password": "gatehouse-ledger-7", "role": "guard"}  # fmt: skip
    response = admin.post("/admin/users", data=form, query_string={"lang": "zh"})
    assert response.status_code == 400
    assert re.search(r'<p class="error" role="alert">用户名 guard1 已被使用。</p>', response.text)
    assert 'class="notice"' not in response.text


def test_error_pages_read_in_chinese_with_a_way_back(site):
    """403, 404 and 400 pages (the URL-map walk above skips them): Chinese words, a
    heading that says what happened (not a bare status number) and a link to the start."""
    guard = _login(site, USERS["guard"])
    anonymous = site.env["app"].test_client()
    cases = [
        (guard, "get", "/admin/", 403),
        (guard, "get", "/no/such/page", 404),
        (guard, "get", "/events/01JWMH5ZG05AMTVFRC13C9TX6Z", 404),
        (guard, "get", "/events/?kind=nonsense", 400),
        (anonymous, "get", "/r/not-a-real-token-at-all", 404),
        (anonymous, "post", "/login", 400),  # no form token
    ]
    problems: list[str] = []
    for client, method, url, status in cases:
        response = getattr(client, method)(url + ("&" if "?" in url else "?") + "lang=zh")
        assert response.status_code == status, (url, response.status_code)
        if "html" not in response.mimetype:
            continue
        heading = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
        assert heading and not heading.group(1).strip().isdigit(), (url, heading)
        problems += latin_problems(visible_text(response.text), site.allowed, f"{status} {url}")
    assert not problems, "\n".join(problems)
