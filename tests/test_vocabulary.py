"""edge.vocabulary: every code a surface shows has its Chinese, reasons render from their
code and parameters in the reader's language and the site zone, old rows keep their stored
message, and the command line's language follows the POSIX locale."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.policy.vehicle import (
    Facts,
    GateFacts,
    Sighting,
    VehicleFact,
    WatchFact,
    decide_vehicle,
)
from edge.vocabulary import Vocabulary, catalog, locale_language, msgids, read_local_time

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Asia/Shanghai")
ZH = Vocabulary.for_language("zh", ZONE)
EN = Vocabulary.for_language("en", ZONE)


def _n_calls() -> set[str]:
    """Every N_("...") outside edge/web (which test_translations covers): the CLI, exports,
    demo and registry export headers."""
    found = set()
    for folder in ("edge", "qr_registry"):
        for path in (ROOT / folder).rglob("*.py"):
            if "web" in path.relative_to(ROOT).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("N_", "tr")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.add(node.args[0].value)
    return found


def test_every_word_of_the_vocabulary_and_the_command_line_has_chinese():
    zh = catalog("zh")
    missing = sorted(m for m in msgids() | _n_calls() if m not in zh)
    assert not missing, missing


def test_a_visitor_vehicle_reason_reads_in_the_site_zone_in_both_languages():
    until = datetime(2026, 12, 1, 13, 12, tzinfo=UTC)  # 21:12 in Shanghai
    visitor = VehicleFact(5, "皖A12345", "visitor", None, until, "household 3-1-402", 3, 1)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    decision = decide_vehicle(
        Sighting("皖A12345", 0.97, True), GateFacts("north", "vehicle"), now, Facts((visitor,))
    )
    reason = decision.reasons[0].as_dict()
    assert "UTC" in reason["message"]  # the district platform's English message is kept
    assert ZH.reason(reason) == (
        "访客车辆，通行证有效 · 3-1-402 户的访客车辆，有效期至 2026-12-01 21:12；第 2 次（共 3 次）"
    )
    assert EN.reason_text(reason) == (
        "visitor vehicle of household 3-1-402, valid until 2026-12-01 21:12; use 2 of 3"
    )


def test_a_watchlist_alert_and_an_unread_plate_have_no_english_in_chinese():
    watch = WatchFact(1, "京A88888", "stolen", "local", None)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    gate = GateFacts("north", "vehicle")
    hit = decide_vehicle(Sighting("京A88888", 0.9, True), gate, now, Facts((), (watch,)))
    assert ZH.reason_text(hit.reasons[-1].as_dict()) == "车牌 京A88888 在布控名单上（本地: stolen）"
    unread = decide_vehicle(Sighting("", 0.31, False), gate, now, Facts())
    assert ZH.reason_text(unread.reasons[0].as_dict()) == "车牌识别不可靠（置信度 0.31）"


def test_a_refused_face_reads_in_chinese():
    """The liveness reasons a door stores (score and threshold, the PIN window, repeated
    attempts) read without English; the cue names stay in the event's details."""
    failed = {
        "code": "liveness_failed",
        "message": "m",
        "params": {"score": 0.1, "threshold": 0.33},
    }
    assert ZH.reason_text(failed) == "活体得分 0.10，低于阈值 0.33"
    assert ZH.reason_text({"code": "liveness_failed", "message": "m", "params": {}}) == (
        "此人脸没有可用于活体判断的画面"
    )
    pin = {"code": "liveness_pin_requested", "message": "m", "params": {"seconds": 20.0}}
    assert ZH.reason_text(pin) == "请该住户在键盘上输入密码（20 秒内）"
    params = {"attempts": 3, "window_s": 60.0, "paused_s": 10.0}
    repeated = {"code": "liveness_repeated", "message": "m", "params": params}
    assert ZH.reason_text(repeated) == "本门 60 秒内已有 3 次人脸被判为伪造；10 秒内暂停人脸识别"


def test_an_old_row_without_parameters_keeps_its_stored_message_in_english_only():
    old = {"code": "visitor_expired", "message": "visitor vehicle of household 1: expired at x"}
    assert ZH.reason(old) == "访客通行证已过期"  # a Chinese reader never meets the English
    assert EN.reason(old) == "Visitor pass expired · visitor vehicle of household 1: expired at x"
    assert ZH.reason({"code": "made_up", "message": "something"}) == "something"
    broken = {"code": "plate_unread", "message": "m", "params": {"confidence": "x"}}
    assert ZH.reason_text(broken) == "车牌未识别"  # a malformed parameter never raises
    assert EN.reason_text(broken) == "m"


def test_subjects_details_and_colours():
    assert ZH.subject("residents: resident 1 of household 3-1-402") == "居民: 3-1-402 户居民 1"
    assert ZH.subject("operator: guard") == "操作员: guard"
    assert ZH.subject("watch face 3") == "布控人脸 3"
    assert EN.subject("pass: visitor of 5-2-1101") == "QR pass: visitor of 5-2-1101"
    assert ZH.detail("colour", "green") == ("车牌颜色", "绿")
    assert ZH.detail("locked_out", False)[1] == "否"
    assert ZH.detail("first_seen", "2026-12-01T13:12:05.120+00:00")[1] == "2026-12-01 21:12:05"


def test_the_command_line_language_follows_the_locale():
    assert locale_language({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert locale_language({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}) == "en"
    assert locale_language({"LANGUAGE": "zh_CN:en", "LANG": "C"}) == "zh"
    assert locale_language({}) == "en"


def test_a_date_alone_ends_at_the_end_of_that_local_day():
    end = read_local_time("2026-12-03", ZONE, end_of_day=True)
    assert end == datetime(2026, 12, 3, 23, 59, 59, tzinfo=ZONE)
    assert read_local_time("2026-12-03", ZONE) == datetime(2026, 12, 3, tzinfo=ZONE)
    assert read_local_time("2026-12-03T18:00", ZONE, end_of_day=True).hour == 18
    assert ZH.time(end) == "2026-12-03 23:59"


def _audit_actions() -> dict[str, str]:
    """Every action code the code writes into the audit log: the third argument of each
    ``audit.append``/``audit.record`` call, a literal or either branch of a conditional;
    an f-string's literal head stands for its family ("request_…")."""
    found: dict[str, str] = {}
    for folder in ("edge", "qr_registry", "sync"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("append", "record")
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("audit", "audit_log")
                    and len(node.args) > 2
                ):
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                arg = node.args[2]
                for value in ast.walk(arg):
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.setdefault(value.value, where)
    return found


def test_every_audit_action_the_code_writes_has_one_label_in_both_languages():
    from edge.vocabulary import AUDIT_ACTIONS

    actions = _audit_actions()
    assert len(actions) > 40
    # computed codes: a registration's decision ("confirmed"[:-2]) and a tenant's request
    computed = {"confirmed", "rejected", "request_", "action"}
    dynamic = {"confirm", "reject", "request_extend", "request_move_out"}
    missing = sorted(f"{code} ({where})" for code, where in actions.items()
                     if code not in AUDIT_ACTIONS and code not in computed)  # fmt: skip
    assert missing == [], "audit actions without a label: " + ", ".join(missing)
    zh = catalog("zh")
    for code in {*actions, *dynamic} - computed:
        assert AUDIT_ACTIONS[code] in zh, code
        assert ZH.audit_action(code) == zh[AUDIT_ACTIONS[code]]
    assert ZH.audit_action("some_new_code") == "some_new_code"  # shown, never dropped
    assert ZH.party("user:3", {3: "保安张三"}) == "保安张三 (#3)"
    assert ZH.party("cli") == "命令行" and EN.party("registration:01J") == "Registration 01J"


def test_the_site_zone_reads_as_people_name_it_never_as_its_iana_id():
    from edge.vocabulary import zone_label

    winter, summer = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    assert zone_label(ZONE, winter, "zh") == "中国标准时间（UTC+8）"
    assert zone_label(ZONE, winter, "en") == "China Standard Time (UTC+8)"
    assert zone_label(ZoneInfo("Asia/Urumqi"), winter, "zh").endswith("（UTC+6）")
    assert zone_label(ZoneInfo("Asia/Kolkata"), winter, "en").endswith("(UTC+5:30)")
    berlin = ZoneInfo("Europe/Berlin")
    assert zone_label(berlin, summer, "zh") != zone_label(berlin, winter, "zh")  # summer time
    assert zone_label(ZoneInfo("America/New_York"), winter, "en").endswith("(UTC-5)")
    for zone in ("Asia/Shanghai", "Europe/Berlin", "UTC", "Asia/Hong_Kong"):
        assert "/" not in zone_label(ZoneInfo(zone), winter, "zh"), zone
