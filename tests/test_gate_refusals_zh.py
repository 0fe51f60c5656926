"""When a gate does not do what the console asked, a Chinese reader reads why in Chinese.

The console asks a gate process through its control socket (manual open, a guard's
confirmation of a plate the gate asked about); the gate may refuse (a code and an English
detail in its reply) or not answer at all. Every answer is worded from its code
(edge.vocabulary.GATE_REPLIES, zh in the catalogs); the gate's own English words appear only
as a marked diagnostic (``<code class="diagnostic" lang="en">``). These tests run the console
against REAL control servers on Unix sockets (edge.gates.control.GateControlServer, and a raw
socket that answers garbage) and read the page as a person would (test_zh_everywhere's
visible text: no Latin word outside the allowlist).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import PASSWORD, USERS, audit_rows, client_as, csrf_of, db_of, nonce_for
from test_zh_everywhere import ALLOWED, latin_problems, visible_text

from edge.cli.main import main
from edge.errors import UserError
from edge.events.record import NewEvent, record_event
from edge.gates.control import GateControlServer, send_gate_command, socket_path
from edge.store.prompts import NewPrompt, open_prompts
from edge.vocabulary import GATE_REPLIES, Vocabulary

OPEN_NORTH = "/console/gates/north/open"
ZH_WHY = {
    "no_plates": "该出入口不识别车牌，无车牌可确认",
    "gate_error": "控制程序处理请求时出错（请查看其日志）",
    "reason": "手动开闸须填写原因",
    "not_running": "其控制程序未运行",
    "bad_reply": "其控制程序的应答无法识别",
    "unknown": "出入口给出了本版本无法识别的原因",
}


@pytest.fixture
def env(tmp_path, console_env, gate_config):  # type: ignore[no-untyped-def]
    config = gate_config(tmp_path)
    env = console_env(tmp_path, config=config)
    env["allowed"] = ALLOWED | {"north", "east", "KB", *USERS.values()}  # KB: the database size
    return env


@contextlib.contextmanager
def gate_answering(
    env: dict, handler: Callable[[dict[str, Any]], dict[str, Any]]
) -> Iterator[None]:
    """A real control server for ``north`` whose gate answers with ``handler``."""
    server = GateControlServer(socket_path(env["config"].storage.run_dir, "north"), handler)
    try:
        yield
    finally:
        server.close()


@contextlib.contextmanager
def gate_talking_nonsense(env: dict) -> Iterator[None]:
    """Something on north's socket that answers every request with a line that is not JSON."""
    path = socket_path(env["config"].storage.run_dir, "north")
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"Internal Server Error\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
        path.unlink(missing_ok=True)


def refuse(code: str, detail: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def handler(_request: dict[str, Any]) -> dict[str, Any]:
        raise UserError(detail, code=code)

    return handler


def crash(_request: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("database is locked")


def post_zh(client, page: str, action: str, **form: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_of(page), "form_nonce": nonce_for(page, action), **form}
    return client.post(action + "?lang=zh", data=data)


def assert_reads_in_chinese(env: dict, html: str, why: str, detail: str) -> None:
    text = visible_text(html)
    problems = latin_problems(text, env["allowed"], "live page")
    assert not problems, "\n".join(problems)
    assert why in text, text
    assert detail not in text, "the gate's English detail is not what the guard reads"
    assert '<code class="diagnostic" lang="en" id="error-detail">' in html
    assert detail in html, "but it is there, marked, for support"


@pytest.mark.parametrize(
    ("handler", "why", "detail"),
    [
        (refuse("no_plates", "gate north reads no plates: nothing to confirm"), "no_plates",
         "reads no plates"),
        (crash, "gate_error", "database is locked"),
        (refuse("reason", "a reason (1-200 characters) is required"), "reason", "is required"),
        (refuse("from_a_newer_gate", "a newer gate's reason"), "unknown", "newer gate"),
    ],
)  # fmt: skip
def test_a_gate_refusing_to_open_reads_in_chinese(env, handler, why: str, detail: str) -> None:
    client = client_as(env, "guard")
    page = client.get("/console/?lang=zh").text
    with gate_answering(env, handler):
        response = post_zh(client, page, OPEN_NORTH, reason="送货")
    assert response.status_code == 502
    assert "北门车行 拒绝开启" in response.text
    assert_reads_in_chinese(env, response.text, ZH_WHY[why], detail)
    [attempt] = audit_rows(db_of(env), "manual_open")
    assert attempt["details"]["result"] == "refused"
    assert attempt["details"]["code"] == (why if why != "unknown" else "from_a_newer_gate")
    assert detail in attempt["details"]["error"], "the audit keeps the gate's own words"


def test_a_gate_not_running_or_talking_nonsense_reads_in_chinese(env) -> None:
    client = client_as(env, "guard")
    page = client.get("/console/?lang=zh").text
    response = post_zh(client, page, OPEN_NORTH, reason="送货")
    assert response.status_code == 409 and "北门车行 未开启" in response.text
    assert_reads_in_chinese(env, response.text, ZH_WHY["not_running"], "is not running")
    page = client.get("/console/?lang=zh").text
    with gate_talking_nonsense(env):
        response = post_zh(client, page, OPEN_NORTH, reason="送货")
    assert response.status_code == 409
    assert_reads_in_chinese(env, response.text, ZH_WHY["bad_reply"], "unreadable reply")
    codes = [row["details"]["code"] for row in audit_rows(db_of(env), "manual_open")]
    assert codes == ["not_running", "bad_reply"]


def test_a_refused_confirmation_reads_in_chinese_and_keeps_the_question(
    env, event_recorder
) -> None:
    recorder = event_recorder(env["config"])
    try:
        candidate = {"plate": "皖B12340", "kind": "visitor", "household": "", "vehicle_id": 9}
        prompt = NewPrompt("near_miss", "皖B1234Q", (candidate,), None)
        event = NewEvent("north", "vehicle_passage", env["clock"](), "deny", plate="皖B1234Q",
                         prompt=prompt)  # fmt: skip
        record_event(recorder.db, event)
    finally:
        recorder.close()
    [question] = open_prompts(db_of(env).conn)
    client = client_as(env, "guard")
    page = client.get("/console/?lang=zh").text
    action = f"/console/prompts/{question['id']}/confirm"
    with gate_answering(env, crash):
        response = post_zh(client, page, action, plate="皖B12340")
    assert response.status_code == 502
    assert_reads_in_chinese(env, response.text, ZH_WHY["gate_error"], "database is locked")
    assert [p["id"] for p in open_prompts(db_of(env).conn)] == [question["id"]], "asked again"


def test_the_control_channel_answers_every_refusal_with_a_code_the_vocabulary_words(
    env,
) -> None:
    run_dir = env["config"].storage.run_dir
    words = Vocabulary.for_language("zh", env["config"].site.zone)
    bad = [
        {"cmd": "dance"},
        {"cmd": "open", "operator": "", "reason": "x"},
        {"cmd": "open", "operator": "guard1", "reason": ""},
        {"cmd": "open", "operator": "guard1", "reason": "x", "plate": "ABC"},
        {"cmd": "open", "operator": "guard1", "reason": "x", "related_event_id": "../x"},
        [1, 2],
    ]
    with gate_answering(env, refuse("no_plates", "reads no plates")):
        replies = [send_gate_command(run_dir, "north", request) for request in bad]
        replies.append(send_gate_command(run_dir, "north", {"cmd": "open", "operator": "g",
                                                            "reason": "x"}))  # fmt: skip
    codes = [reply["code"] for reply in replies]
    assert codes == ["unknown_command", "operator", "reason", "plate", "related_event",
                     "bad_request", "no_plates"]  # fmt: skip
    for reply in replies:
        assert reply["ok"] is False and reply["error"], reply
        assert reply["code"] in GATE_REPLIES
        assert not latin_problems(words.gate_reply(reply["code"]), set(), reply["code"])


def test_the_command_line_says_why_a_gate_did_not_open_in_chinese(
    env, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    config = env["config"]
    config_path = tmp_path / "menwei.toml"
    config_path.write_text(
        f'[storage]\ndata_dir = "{config.storage.data_dir}"\n'
        f'[security]\npii_key_file = "{config.security.pii_key_file}"\n'
        '[[gates]]\nid = "north"\nname = "北门车行"\nkind = "vehicle"\n'
        f'camera = {{ source = "{tmp_path / "frames"}" }}\n'
        "barrier = { open_pin = 17 }\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    with gate_answering(env, crash):
        result = runner.invoke(main, ["open", "north", "--reason", "送货", "-c", str(config_path)])
    assert result.exit_code == 1
    said = result.output.split("[", 1)[0]
    assert "闸口 north 未开启" in said and ZH_WHY["gate_error"] in said, result.output
    assert not latin_problems(said.replace("Error:", ""), {"north"}, "cli")


def test_the_health_page_keeps_the_gates_own_words_as_a_diagnostic(env) -> None:
    client = client_as(env, "admin")
    html = client.get("/console/health?lang=zh").text
    text = visible_text(html)
    assert not latin_problems(text, env["allowed"], "health page"), text
    assert "未运行" in text and "is not running" not in text
    assert re.search(
        r'<code class="diagnostic small" lang="en" data-cell="north.detail" data-diagnostic>'
        r"gate north is not running \(no ",
        html,
    )
    cells = client.get("/console/health.json?lang=zh").get_json()["cells"]
    assert "is not running" in cells["north.detail"]["text"]
    assert "is not running" not in cells["north.state"]["text"]


def test_the_health_page_refreshed_in_a_browser_keeps_the_detail_marked(
    env, launch_chromium, served
) -> None:
    """console.js replaces the cells' texts every few seconds: the detail cell keeps its
    diagnostic marking (class and lang) and the gate's words stay out of the zh cells."""
    from playwright.sync_api import sync_playwright

    with served(env["app"]) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.goto(f"{base}/login?lang=zh")
        page.fill("input[name=username]", USERS["guard"])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/console/health")
        page.wait_for_selector("#feed-status[data-state=ok]", timeout=15000)  # a refresh ran
        detail = '[data-cell="north.detail"]'
        assert page.eval_on_selector(detail, "e => e.className") == "diagnostic small"
        assert page.eval_on_selector(detail, "e => e.lang") == "en"
        assert "is not running" in page.inner_text(detail)
        assert page.inner_text('[data-cell="north.state"]') == "未运行"
        browser.close()
