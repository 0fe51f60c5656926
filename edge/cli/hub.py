"""``menwei hub``: a community of one hub and its gate boxes (docs/community.md).

On the hub: ``serve`` (the gate boxes' server), ``invite`` (a one-time code for a box),
``revoke`` (a box's key stops working), ``forget`` (a removed box leaves every list),
``status`` (every box: last contact, the list version it holds, its backlog, clock skew).
On a gate box: ``join`` (enrol with the code) and ``link`` (lists down, events up), and
``status`` shows the link.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.cli.common import (
    Column,
    cli_group,
    config_option,
    fail,
    print_table,
    read_config,
    say,
    stop_on_signals,
    tr,
    words,
)
from edge.vocabulary import N_, Vocabulary

FORWARD_TIMEOUT_S = 2.0  # as the console's own manual open waits for a gate


def _hub_only(role: str) -> None:
    if role != "hub":
        raise fail('this box is not a hub ([community] role = "hub")')


@cli_group("hub")
def hub() -> None:
    """One hub and its gate boxes: serve, invite, revoke, forget, join, link, status."""


@hub.command("serve")
@config_option
def serve(config_path: Path) -> None:
    """Serve the gate boxes (lists, pass uses, events) until stopped (SIGTERM)."""
    from edge.store.open import open_store, pii_vault
    from sync.community.hub import HubServer, tls_context

    config = read_config(config_path)
    community = config.community
    _hub_only(community.role)
    open_store(config).conn.close()
    tls = None
    if community.tls_certificate is not None and community.tls_key is not None:
        tls = tls_context(community.tls_certificate, community.tls_key)
    stop = stop_on_signals()
    with HubServer(
        config.storage.database_path,
        pii_vault(config),
        config.storage.snapshot_dir,
        community.hub_host,
        community.hub_port,
        tls,
        community.enrol_code_ttl_s,
    ) as server:
        say("hub serving gate boxes on %(url)s", err=True, url=server.url)
        stop.wait()


@hub.command("invite")
@click.argument("box_id")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Serve only this access group's residents and QR passes (repeat; default all).",
)
@config_option
def invite_cmd(box_id: str, groups: tuple[str, ...], config_path: Path) -> None:
    """Print a one-time code for gate box BOX_ID to enrol with (`menwei hub join`)."""
    from edge.db import utc_now
    from edge.store.open import open_store
    from sync.community.boxes import invite

    config = read_config(config_path)
    _hub_only(config.community.role)
    ttl = config.community.enrol_code_ttl_s
    code = invite(open_store(config), box_id, utc_now(), ttl, list(groups) or None)
    hours = config.community.enrol_code_ttl_s / 3600
    click.echo(code)
    say("one-time code for box %(box)s, valid %(hours)s h", err=True, box=box_id,
        hours=f"{hours:g}")  # fmt: skip


@hub.command("groups")
@click.argument("box_id")
@click.argument("groups", nargs=-1)
@config_option
def groups_cmd(box_id: str, groups: tuple[str, ...], config_path: Path) -> None:
    """Serve gate box BOX_ID only these access GROUPS' residents and QR passes (none given:
    every group); the box fetches a fresh snapshot."""
    from edge.store.open import open_store
    from sync.community.boxes import set_groups

    config = read_config(config_path)
    _hub_only(config.community.role)
    set_groups(open_store(config), box_id, list(groups) or None)
    if groups:
        say("box %(box)s serves %(groups)s", box=box_id, groups=", ".join(groups))
    else:
        say("box %(box)s serves every group", box=box_id)


@hub.command("revoke")
@click.argument("box_id")
@config_option
def revoke_cmd(box_id: str, config_path: Path) -> None:
    """Revoke gate box BOX_ID's key (a stolen box): it gets nothing from now on."""
    from edge.db import utc_now
    from edge.store.open import open_store
    from sync.community.boxes import revoke

    config = read_config(config_path)
    _hub_only(config.community.role)
    revoke(open_store(config), box_id, utc_now())
    say("box %(box)s revoked", box=box_id)


@hub.command("forget")
@click.argument("box_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@config_option
def forget_cmd(box_id: str, yes: bool, config_path: Path) -> None:
    """Forget removed (revoked) gate box BOX_ID: it and its gates leave `menwei hub status`,
    the health page and every list; its gates' past events stay. Audited."""
    from edge.db import utc_now
    from edge.store.open import open_store
    from sync.community.boxes import forget

    config = read_config(config_path)
    _hub_only(config.community.role)
    db = open_store(config)
    if not yes:
        question = "Forget removed gate box %(box)s and its gates? This cannot be undone."
        click.confirm(tr(question) % {"box": box_id}, abort=True)
    details = forget(db, box_id, "cli", utc_now())
    say(
        "box %(box)s forgotten (its gates %(gates)s leave every list; their events stay)",
        box=box_id,
        gates=", ".join(details["gates"]) or "-",
    )


@hub.command("join")
@click.argument("code")
@config_option
def join_cmd(code: str, config_path: Path) -> None:
    """Enrol this gate box at its hub with the one-time CODE from `menwei hub invite`."""
    from sync.community.link import join

    config = read_config(config_path)
    community = config.community
    if community.role != "gate" or community.hub_url is None or community.box_id is None:
        raise fail('this box is not a gate box ([community] role = "gate")')
    join(community.hub_url, community.box_id, code, community.key_file, community.ca_file)
    say("enrolled at %(url)s as %(box)s", url=community.hub_url, box=community.box_id)


@hub.command("link")
@config_option
def link_cmd(config_path: Path) -> None:
    """On a gate box: pull the hub's lists and send events to it, until stopped."""
    from edge.gates.control import gate_forwarder
    from edge.store.open import open_store, pii_vault
    from sync.community.link import HubLink

    config = read_config(config_path)
    if config.community.role != "gate":
        raise fail('this box is not a gate box ([community] role = "gate")')
    open_store(config).conn.close()
    stop = stop_on_signals()
    link = HubLink(
        config.storage.database_path,
        config.community,
        pii_vault(config),
        config.storage.snapshot_dir,
        stop,
        tuple((g.id, g.name, g.kind) for g in config.gates),
        gate_forwarder(config.storage.run_dir, FORWARD_TIMEOUT_S),
    )
    link.run()


@hub.command("status")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def status_cmd(as_json: bool, config_path: Path) -> None:
    """The hub: every gate box (state, last contact, list version, backlog, clock skew).
    A gate box: its link to the hub."""
    from edge.db import utc_now
    from edge.store.open import open_store
    from sync.community.boxes import box_report
    from sync.community.lists import list_versions
    from sync.status import read_status_file

    config = read_config(config_path)
    community = config.community
    db = open_store(config)
    if community.role == "gate":
        doc = read_status_file(community.status_file)
        if as_json:
            click.echo(json.dumps(doc or {"worker": "never ran"}, ensure_ascii=False, indent=1))
        elif doc is None:
            say("the link to the hub has not run on this box yet (menwei hub link)")
        else:
            _print_link(doc, words(config))
        return
    _hub_only(community.role)
    report = box_report(db.conn, utc_now())
    version = report["version"]
    if as_json:
        doc = {**report, "versions": list_versions(db.conn)}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    say("hub lists at version %(version)s", version=version)
    print_table(report["boxes"], HUB_COLUMNS, words(config), as_json=False)
    if not report["boxes"]:
        say("No gate box has been invited yet (menwei hub invite).")


def _box_state(b: dict, w: Vocabulary) -> str:
    """A box's state in the health page's words: a removed box says since when."""
    if b["removed"]:
        return w.gettext(N_("removed %(time)s: key revoked, gets nothing from the hub")) % {
            "time": w.time(b.get("revoked_at"))
        }
    if b["state"] != "enrolled":
        return w.gettext(N_("invited, not yet joined"))
    return w.gettext(N_("online") if b["online"] else N_("offline"))


def _last_contact(b: dict, w: Vocabulary) -> str:
    if b["age_s"] is None:
        return w.gettext(N_("never"))
    age = w.gettext(N_("%(n)s s")) % {"n": f"{b['age_s']:.0f}"}
    return w.gettext(N_("%(time)s (%(age)s ago)")) % {
        "time": w.time(b["last_seen_at"], seconds=True),
        "age": age,
    }


def _lists(b: dict, w: Vocabulary) -> str:
    if b["removed"]:
        return "—"
    if b["behind"]:
        return w.gettext(N_("%(version)s (%(n)s behind)")) % {"version": b["version"],
                                                               "n": b["behind"]}  # fmt: skip
    return str(b["version"])


LEVELS = {"ok": N_("ok"), "warn": N_("warning"), "bad": N_("problem")}
# `menwei hub status` on a gate box: its link's status file, field by field
LINK_FIELDS = (
    ("hub_url", N_("Hub")),
    ("box_id", N_("Gate box")),
    ("worker", N_("Link process")),
    ("down", N_("Lists from the hub")),
    ("up", N_("Events to the hub")),
    ("commands", N_("Commands from the hub")),
    ("last_contact_at", N_("Last contact")),
    ("unreachable_since", N_("Unreachable since")),
    ("version", N_("Lists")),
    ("applied_at", N_("Lists applied at")),
    ("commands_done", N_("Commands carried out")),
    ("outbox", N_("Events")),
    ("written_at", N_("Status written at")),
    ("last_error", N_("Last error")),
)
LINK_STATES = {
    "starting": N_("starting"),
    "connected": N_("connected"),
    "unreachable": N_("unreachable"),
    "refused": N_("refused"),
    "running": N_("running"),
    "stopped": N_("stopped"),
}


def _print_link(doc: dict, w: Vocabulary) -> None:
    """The gate box's link in the reader's language and the site's time (a time field ends
    in ``_at`` or ``_since``); the hub's error text is shown as the link wrote it."""
    for key, label in LINK_FIELDS:
        value = doc.get(key)
        if value is None or value == "":
            continue
        if key.endswith(("_at", "_since")):
            shown = w.time(value, seconds=True)
        elif key == "outbox" and isinstance(value, dict):
            shown = w.gettext(
                N_("%(pending)s waiting, %(delivered)s delivered, %(dead)s failed")
            ) % {
                "pending": value.get("pending", 0),
                "delivered": value.get("delivered", 0),
                "dead": value.get("dead", 0),
            }
        else:
            shown = w.word(LINK_STATES, value) if isinstance(value, str) else str(value)
        click.echo(f"{w.gettext(label)}: {shown}")


# `menwei hub status`: the health page's words, times in the site zone
HUB_COLUMNS: list[Column] = [
    (N_("Gate box"), lambda b, w: str(b["box_id"])),
    (N_("State"), _box_state),
    (N_("Last contact"), lambda b, w: "—" if b["removed"] else _last_contact(b, w)),
    (N_("Lists"), _lists),
    (N_("Events waiting"), lambda b, w: "—" if b["removed"] else
        ("?" if b["backlog"] is None else str(b["backlog"]))),
    (N_("Clock skew (s)"), lambda b, w: "—" if b["removed"] else
        ("?" if b["clock_skew_s"] is None else f"{b['clock_skew_s']:+.1f}")),
    (N_("Level"), lambda b, w: w.word(LEVELS, b["level"])),
    (N_("Groups"), lambda b, w: ", ".join(b["groups"] or []) or w.gettext(N_("every group"))),
    (N_("Its gates"), lambda b, w: ", ".join(b["gates"])),
]  # fmt: skip
