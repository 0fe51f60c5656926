"""A community hub and its gate boxes, in one process: a real hub HTTP server on 127.0.0.1,
real SQLite files for the hub and each gate box, the real uplink worker and lists applied
as a gate box applies them. (tests/test_community_e2e.py runs the same as processes.)"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import requests

from edge.box.install import write_self_signed_certificate
from edge.config import ConfigError, parse_config
from edge.db import connect, iso, transaction, utc_now
from edge.events.record import NewEvent, record_event
from edge.gates.assembly import use_counter
from edge.people.passes import issue_pass, revoke_pass
from edge.people.resident_faces import TEMPLATE_PURPOSE
from edge.people.residents import add_resident, set_active, set_pin
from edge.people.uses import LocalUses
from edge.people.vehicles import add_watch
from edge.pii import PiiVault
from edge.store.outbox import counts
from sync.community.boxes import BoxError, invite, list_boxes, revoke, set_groups
from sync.community.commands import await_command, queue_command, remote_gate
from sync.community.hub import HubServer, tls_context
from sync.community.link import HubClient, JoinError, join, pull_once
from sync.community.lists import (
    ListsInvalidError,
    apply_reply,
    held_version,
    parse_reply,
    prune,
)
from sync.community.uses import HubUses
from sync.json_protocol import JsonProtocol
from sync.transport import TransportError
from sync.uplink import UplinkWorker

HUB_KEY = PiiVault(bytes(range(32)))
GATE_KEY = PiiVault(bytes(range(1, 33)))


# -- config ---------------------------------------------------------------------------------------
def test_standalone_is_the_default_and_a_gate_box_needs_its_hub():
    assert parse_config({}).community.role == "standalone"
    with pytest.raises(ConfigError, match="hub_url and box_id"):
        parse_config({"community": {"role": "gate"}})
    with pytest.raises(ConfigError, match="plain http"):
        parse_config({"community": {"role": "gate", "hub_url": "http://10.0.0.2", "box_id": "a"}})
    with pytest.raises(ConfigError, match="needs tls_certificate"):
        parse_config({"community": {"role": "hub", "listen": "0.0.0.0:8442"}})
    with pytest.raises(ConfigError, match="box_id"):
        parse_config({"community": {"role": "gate", "hub_url": "https://h", "box_id": "a b"}})
    gate = parse_config(
        {"community": {"role": "gate", "hub_url": "https://hub:8442/", "box_id": "north"}}
    ).community
    assert gate.hub_url == "https://hub:8442" and gate.key_file.is_absolute()


# -- a hub and gate boxes in one process ---------------------------------------------------
@pytest.fixture
def hub(tmp_path):
    db = connect(tmp_path / "hub.db")
    with HubServer(tmp_path / "hub.db", HUB_KEY, tmp_path / "hub-snapshots") as server:
        yield server, db
    db.conn.close()


def enrolled(tmp_path: Path, server: HubServer, hub_db, box_id: str) -> tuple[object, HubClient]:
    code = invite(hub_db, box_id, utc_now(), 600)
    key_file = tmp_path / f"{box_id}.key"
    join(server.url, box_id, code, key_file)
    db = connect(tmp_path / f"{box_id}.db")
    return db, HubClient(server.url, box_id, key_file.read_text().strip().encode())


def template(seed: int) -> bytes:
    vector = np.random.default_rng(seed).normal(size=128).astype("<f4")
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()


def test_lists_reach_a_gate_box_without_names_and_each_change_once_in_order(tmp_path, hub):
    server, hub_db = hub
    rid = add_resident(hub_db, HUB_KEY, "张三", "3-1-402")
    set_pin(hub_db, rid, "480915")
    with transaction(hub_db) as conn:
        conn.execute(
            "INSERT INTO face_templates (resident_id, template, model_sha256, created_at)"
            " VALUES (?, ?, 'm', '2026-01-01')",
            (rid, HUB_KEY.encrypt(template(1), TEMPLATE_PURPOSE)),
        )
    add_watch(hub_db, "京A88888", "stolen")
    gate_db, client = enrolled(tmp_path, server, hub_db, "north")

    pull_once(gate_db, client, GATE_KEY, 0)  # first contact: a full snapshot
    row = gate_db.execute("SELECT name, name_enc, pin_hash, active FROM residents").fetchone()
    assert row[0] == "" and row[1] is None and row[2] and row[3] == 1  # no name on a gate box
    sealed = gate_db.execute("SELECT template FROM face_templates").fetchone()[0]
    assert GATE_KEY.decrypt(sealed, TEMPLATE_PURPOSE) == template(1)  # sealed with its own key
    assert gate_db.execute("SELECT plate FROM watchlist").fetchall() == [("京A88888",)]
    version = held_version(gate_db.conn)[0]

    with transaction(hub_db) as conn:
        set_active(conn, rid, False)
    pull_once(gate_db, client, GATE_KEY, 5)
    assert gate_db.execute("SELECT active FROM residents").fetchone()[0] == 0
    assert held_version(gate_db.conn)[0] > version
    # nothing new: a short poll returns nothing and changes nothing
    before = held_version(gate_db.conn)
    pull_once(gate_db, client, GATE_KEY, 0.2)
    assert held_version(gate_db.conn) == before
    [box] = list_boxes(hub_db.conn, utc_now())
    assert box["box_id"] == "north" and box["version"] == before[0] and box["backlog"] == 0
    assert (
        box["online"] and not list_boxes(hub_db.conn, utc_now() + timedelta(minutes=5))[0]["online"]
    )


def test_a_watch_that_starts_later_reaches_the_box_and_an_older_box_still_takes_the_lists(
    tmp_path, hub
):
    """A 布控's watch row carries its BeginTime (``starts_at``) to the gate boxes, so their
    gates alert only from then. The column is left out of a row while empty: a gate box
    older than the column (here: the column dropped) still takes the lists until the hub
    holds a watch that starts later, which it refuses whole, keeping its lists."""
    server, hub_db = hub
    add_watch(hub_db, "京A88888", "stolen")
    later = iso(utc_now() + timedelta(hours=1))
    future_id = add_watch(hub_db, "京A99999", "布控 D1")
    with transaction(hub_db) as conn:
        conn.execute("UPDATE watchlist SET starts_at = ? WHERE id = ?", (later, future_id))
    gate_db, client = enrolled(tmp_path, server, hub_db, "north")
    pull_once(gate_db, client, GATE_KEY, 0)
    rows = gate_db.execute("SELECT plate, starts_at FROM watchlist ORDER BY plate").fetchall()
    assert rows == [("京A88888", None), ("京A99999", later)]
    # the hub clears it (an update without the key): the box's copy is cleared too
    with transaction(hub_db) as conn:
        conn.execute("UPDATE watchlist SET starts_at = NULL WHERE id = ?", (future_id,))
    pull_once(gate_db, client, GATE_KEY, 5)
    assert gate_db.execute(
        "SELECT starts_at FROM watchlist WHERE id = ?", (future_id,)
    ).fetchone() == (None,)

    old_db, old_client = enrolled(tmp_path, server, hub_db, "old-box")
    with transaction(old_db) as conn:
        conn.execute("ALTER TABLE watchlist DROP COLUMN starts_at")
    pull_once(old_db, old_client, GATE_KEY, 0)
    assert old_db.execute("SELECT COUNT(*) FROM watchlist").fetchone() == (2,)
    before = held_version(old_db.conn)
    with transaction(hub_db) as conn:
        conn.execute("UPDATE watchlist SET starts_at = ? WHERE id = ?", (later, future_id))
    with pytest.raises(ListsInvalidError, match="starts_at"):
        pull_once(old_db, old_client, GATE_KEY, 5)
    assert held_version(old_db.conn) == before


def test_a_long_poll_returns_as_soon_as_a_pass_is_revoked(tmp_path, hub):
    server, hub_db = hub
    pass_id, _token = issue_pass(hub_db, "v", utc_now(), utc_now() + timedelta(hours=1), 2)
    gate_db, client = enrolled(tmp_path, server, hub_db, "south")
    pull_once(gate_db, client, GATE_KEY, 0)
    done = threading.Event()

    def poll() -> None:
        db = connect(tmp_path / "south.db")
        pull_once(db, client, GATE_KEY, 30)
        done.set()

    waiter = threading.Thread(target=poll)
    waiter.start()
    revoke_pass(hub_db, pass_id)
    assert done.wait(10)  # not the 30 s of the poll
    waiter.join()
    assert gate_db.execute("SELECT revoked FROM qr_passes").fetchone()[0] == 1


def test_a_box_far_behind_pages_through_and_a_bad_reply_changes_nothing(tmp_path, hub):
    server, hub_db = hub
    gate_db, client = enrolled(tmp_path, server, hub_db, "east")
    pull_once(gate_db, client, GATE_KEY, 0)
    for n in range(2500):  # more than one reply holds
        add_watch(hub_db, f"京A{n:05d}")
    while pull_once(gate_db, client, GATE_KEY, 0):
        pass
    assert gate_db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 2500
    held = held_version(gate_db.conn)
    good = client.changes(0, None, 0, 0)
    bad = json.loads(json.dumps(good))
    bad["snapshot"]["watchlist"][7]["plate"] = {"not": "text"}
    with pytest.raises(ListsInvalidError):
        apply_reply(gate_db, GATE_KEY, *parse_reply(bad)[:4])
    bad = {**good, "snapshot": {**good["snapshot"], "residents": [{"id": 1, "secret": 1}]}}
    with pytest.raises(ListsInvalidError, match="unknown columns"):
        apply_reply(gate_db, GATE_KEY, *parse_reply(bad)[:4])
    assert held_version(gate_db.conn) == held
    assert gate_db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 2500


def test_enrolment_codes_are_one_time_and_a_revoked_box_gets_nothing(tmp_path, hub):
    server, hub_db = hub
    code = invite(hub_db, "west", utc_now(), 600)
    with pytest.raises(JoinError, match="refused"):
        join(server.url, "west", "AAAAA-BBBBB-CCCCC-DDDDD", tmp_path / "w.key")
    join(server.url, "west", code, tmp_path / "w.key")
    assert (tmp_path / "w.key").stat().st_mode & 0o077 == 0
    with pytest.raises(JoinError):  # spent
        join(server.url, "west", code, tmp_path / "w2.key")
    with pytest.raises(BoxError, match="revoke it first"):
        invite(hub_db, "west", utc_now(), 600)
    client = HubClient(server.url, "west", (tmp_path / "w.key").read_text().strip().encode())
    client.changes(0, None, 0, 0)
    revoke(hub_db, "west", utc_now())
    with pytest.raises(TransportError, match="401"):
        client.changes(0, None, 0, 0)
    forged = HubClient(server.url, "west", b"0" * 64)
    with pytest.raises(TransportError, match="401"):
        forged.changes(0, None, 0, 0)


def test_a_one_use_pass_at_two_boxes_at_once_is_spent_once(tmp_path, hub):
    server, hub_db = hub
    now = utc_now()
    pass_id, _ = issue_pass(hub_db, "v", now - timedelta(minutes=1), now + timedelta(hours=1), 1)
    counters = []
    for box in ("a", "b"):
        db, client = enrolled(tmp_path, server, hub_db, box)
        counters.append((db, HubUses(server.url, box, client.key, "deny", 2.0)))
    results: list = []
    start = threading.Barrier(2)

    def spend(db, counter) -> None:
        start.wait()
        results.append(counter.spend(db, "qr", pass_id, now))

    threads = [threading.Thread(target=spend, args=pair) for pair in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.spent for r in results) == [False, True]
    assert hub_db.execute("SELECT uses FROM qr_passes").fetchone()[0] == 1


def test_an_unreachable_hub_denies_counted_passes_or_allows_and_reconciles(tmp_path, hub):
    server, hub_db = hub
    now = utc_now()
    pass_id, _ = issue_pass(hub_db, "v", now - timedelta(minutes=1), now + timedelta(hours=1), 1)
    gate_db, client = enrolled(tmp_path, server, hub_db, "a")
    pull_once(gate_db, client, GATE_KEY, 0)
    nowhere = "http://127.0.0.1:9"  # nothing listens on the discard port
    deny = HubUses(nowhere, "a", client.key, "deny", 0.5).spend(gate_db, "qr", pass_id, now)
    assert not deny.spent and deny.refusal and deny.refusal["code"] == "hub_unreachable"
    allow = HubUses(nowhere, "a", client.key, "allow", 0.5)
    first = allow.spend(gate_db, "qr", pass_id, now)
    assert first.spent and first.offline
    assert not allow.spend(gate_db, "qr", pass_id, now).spent  # this box's copy is used up
    # the event of that offline use reaches the hub: the use is counted there, and said so
    with transaction(gate_db) as conn:
        conn.execute("INSERT INTO gates VALUES ('a-door', 'A', 'pedestrian', 'x')")
    event = NewEvent("a-door", "qr_pass", now, "open", details=first.details("qr", pass_id))
    record_event(gate_db, event)
    # a second box used it offline too: over its limit, and the hub says so
    other_db, other = enrolled(tmp_path, server, hub_db, "b")
    with transaction(other_db) as conn:
        conn.execute("INSERT INTO gates VALUES ('b-door', 'B', 'pedestrian', 'x')")
    record_event(
        other_db, NewEvent("b-door", "qr_pass", now, "open", details=first.details("qr", pass_id))
    )
    for db, c, box in ((gate_db, client, "a"), (other_db, other, "b")):
        UplinkWorker(db, JsonProtocol(c.transport, box, "hmac", c.key)).step()
    reasons = [
        json.loads(r)[0]["code"]
        for (r,) in hub_db.execute(
            "SELECT reasons FROM events WHERE kind = 'pass_reconciled' ORDER BY rowid"
        )
    ]
    assert reasons == ["pass_reconciled", "pass_overused"]
    assert hub_db.execute("SELECT uses FROM qr_passes").fetchone()[0] == 2


def test_events_reach_the_hub_once_and_a_gate_belongs_to_one_box(tmp_path, hub):
    server, hub_db = hub
    gate_db, client = enrolled(tmp_path, server, hub_db, "a")
    with transaction(gate_db) as conn:
        conn.execute("INSERT INTO gates VALUES ('door', 'Door', 'pedestrian', 'x')")
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    ids = [record_event(gate_db, NewEvent("door", "pin_passage", at, "open")).id for _ in range(5)]
    worker = UplinkWorker(gate_db, JsonProtocol(client.transport, "a", "hmac", client.key))
    assert worker.step().delivered == 5
    with transaction(gate_db) as conn:  # as after a crash before the acknowledgement
        conn.execute("UPDATE outbox SET state = 'pending'")
    assert worker.step().delivered == 5  # answered duplicate: still delivered
    held = [r[0] for r in hub_db.execute("SELECT id FROM events ORDER BY id")]
    assert held == sorted(ids)
    assert counts(hub_db.conn)["pending"] == 5  # on their way to the district, once
    # box b cannot write into box a's door
    other_db, other = enrolled(tmp_path, server, hub_db, "b")
    with transaction(other_db) as conn:
        conn.execute("INSERT INTO gates VALUES ('door', 'Door', 'pedestrian', 'x')")
    record_event(other_db, NewEvent("door", "pin_passage", at, "open"))
    result = UplinkWorker(other_db, JsonProtocol(other.transport, "b", "hmac", other.key)).step()
    assert result.dead == 1
    assert hub_db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5


def test_over_tls_a_gate_box_trusts_only_the_hubs_certificate(tmp_path):
    """The hub serves HTTPS with its own certificate; a gate box pinning it (ca_file)
    enrols and pulls; one without it refuses the connection."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_self_signed_certificate(cert, key, "hub.local")
    connect(tmp_path / "hub.db").conn.close()
    tls = tls_context(cert, key)
    with HubServer(tmp_path / "hub.db", HUB_KEY, tmp_path / "snaps", tls=tls) as server:
        assert server.url.startswith("https://127.0.0.1:")
        hub_db = connect(tmp_path / "hub.db")
        code = invite(hub_db, "tls-box", utc_now(), 600)
        with pytest.raises(JoinError, match="cannot reach"):  # the system store: not trusted
            join(server.url, "tls-box", code, tmp_path / "k")
        join(server.url, "tls-box", code, tmp_path / "k", ca_file=cert)
        client = HubClient(
            server.url, "tls-box", (tmp_path / "k").read_text().strip().encode(), cert
        )
        gate_db = connect(tmp_path / "gate.db")
        pull_once(gate_db, client, GATE_KEY, 0)
        assert held_version(gate_db.conn)[1] == server.epoch


def test_a_box_behind_a_pruned_log_gets_a_snapshot(tmp_path, hub):
    server, hub_db = hub
    gate_db, client = enrolled(tmp_path, server, hub_db, "late")
    pull_once(gate_db, client, GATE_KEY, 0)
    behind = held_version(gate_db.conn)[0]
    for n in range(30):
        add_watch(hub_db, f"京B{n:05d}")
    assert prune(hub_db, keep=10) > 0
    reply = client.changes(behind, server.epoch, 0, 0)
    assert "snapshot" in reply  # the changes it missed are gone: the whole lists instead
    pull_once(gate_db, client, GATE_KEY, 0)
    assert gate_db.execute("SELECT COUNT(*) FROM watchlist").fetchone()[0] == 30
    current = held_version(gate_db.conn)[0]
    assert "changes" in client.changes(current, server.epoch, 0, 0)  # caught up: deltas again


def test_a_unit_door_box_holds_only_its_groups_residents(tmp_path, hub):
    server, hub_db = hub
    unit = add_resident(hub_db, HUB_KEY, "甲", "1-1-101", group="unit_1")
    other = add_resident(hub_db, HUB_KEY, "乙", "2-1-101", group="unit_2")
    with transaction(hub_db) as conn:
        for rid in (unit, other):
            conn.execute(
                "INSERT INTO face_templates (resident_id, template, model_sha256, created_at)"
                " VALUES (?, ?, 'm', '2026-01-01')",
                (rid, HUB_KEY.encrypt(template(rid), TEMPLATE_PURPOSE)),
            )
    now = utc_now()
    issue_pass(hub_db, "v", now, now + timedelta(hours=1), 1, group="unit_2")
    code = invite(hub_db, "unit1", utc_now(), 600, groups=["unit_1"])
    join(server.url, "unit1", code, tmp_path / "u.key")
    client = HubClient(server.url, "unit1", (tmp_path / "u.key").read_text().strip().encode())
    gate_db = connect(tmp_path / "unit1.db")

    def held() -> list[tuple[int, int]]:
        return gate_db.execute(
            "SELECT r.id, COUNT(t.id) FROM residents r LEFT JOIN face_templates t"
            " ON t.resident_id = r.id GROUP BY r.id ORDER BY r.id"
        ).fetchall()

    pull_once(gate_db, client, GATE_KEY, 0)
    assert held() == [(unit, 1)]
    assert gate_db.execute("SELECT COUNT(*) FROM qr_passes").fetchone()[0] == 0
    with transaction(hub_db) as conn:  # moves into unit 1: arrives with their face
        conn.execute("UPDATE residents SET access_group = 'unit_1' WHERE id = ?", (other,))
    pull_once(gate_db, client, GATE_KEY, 0)
    assert held() == [(unit, 1), (other, 1)]
    with transaction(hub_db) as conn:  # and out again: gone, face and all
        conn.execute("UPDATE residents SET access_group = 'unit_2' WHERE id = ?", (other,))
    pull_once(gate_db, client, GATE_KEY, 0)
    assert held() == [(unit, 1)]
    set_groups(hub_db, "unit1", None)  # every group now: a fresh snapshot brings the rest
    pull_once(gate_db, client, GATE_KEY, 0)
    assert held() == [(unit, 1), (other, 1)]
    assert gate_db.execute("SELECT COUNT(*) FROM qr_passes").fetchone()[0] == 1
    [box] = list_boxes(hub_db.conn)
    assert box["groups"] is None


def test_the_hub_refuses_bad_input_with_a_clear_answer_and_changes_nothing(tmp_path, hub):
    server, hub_db = hub
    _gate_db, client = enrolled(tmp_path, server, hub_db, "probe")
    now = utc_now()
    pass_id, _ = issue_pass(hub_db, "v", now - timedelta(minutes=1), now + timedelta(hours=1), 1)
    for query in ("since=%D9%A3", "since=1&wait=nan", "since=-1", "backlog=1e9", "wait=inf"):
        with pytest.raises(TransportError, match="400"):
            client.request("GET", "/community/v1/changes?" + query)
    for doc in (
        {"kind": "qr", "id": True},
        {"kind": "qr", "id": 2**70},
        {"kind": "qr", "id": "1"},
        {"kind": "door", "id": pass_id},
    ):
        with pytest.raises(TransportError, match="400"):
            client.request("POST", "/community/v1/spend", doc)
    assert hub_db.execute("SELECT uses FROM qr_passes").fetchone()[0] == 0
    with pytest.raises(TransportError, match="422"):
        client.request("POST", "/api/v1/uplink", {"device_id": "probe", "items": [7]})
    stranger = requests.post(
        server.url + "/api/v1/uplink",
        data=b"x" * 100_000,
        headers={"X-Menwei-Device": "nobody"},
        timeout=10,
    )
    assert stranger.status_code == 401
    huge = requests.post(server.url + "/community/v1/enrol", data=b"{" * 10_000, timeout=10)
    assert huge.status_code == 413
    assert hub_db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_a_gate_box_counts_uses_at_its_hub_and_a_single_box_here(tmp_path):
    key = tmp_path / "community.key"
    key.write_text("k" * 64 + "\n")
    key.chmod(0o600)
    gate = parse_config(
        {
            "storage": {"data_dir": str(tmp_path)},
            "community": {
                "role": "gate",
                "hub_url": "http://127.0.0.1:9",
                "box_id": "north",
                "counted_offline": "allow",
            },
        }
    )
    counter = use_counter(gate)
    assert isinstance(counter, HubUses) and counter.offline == "allow"
    assert isinstance(use_counter(parse_config({})), LocalUses)


def test_a_command_goes_once_to_its_own_box_and_never_late(tmp_path, hub):
    """The hub's console → a gate on a gate box (sync.community.commands): handed to the
    box whose gate it is, once, only while young; answered only by that box."""
    server, hub_db = hub
    _, north = enrolled(tmp_path, server, hub_db, "north")
    _, south = enrolled(tmp_path, server, hub_db, "south")
    gates = [{"id": "n1", "name": "北门", "kind": "vehicle"}]
    assert north.request("POST", "/community/v1/commands", {"gates": gates, "wait": 0}) == {
        "commands": [],
        "refused_gates": [],
    }
    taken = south.request("POST", "/community/v1/commands", {"gates": gates, "wait": 0})
    assert taken["refused_gates"] == ["gate n1 belongs to another box"]
    gate = remote_gate(hub_db.conn, "n1", utc_now())
    assert gate is not None and gate.box_id == "north" and gate.name == "北门" and gate.online
    request = {"cmd": "open", "operator": "guard01", "reason": "送货"}

    # a waiting long-poll is answered by the command written meanwhile
    got: list = []
    poll = threading.Thread(
        target=lambda: got.append(
            north.request("POST", "/community/v1/commands", {"gates": gates, "wait": 20})
        )
    )
    poll.start()
    time.sleep(0.3)  # the poll is waiting at the hub
    command_id = queue_command(hub_db, gate, request, utc_now())
    poll.join(15)
    assert [c["id"] for c in got[0]["commands"]] == [command_id]
    assert got[0]["commands"][0]["request"] == request
    assert north.request("POST", "/community/v1/commands", {"wait": 0})["commands"] == []  # once
    assert south.request("POST", "/community/v1/commands", {"wait": 0})["commands"] == []
    answer = {"id": command_id, "reply": {"ok": True, "event_id": "x"}}
    assert south.request("POST", "/community/v1/commands/result", answer) == {"kept": False}
    assert north.request("POST", "/community/v1/commands/result", answer) == {"kept": True}
    assert north.request("POST", "/community/v1/commands/result", answer) == {"kept": False}
    assert await_command(hub_db, command_id, 1).state == "done"

    # never late: one its box did not take in time is never handed out
    late = queue_command(hub_db, gate, request, utc_now() - timedelta(seconds=10))
    assert north.request("POST", "/community/v1/commands", {"wait": 0})["commands"] == []
    assert await_command(hub_db, late, 0, take_s=0).state == "expired"
    for bad in ({"gates": "n1"}, {"gates": [{"id": "n1", "name": "x", "kind": "boat"}]},
                {"wait": "soon"}):  # fmt: skip
        with pytest.raises(TransportError, match="400"):
            north.request("POST", "/community/v1/commands", bad)
    with pytest.raises(TransportError, match="400"):
        north.request("POST", "/community/v1/commands/result", {"id": "1", "reply": {}})


def test_the_hub_wakes_for_a_command_and_else_looks_only_when_the_store_changed(
    tmp_path, monkeypatch
):
    """No polling for commands: the console's write wakes `hub serve` (one datagram), so a
    waiting box gets it even when the hub's periodic look is an hour away; a command
    written without the wake (another tool) is still found by that look, which runs its
    queries only when another connection has committed something (PRAGMA data_version)."""
    import sync.community.hub as hub_module

    def open_hub() -> tuple[HubServer, object, HubClient, object]:
        server = HubServer(tmp_path / "hub.db", HUB_KEY, tmp_path / "hub-snapshots").start()
        db = connect(tmp_path / "hub.db")
        _, box = enrolled(tmp_path, server, db, f"north{len(list_boxes(db.conn))}")
        gates = [{"id": f"n{len(list_boxes(db.conn))}", "name": "北门", "kind": "vehicle"}]
        box.request("POST", "/community/v1/commands", {"gates": gates, "wait": 0})
        gate = remote_gate(db.conn, gates[0]["id"], utc_now())
        return server, db, box, gate

    def waiting_poll(box: HubClient) -> tuple[threading.Thread, list]:
        got: list = []
        poll = threading.Thread(
            target=lambda: got.append(box.request("POST", "/community/v1/commands", {"wait": 30}))
        )
        poll.start()
        return poll, got

    request = {"cmd": "open", "operator": "guard01", "reason": "送货"}
    monkeypatch.setattr(hub_module, "POLL_S", 3600.0)  # the periodic look: never in this test
    server, db, box, gate = open_hub()
    try:
        before = server.pollers[gate.box_id]
        poll, got = waiting_poll(box)
        _wait_for(lambda: server.pollers[gate.box_id] is not before, "the poll to wait")
        command_id = queue_command(db, gate, request, utc_now())  # the console's write
        poll.join(25)
        assert not poll.is_alive() and [c["id"] for c in got[0]["commands"]] == [command_id]
    finally:
        server.stop()
        db.conn.close()

    monkeypatch.setattr(hub_module, "POLL_S", 0.1)
    server, db, box, gate = open_hub()
    try:
        poll, got = waiting_poll(box)
        with transaction(db) as conn:  # a command row written by something that does not wake
            conn.execute(
                "INSERT INTO community_commands (box_id, gate_id, request, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (gate.box_id, gate.id, json.dumps(request), iso(utc_now()),
                 iso(utc_now() + timedelta(seconds=30))),
            )  # fmt: skip
        poll.join(25)
        assert not poll.is_alive() and len(got[0]["commands"]) == 1
    finally:
        server.stop()
        db.conn.close()


def _wait_for(check, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
