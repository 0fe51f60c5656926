"""The hub's console and its gate boxes: the health page lists every box as `menwei hub
status` does, and a guard at the hub opens a gate on a gate box through the hub.

Real parts: the hub's web app on its SQLite file, `HubServer` on 127.0.0.1, a gate box with
its own database and a running vehicle gate (real camera thread, real control socket, relay
on mock pins), and the box's real link (`HubLink`) forwarding the hub's commands to that
gate's socket exactly as `menwei hub link` does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import PASSWORD, audit_rows, client_as, csrf_of, nonce_for

from edge.cli.main import main
from edge.config import parse_config
from edge.db import connect, iso, transaction, utc_now
from edge.events.record import NewEvent, recent_events, record_event
from edge.gates.assembly import vehicle_gate
from edge.gates.control import gate_forwarder
from edge.pii import PiiVault, create_key_file
from edge.store.prompts import (
    NewPrompt,
    claim_prompt,
    close_gate_prompts,
    insert_prompt,
    set_open_event,
)
from sync.community.boxes import invite, revoke
from sync.community.hub import HubServer
from sync.community.link import HubClient, HubLink, join
from sync.transport import TransportError

GATE = "nb-lane"


def _wait(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Community:
    """A hub (console config + HubServer) and one gate box with one running gate."""

    def __init__(self, tmp: Path, console_env, pins) -> None:
        self.tmp = tmp
        hub_dir = tmp / "hub"
        self.hub_toml = hub_dir / "menwei.toml"
        hub_dir.mkdir()
        self.hub_toml.write_text(
            '[storage]\ndata_dir = "data"\n[security]\npii_key_file = "pii.key"\n'
            '[web]\nsecure_cookies = false\n[registry]\nbase_url = "http://127.0.0.1:8080"\n'
            '[community]\nrole = "hub"\nlisten = "127.0.0.1:0"\n',
            encoding="utf-8",
        )
        create_key_file(hub_dir / "pii.key")
        self.hub_config = parse_config(
            {
                "storage": {"data_dir": str(hub_dir / "data")},
                "security": {"pii_key_file": str(hub_dir / "pii.key")},
                "web": {"secure_cookies": False},
                "registry": {"base_url": "http://127.0.0.1:8080"},
                "community": {"role": "hub", "listen": "127.0.0.1:0"},
            }
        )
        self.env = console_env(hub_dir, clock=utc_now, config=self.hub_config)  # the hub's clock
        self.hub_db = connect(self.hub_config.storage.database_path)
        self.server = HubServer(
            self.hub_config.storage.database_path,
            PiiVault.from_key_file(hub_dir / "pii.key"),
            self.hub_config.storage.snapshot_dir,
        ).start()
        self.pins = pins
        self.stop = threading.Event()
        self.link_thread: threading.Thread | None = None
        self.gate_cm = None
        box = tmp / "box"
        (box / "frames").mkdir(parents=True)
        cv2.imwrite(str(box / "frames" / "0.jpg"), np.full((480, 640, 3), 90, np.uint8))
        create_key_file(box / "pii.key")
        self.box_config = parse_config(
            {
                "storage": {"data_dir": str(box / "data")},
                "security": {"pii_key_file": str(box / "pii.key")},
                "hardware": {"pin_factory": "mock"},
                "community": {
                    "role": "gate",
                    "hub_url": self.server.url,
                    "box_id": "north-box",
                    "wait_s": 5,
                },
                "gates": [
                    {
                        "id": GATE,
                        "name": "北门车行（门岗机）",
                        "kind": "vehicle",
                        "camera": {"source": str(box / "frames"), "replay_fps": 2},
                        "barrier": {"open_pin": 17, "active_high": True, "pulse_s": 0.3},
                    }
                ],
            }
        )

    def enrol(self) -> None:
        code = invite(self.hub_db, "north-box", utc_now(), 600)
        join(self.server.url, "north-box", code, self.box_config.community.key_file)

    def start_gate(self) -> None:
        self.gate_cm = vehicle_gate(self.box_config, GATE, self.stop, pin_factory=self.pins)
        self.gate_cm.__enter__()

    def start_link(self) -> None:
        connect(self.box_config.storage.database_path).conn.close()  # as `hub link` does
        self.link_stop = threading.Event()
        link = HubLink(
            self.box_config.storage.database_path,
            self.box_config.community,
            PiiVault.from_key_file(self.tmp / "box" / "pii.key"),
            self.box_config.storage.snapshot_dir,
            self.link_stop,
            tuple((g.id, g.name, g.kind) for g in self.box_config.gates),
            gate_forwarder(self.box_config.storage.run_dir),  # what `menwei hub link` passes
        )
        self.link_thread = threading.Thread(target=link.run, daemon=True)
        self.link_thread.start()
        _wait(self.gate_known, 30, "the box to report its gate")

    def gate_known(self) -> bool:
        row = self.hub_db.execute(
            "SELECT name FROM community_gates WHERE gate_id = ?", (GATE,)
        ).fetchone()
        return row is not None and row[0] is not None

    def stop_link(self) -> None:
        if self.link_thread is not None:
            self.link_stop.set()
            self.link_thread.join(30)
            self.link_thread = None

    def close(self) -> None:
        self.stop_link()
        if self.gate_cm is not None:
            self.stop.set()
            self.gate_cm.__exit__(None, None, None)
        self.server.stop()
        self.hub_db.conn.close()


@pytest.fixture
def community(tmp_path, console_env, pin_factory) -> Iterator[Community]:
    world = Community(tmp_path, console_env, pin_factory)
    try:
        yield world
    finally:
        world.close()


def open_from_hub(world: Community, reason: str = "送货车") -> tuple[object, bool]:
    """A guard at the hub's console clicks 开门 on the gate box's gate: the reply, and
    whether the gate box's relay moved."""
    guard = client_as(world.env, "guard")
    html = guard.get("/console/").get_data(as_text=True)
    action = f"/console/gates/{GATE}/open"
    pin = world.pins.pin(17)
    before = len(pin.states)
    fields = {"csrf_token": csrf_of(html), "reason": reason, "form_nonce": nonce_for(html, action)}
    reply = guard.post(action, data=fields)
    return reply, any(change.state for change in pin.states[before:])


def test_a_guard_at_the_hub_opens_a_gate_on_a_gate_box(community):
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()

    guard = client_as(world.env, "guard")
    live = guard.get("/console/").get_data(as_text=True)
    assert "北门车行（门岗机）" in live and f"/console/gates/{GATE}/open" in live

    reply, moved = open_from_hub(world)
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    assert moved, "the gate box's relay did not move"
    # the guard reads that it opened, whether or not its event has reached the hub yet
    said = guard.get(reply.headers["Location"]).get_data(as_text=True)
    notice = said.split('class="notice"')[1][:200] if 'class="notice"' in said else said[-800:]
    assert "北门车行（门岗机）" in notice and "开启" in notice, notice
    # the gate box recorded the opening with the hub's operator, and the hub audited it
    gate_db = connect(world.box_config.storage.database_path)
    [event] = [e for e in recent_events(gate_db) if e["kind"] == "manual_open"]
    assert event["gate_id"] == GATE and event["details"]["operator"] == "guard1"
    assert "送货车" in event["reasons"][0]["message"]
    [row] = audit_rows(world.hub_db, "manual_open")
    assert row["target"] == f"gate:{GATE}"
    details = row["details"]
    assert row["actor"] == f"user:{world.env['ids']['guard']}"
    assert details["result"] == "opened" and details["box"] == "north-box"
    assert details["event_id"] == event["id"]
    command = world.hub_db.execute("SELECT state, request FROM community_commands").fetchone()
    assert command[0] == "done" and json.loads(command[1])["operator"] == "guard1"
    gate_db.conn.close()


def test_a_near_miss_on_a_gate_box_is_confirmed_at_the_hub(community):
    """The gate box's question ("possibly 皖A12345?") reaches the hub's live page; the guard
    confirms it there and the gate box's barrier opens for that plate."""
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()
    box_db = connect(world.box_config.storage.database_path)
    crop = cv2.imencode(".jpg", np.full((40, 120, 3), 200, np.uint8))[1].tobytes()
    question = NewPrompt(
        "near_miss",
        "皖A12346",
        ({"plate": "皖A12345", "kind": "resident", "household": None, "vehicle_id": None},),
        crop,
    )
    passage = record_event(
        box_db,
        NewEvent(GATE, "vehicle_passage", utc_now(), "deny", plate="皖A12346", prompt=question),
    )
    _wait(
        lambda: (
            world.hub_db.execute(
                "SELECT 1 FROM plate_prompts WHERE event_id = ?", (passage.id,)
            ).fetchone()
            is not None
        ),
        30,
        "the question at the hub",
    )
    prompt_id = world.hub_db.execute(
        "SELECT id FROM plate_prompts WHERE event_id = ?", (passage.id,)
    ).fetchone()[0]
    guard = client_as(world.env, "guard")
    page = guard.get("/console/").get_data(as_text=True)
    action = f"/console/prompts/{prompt_id}/confirm"
    assert action in page and "皖A12345" in page
    assert guard.get(f"/console/prompts/{prompt_id}/crop").data == crop
    pin = world.pins.pin(17)
    before = len(pin.states)
    fields = {"csrf_token": csrf_of(page), "form_nonce": nonce_for(page, action)}
    reply = guard.post(action, data={**fields, "plate": "皖A12345"})
    assert reply.status_code == 303, reply.get_data(as_text=True)[-3000:]
    assert any(change.state for change in pin.states[before:]), "the barrier did not open"
    [opened] = [e for e in recent_events(box_db) if e["kind"] == "manual_open"]
    assert opened["plate"] == "皖A12345" and opened["related_event_id"] == passage.id
    state = world.hub_db.execute(
        "SELECT state, open_event_id FROM plate_prompts WHERE id = ?", (prompt_id,)
    ).fetchone()
    assert state == ("confirmed", opened["id"])
    [row] = audit_rows(world.hub_db, "plate_prompt_confirm")
    guard_id = world.env["ids"]["guard"]
    assert row["actor"] == f"user:{guard_id}" and row["details"]["box"] == "north-box"
    assert row["details"]["result"] == "opened" and row["details"]["plate"] == "皖A12345"
    # a box cannot put a question on a gate that is not its own
    client = HubClient(
        world.server.url, "north-box", world.box_config.community.key_file.read_bytes().strip()
    )
    item = {
        "event_id": "01" + "A" * 24, "gate_id": "hub-gate", "kind": "near_miss",
        "read_plate": "", "candidates": [], "created_at": iso(utc_now()),
    }  # fmt: skip
    [result] = client.request("POST", "/community/v1/prompts", {"items": [item]})["results"]
    assert result["status"] == "rejected" and "not one of this box" in result["reason"]
    client.close()
    box_db.conn.close()


def test_a_question_the_gate_box_closes_itself_leaves_the_hubs_card(community):
    """The car was read after all (or left): the gate box closes its question, the closing
    goes up with the link's next round, and the hub's card no longer asks the guard. A box
    closes only questions on its own gates; a malformed closing is refused whole."""
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()
    box_db = connect(world.box_config.storage.database_path)
    question = NewPrompt("unread_waiting", crop=None)
    waiting = record_event(
        box_db, NewEvent(GATE, "plate_unread", utc_now(), "none", prompt=question)
    )

    def hub_prompt() -> tuple | None:
        return world.hub_db.execute(
            "SELECT id, state, resolution, resolved_by FROM plate_prompts WHERE event_id = ?",
            (waiting.id,),
        ).fetchone()

    _wait(lambda: hub_prompt() is not None, 30, "the question at the hub")
    prompt_id = hub_prompt()[0]
    guard = client_as(world.env, "guard")
    assert f"/console/prompts/{prompt_id}/confirm" in guard.get("/console/").get_data(as_text=True)
    with transaction(box_db) as conn:  # what the vehicle gate does when the car leaves
        assert close_gate_prompts(conn, GATE, ("unread_waiting",), "left", utc_now()) == 1
    _wait(lambda: hub_prompt()[1] == "closed", 30, "the closing at the hub")
    assert hub_prompt()[2:] == ("left", "gate")
    assert f"/console/prompts/{prompt_id}" not in guard.get("/console/").get_data(as_text=True)

    client = HubClient(
        world.server.url, "north-box", world.box_config.community.key_file.read_bytes().strip()
    )
    hub_own = "01" + "B" * 24  # a question on one of the hub's own gates
    with transaction(world.hub_db) as conn:
        insert_prompt(conn, hub_own, "hub-gate", NewPrompt("unread_waiting"), utc_now())
    closing = {"closed": [{"event_id": hub_own, "resolution": "left"}]}
    assert client.request("POST", "/community/v1/prompts", closing)["closed"] == 0
    state = world.hub_db.execute(
        "SELECT state FROM plate_prompts WHERE event_id = ?", (hub_own,)
    ).fetchone()
    assert state == ("open",)
    for bad in ([{"event_id": "x", "resolution": "left"}],
                [{"event_id": hub_own, "resolution": "DROP TABLE"}], "all"):  # fmt: skip
        with pytest.raises(TransportError, match="400"):
            client.request("POST", "/community/v1/prompts", {"closed": bad})
    client.close()
    box_db.conn.close()


def test_a_question_answered_on_the_gate_box_reaches_the_hub_as_confirmed_or_dismissed(
    community,
):
    """Before: a question a guard confirmed or dismissed on the gate box's own console
    reached the hub as "closed". Now the link carries the outcome in an extra key of each
    closing (an older hub ignores it; an older link's closing, without it, stays "closed")."""
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()
    box_db = connect(world.box_config.storage.database_path)
    asked = {
        answer: record_event(
            box_db,
            NewEvent(GATE, "plate_unread", utc_now(), "none", prompt=NewPrompt("unread_waiting")),
        ).id
        for answer in ("confirmed", "dismissed")
    }

    def at_hub(event_id: str) -> tuple | None:
        return world.hub_db.execute(
            "SELECT state, resolution FROM plate_prompts WHERE event_id = ?", (event_id,)
        ).fetchone()

    _wait(lambda: all(at_hub(e) for e in asked.values()), 30, "the questions at the hub")
    with transaction(box_db) as conn:  # what the box's console does for its guard
        for answer, event_id in asked.items():
            prompt_id = conn.execute(
                "SELECT id FROM plate_prompts WHERE event_id = ?", (event_id,)
            ).fetchone()[0]
            claim_prompt(conn, prompt_id, answer, "guard7", utc_now())  # type: ignore[arg-type]
            set_open_event(conn, prompt_id, None, "opened" if answer == "confirmed" else answer)
    _wait(
        lambda: at_hub(asked["dismissed"])[0] != "open" and at_hub(asked["confirmed"])[0] != "open",
        30,
        "the answers at the hub",
    )
    assert at_hub(asked["confirmed"]) == ("confirmed", "opened")
    assert at_hub(asked["dismissed"]) == ("dismissed", "dismissed")
    box_db.conn.close()

    # the protocol, version-tolerant both ways: a closing without an outcome (an older
    # link) closes; an outcome this hub does not know (a newer box) closes; junk is refused
    client = HubClient(
        world.server.url, "north-box", world.box_config.community.key_file.read_bytes().strip()
    )
    old, newer = "01" + "D" * 24, "01" + "E" * 24
    with transaction(world.hub_db) as conn:
        for event_id in (old, newer):
            insert_prompt(conn, event_id, GATE, NewPrompt("unread_waiting"), utc_now())
    closing = {
        "closed": [
            {"event_id": old, "resolution": "left"},
            {"event_id": newer, "resolution": "read", "outcome": "handed_over"},
        ]
    }
    assert client.request("POST", "/community/v1/prompts", closing)["closed"] == 2
    assert at_hub(old) == ("closed", "left") and at_hub(newer) == ("closed", "read")
    bad = [{"event_id": old, "resolution": "left", "outcome": "DROP TABLE"}]
    with pytest.raises(TransportError, match="400"):
        client.request("POST", "/community/v1/prompts", {"closed": bad})
    client.close()


def test_refusals_say_why_in_chinese(community):
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()

    def refusal(client, page: str | None = None) -> str:
        page = page or client.get("/console/").get_data(as_text=True)
        action = f"/console/gates/{GATE}/open"
        reply = client.post(
            action,
            data={
                "csrf_token": csrf_of(page),
                "reason": "测试",
                "form_nonce": nonce_for(page, action),
            },
        )
        assert reply.status_code in (404, 409), reply.status_code
        return reply.get_data(as_text=True)

    guard = client_as(world.env, "guard")  # the console speaks Chinese by default

    # the gate process is down on the box: the box answers, the console says so
    world.stop.set()
    world.gate_cm.__exit__(None, None, None)
    world.gate_cm = None
    text = refusal(guard)
    assert "没有运行" in text or "未运行" in text, text[-3000:]

    # the link is down: the box takes nothing, the command never runs later
    world.stop_link()
    text = refusal(guard)
    assert "离线" in text and "north-box" in text
    assert world.hub_db.execute(
        "SELECT state FROM community_commands ORDER BY id DESC LIMIT 1"
    ).fetchone() == ("expired",)

    # a box not heard from for a minute is refused at once, without a command
    with transaction(world.hub_db) as conn:
        conn.execute(
            "UPDATE community_boxes SET last_seen_at = ?",
            (iso(utc_now() - timedelta(minutes=2)),),
        )
    commands = world.hub_db.execute("SELECT COUNT(*) FROM community_commands").fetchone()[0]
    assert "离线" in refusal(guard)
    assert world.hub_db.execute("SELECT COUNT(*) FROM community_commands").fetchone()[0] == commands

    # a revoked box's gate, from a page shown before the removal (its card is gone since)
    page = guard.get("/console/").get_data(as_text=True)
    revoke(world.hub_db, "north-box", utc_now())
    assert "已吊销" in refusal(guard, page)

    # an unknown gate
    page = guard.get("/console/").get_data(as_text=True)
    reply = guard.post(
        "/console/gates/nowhere/open", data={"csrf_token": csrf_of(page), "reason": "x"}
    )
    assert reply.status_code == 404 and "nowhere" in reply.get_data(as_text=True)


def test_the_health_page_lists_every_box_as_hub_status_does(community):
    world = community
    world.enrol()
    invite(world.hub_db, "south-box", utc_now(), 600)  # invited, never joined
    world.start_link()
    admin = client_as(world.env, "admin")
    _wait(
        lambda: admin.get("/console/health.json?lang=en").get_json()["community"]["boxes"][0][
            "online"
        ],
        30,
        "the box online on the health page",
    )
    doc = admin.get("/console/health.json?lang=en").get_json()
    boxes = {b["box_id"]: b for b in doc["community"]["boxes"]}
    assert set(boxes) == {"north-box", "south-box"}
    north = boxes["north-box"]
    assert north["online"] and north["gates"] == [GATE] and north["backlog"] == 0
    assert abs(north["clock_skew_s"]) < 5
    assert doc["cells"]["box.north-box.state"]["text"] == "online"
    assert doc["cells"]["box.south-box.state"]["text"] == "invited, not yet joined"
    html = admin.get("/console/health").get_data(as_text=True)
    assert 'data-box="north-box"' in html and 'data-box="south-box"' in html

    status = CliRunner().invoke(main, ["hub", "status", "--json", "-c", str(world.hub_toml)])
    assert status.exit_code == 0, status.output
    # the same database as the console's (the config file names it relative to itself)
    cli = {b["box_id"]: b for b in json.loads(status.output)["boxes"]}
    for box_id, box in boxes.items():
        for key in ("state", "online", "version", "behind", "backlog", "revoked", "gates"):
            assert cli[box_id][key] == box[key], (box_id, key)

    # removed (revoked): both say so and since when, and neither warns about what the box
    # held (its lists, backlog, clock); its gate's card leaves the live page
    guard = client_as(world.env, "guard")
    assert f"/console/gates/{GATE}/open" in guard.get("/console/").get_data(as_text=True)
    world.stop_link()
    with transaction(world.hub_db) as conn:  # it was behind and had a backlog when removed
        conn.execute("UPDATE community_boxes SET backlog = 7, version = 0")
    revoke(world.hub_db, "north-box", utc_now())
    doc = admin.get("/console/health.json?lang=en").get_json()
    cells = {k.split(".")[-1]: v for k, v in doc["cells"].items() if k.startswith("box.north")}
    assert cells["state"]["text"].startswith("removed ")
    assert "key revoked" in cells["state"]["text"]
    assert {cells[k]["text"] for k in ("lists", "backlog", "skew")} == {"—"}
    assert {c["level"] for c in cells.values()} == {"ok"}
    [north] = [b for b in doc["community"]["boxes"] if b["box_id"] == "north-box"]
    assert north["removed"] and north["level"] == "ok"
    zh = admin.get("/console/health.json?lang=zh").get_json()
    assert zh["cells"]["box.north-box.state"]["text"].startswith("已于 ")
    status = CliRunner().invoke(main, ["hub", "status", "-c", str(world.hub_toml)])
    [line] = [row for row in status.output.splitlines() if row.startswith("north-box ")]
    assert re.search(r"removed \d{4}-\d\d-\d\d \d\d:\d\d: key revoked", line), line
    assert line.count("—") >= 4 and "T" not in line.split("removed ")[1][:16], line
    cli = json.loads(
        CliRunner().invoke(main, ["hub", "status", "--json", "-c", str(world.hub_toml)]).output
    )
    [north_cli] = [b for b in cli["boxes"] if b["box_id"] == "north-box"]
    assert north_cli["removed"] and north_cli["revoked_at"] == north["revoked_at"]
    assert f"/console/gates/{GATE}/open" not in guard.get("/console/").get_data(as_text=True)


def test_an_admin_forgets_a_removed_box_and_its_gates_leave_every_list(community):
    """A removed box stayed "removed" on the health page and in `menwei hub status` for
    ever. Now an admin forgets it (a button with a confirmation step, or `menwei hub
    forget`): audited; a box that is not removed is refused; its gates leave every list and
    a gate id is free again; its gates' past events stay."""
    world = community
    world.enrol()
    world.start_gate()
    world.start_link()
    box_db = connect(world.box_config.storage.database_path)
    passage = record_event(box_db, NewEvent(GATE, "vehicle_passage", utc_now(), "deny"))
    _wait(
        lambda: (
            world.hub_db.execute("SELECT 1 FROM events WHERE id = ?", (passage.id,)).fetchone()
            is not None
        ),
        30,
        "the box's event at the hub",
    )
    world.stop_link()
    box_db.conn.close()
    asked = "01" + "C" * 24  # a question of the box's gate still open at the hub
    with transaction(world.hub_db) as conn:
        insert_prompt(conn, asked, GATE, NewPrompt("unread_waiting"), utc_now())
    admin, guard = client_as(world.env, "admin"), client_as(world.env, "guard")
    action = "/console/boxes/north-box/forget"
    token = csrf_of(admin.get("/console/health").get_data(as_text=True))

    # not removed: refused everywhere, nothing changed
    assert admin.post(action, data={"csrf_token": token, "confirmed": "yes"}).status_code == 404
    refused = CliRunner().invoke(
        main, ["hub", "forget", "north-box", "--yes", "-c", str(world.hub_toml)]
    )
    assert refused.exit_code == 1 and "is not removed" in refused.output, refused.output
    assert 'action="/console/boxes/' not in admin.get("/console/health").get_data(as_text=True)

    revoke(world.hub_db, "north-box", utc_now())
    html = admin.get("/console/health?lang=en").get_data(as_text=True)
    assert f'action="{action}"' in html  # the admin's button, on the removed box only
    guard_html = guard.get("/console/health").get_data(as_text=True)
    assert "/forget" not in guard_html
    guard_token = csrf_of(guard_html)
    assert guard.post(action, data={"csrf_token": guard_token}).status_code == 403
    # the button's first POST asks, and changes nothing
    page = admin.post(action + "?lang=en", data={"csrf_token": token})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm-form"' in text and GATE in text
    assert world.hub_db.execute("SELECT COUNT(*) FROM community_boxes").fetchone() == (1,)
    done = admin.post(action, data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/console/health")

    doc = admin.get("/console/health.json?lang=en").get_json()
    assert doc["community"]["boxes"] == []
    assert not any(key.startswith("box.north-box") for key in doc["cells"])
    status = CliRunner().invoke(main, ["hub", "status", "--json", "-c", str(world.hub_toml)])
    assert json.loads(status.output)["boxes"] == []
    for table in ("community_boxes", "community_gates", "community_commands"):
        assert world.hub_db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    assert f"/console/gates/{GATE}" not in guard.get("/console/").get_data(as_text=True)
    assert world.hub_db.execute(
        "SELECT state, resolution FROM plate_prompts WHERE event_id = ?", (asked,)
    ).fetchone() == ("closed", "box_forgotten")
    # history stays: the event, and who forgot what in the audit log
    assert world.hub_db.execute(
        "SELECT gate_id FROM events WHERE id = ?", (passage.id,)
    ).fetchone() == (GATE,)
    [row] = audit_rows(world.hub_db, "community_box_forget")
    admin_id = world.env["ids"]["admin"]
    assert row["actor"] == f"user:{admin_id}" and row["target"] == "box:north-box"
    assert row["details"]["gates"] == [GATE] and row["details"]["questions_closed"] == 1
    # forgotten once: a second click (an old page) says so, and changes nothing
    again = admin.post(action, data={"csrf_token": token, "confirmed": "yes"})
    assert again.status_code == 404


def test_hub_forget_on_the_command_line_asks_and_is_audited(community):
    world = community
    invite(world.hub_db, "old-south", utc_now(), 600)
    cli = ["hub", "forget", "old-south", "-c", str(world.hub_toml)]
    invited = CliRunner().invoke(main, [*cli, "--yes"])
    assert invited.exit_code == 1 and "is not removed" in invited.output
    revoke(world.hub_db, "old-south", utc_now())
    kept = CliRunner().invoke(main, cli, input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert world.hub_db.execute("SELECT COUNT(*) FROM community_boxes").fetchone() == (1,)
    gone = CliRunner().invoke(main, cli, input="y\n")
    assert gone.exit_code == 0 and "box old-south forgotten" in gone.output, gone.output
    assert world.hub_db.execute("SELECT COUNT(*) FROM community_boxes").fetchone() == (0,)
    [row] = audit_rows(world.hub_db, "community_box_forget")
    assert row["actor"] == "cli" and row["target"] == "box:old-south"
    unknown = CliRunner().invoke(main, [*cli, "--yes"])
    assert unknown.exit_code == 1 and "no box old-south" in unknown.output
    invite(world.hub_db, "old-west", utc_now(), 600)
    revoke(world.hub_db, "old-west", utc_now())
    zh = CliRunner().invoke(
        main, ["hub", "forget", "old-west", "-c", str(world.hub_toml)], input="y\n",
        env={"LANG": "zh_CN.UTF-8"},
    )  # fmt: skip
    assert "清除已移除的门岗机 old-west" in zh.output and "已清除门岗机 old-west" in zh.output


PAGE_CHECKS = "\n".join(  # overflow and contrast, as tests/test_pages_browser.py checks
    line
    for line in (Path(__file__).with_name("page_checks.js")).read_text("utf-8").splitlines()
    if not line.startswith("//")
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "pages"


def test_the_gate_boxes_on_a_phone_are_cards_and_on_a_pc_a_table(
    community, served, launch_chromium
):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    world = community
    world.enrol()
    world.start_link()
    invite(world.hub_db, "unit-3-1", utc_now(), 600, ["residents"])  # invited only
    invite(world.hub_db, "old-south", utc_now(), 600)
    revoke(world.hub_db, "old-south", utc_now())  # a box removed from the community
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with served(world.env["app"]) as base, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(reduced_motion="reduce").new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "admin1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        for view, (width, height) in {"phone": (390, 844), "desktop": (1366, 768)}.items():
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{base}/console/health")
            assert page.locator("#boxes tr[data-box]").count() == 3
            text = page.locator("#boxes").inner_text()
            assert "在线" in text and "已邀请，尚未加入" in text and "密钥已吊销" in text
            assert GATE in text
            for label in ("最后联系", "名单", "待上传事件", "时钟偏差"):  # each card's labels
                assert page.locator(f'#boxes td[data-label="{label}"]').count() == 3
            assert page.evaluate(PAGE_CHECKS) == [], view
            row = page.locator('#boxes tr[data-box="north-box"]')
            shown = row.evaluate("r => getComputedStyle(r).display")
            assert shown == ("block" if view == "phone" else "table-row"), (view, shown)
            shot = ARTIFACTS / f"hub-health-boxes-{view}.png"
            page.screenshot(path=str(shot), full_page=True)
            with Image.open(shot) as picture:  # a page wider than the screen shows here too
                assert picture.width == width, (view, picture.width)
        browser.close()
