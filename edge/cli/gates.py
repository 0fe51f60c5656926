"""Running and reaching gates: ``gate`` (the gate process), ``open`` and ``status`` (through a
running gate's control socket), ``relays-safe`` (systemd's ExecStopPost)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from edge.cli.common import (
    Column,
    cli_command,
    config_option,
    print_table,
    read_config,
    say,
    shown,
    stop_on_signals,
    tr,
    words,
)
from edge.config import MenweiConfig
from edge.vocabulary import CAMERA_STATES, GATE_KINDS, N_, Vocabulary


@cli_command()
@click.argument("gate_id")
@config_option
def gate(gate_id: str, config_path: Path) -> None:
    """Run one gate, vehicle or pedestrian (owns its camera and relays) until stopped."""
    from edge.box.config_check import check_config
    from edge.box.watchdog import Watchdog
    from edge.demo.narration import describe_outcome, describe_person_outcome
    from edge.gates.assembly import pedestrian_gate, vehicle_gate

    config = read_config(config_path)
    kind = config.gate(gate_id).kind
    found = [c for c in check_config(config, (gate_id,)) if not c.ok]
    # an existing data folder that takes no writes (a full or read-only disk) is a storage
    # fault the gate runs through, deciding from what it reads: never a reason not to start
    faulted = config.storage.data_dir.is_dir()
    bad = [c for c in found if not (faulted and c.subject == "data folder")]
    for c in found:
        if c not in bad:
            say("warning: %(subject)s: %(detail)s (running on what it can read)", err=True,
                subject=shown(c.subject), detail=shown(c.detail))  # fmt: skip
    if bad:  # before anything is made on disk (the database, the run folder)
        raise click.ClickException(
            tr("gate %(gate)s cannot start:") % {"gate": gate_id}
            + "".join(f"\n  - {shown(c.subject)}: {shown(c.detail)}" for c in bad)
        )
    stop = stop_on_signals()

    def show(outcome) -> None:
        describe = describe_outcome if kind == "vehicle" else describe_person_outcome
        click.echo(describe(outcome, config.site.zone))

    watchdog = Watchdog()
    run = vehicle_gate if kind == "vehicle" else pedestrian_gate
    with run(config, gate_id, stop, on_outcome=show, on_idle=watchdog.alive):
        watchdog.ready(f"gate {gate_id} running")
        say("%(kind)s gate %(gate)s running; Ctrl-C to stop", kind=tr(GATE_KINDS[kind]),
            gate=gate_id)  # fmt: skip
        stop.wait()
        watchdog.stopping()


@cli_command("relays-safe")
@click.argument("gate_id")
@config_option
def relays_safe(gate_id: str, config_path: Path) -> None:
    """Drive GATE_ID's relays to their safe state (systemd ExecStopPost after any exit)."""
    from gate_drivers.pins import make_pin_factory

    config = read_config(config_path)
    gate = config.gate(gate_id)
    factory = make_pin_factory(config.hardware.pin_factory)
    if gate.lock is not None:
        from gate_drivers.door import rest_lock_relay

        rest_lock_relay(gate.lock.relay_pin, gate.lock.active_high, factory)
        if gate.lock.fail_mode == "fail_safe":
            say("gate %(gate)s: lock relay at rest (fail_safe: door released)", gate=gate_id)
        else:
            say("gate %(gate)s: lock relay at rest (fail_secure: door locked)", gate=gate_id)
        return
    if gate.barrier is None:
        say("gate %(gate)s: no barrier relays configured", gate=gate_id)
        return
    from gate_drivers.barrier import Barrier

    # Constructing the device drives its pins to the safe level (initial_value=False).
    with Barrier(
        gate.barrier.open_pin,
        gate.barrier.close_pin,
        pulse_s=gate.barrier.pulse_s,
        active_high=gate.barrier.active_high,
        pin_factory=factory,
    ):
        pass
    say("gate %(gate)s: barrier relays in safe state", gate=gate_id)


@cli_command("open")
@click.argument("gate_id")
@click.option("--reason", required=True, help="Why the gate is opened by hand (logged).")
@click.option(
    "--operator",
    default=lambda: os.environ.get("USER", "cli"),
    show_default="$USER",
    help="Who opens it (logged).",
)
@config_option
def open_gate(gate_id: str, reason: str, operator: str, config_path: Path) -> None:
    """Open GATE_ID by hand through its running gate process (logged with operator)."""
    from edge.gates.control import GateUnreachableError, send_gate_command

    config = read_config(config_path)
    config.gate(gate_id)
    try:
        reply = send_gate_command(
            config.storage.run_dir, gate_id, {"cmd": "open", "operator": operator, "reason": reason}
        )
    except GateUnreachableError as exc:
        raise click.ClickException(_not_opened(config, gate_id, exc.code, str(exc))) from None
    if not reply.get("ok"):
        detail = str(reply.get("error") or "")
        raise click.ClickException(_not_opened(config, gate_id, reply.get("code"), detail))
    said = tr("gate %(gate)s opened by hand by %(operator)s (event %(event)s, %(ms)s ms)")
    click.echo(said % {"gate": gate_id, "operator": operator, "event": reply["event_id"],
                       "ms": reply["ms"]})  # fmt: skip


def _not_opened(config: MenweiConfig, gate_id: str, code: object, detail: str) -> str:
    """Why the gate did not open, in the reader's language, the gate's English detail after."""
    said = tr("gate %(gate)s did not open: %(why)s") % {
        "gate": gate_id,
        "why": words(config).gate_reply(code),
    }
    return f"{said} [{detail}]" if detail else said


STATUS_COLUMNS: list[Column] = [
    (N_("Gate"), lambda r, w: r["gate"]),
    (N_("State"), lambda r, w: w.gettext(N_("running") if r["up"] else N_("DOWN"))),
    (N_("Camera"), lambda r, w: w.word(CAMERA_STATES, (r.get("camera") or {}).get("state"))),
    (N_("Frames/s"), lambda r, w: _rounded((r.get("camera") or {}).get("fps"), 1)),
    (N_("Last frame (s ago)"),
     lambda r, w: _rounded((r.get("camera") or {}).get("last_frame_age_s"), 1)),
    (N_("Recogniser (ms)"), lambda r, w: _rounded(r.get("recogniser_ms_avg"), 0)),
    (N_("Last decision"), lambda r, w: _last_decision(r.get("last_decision"), w)),
    (N_("Unsaved events"), lambda r, w: str(r.get("events_unsaved") or "")),
    (N_("Problem"), lambda r, w: _problem(r, w)),
]  # fmt: skip


def _problem(row: dict, words: Vocabulary) -> str:
    """Why the gate is down, else its storage fault (a running gate on a damaged, full or
    read-only store: deciding from its last good copy), else its camera's error."""
    if row.get("problem"):
        return str(row["problem"])
    if row.get("storage_fault"):
        return f"{words.gettext(N_('Storage fault'))}: {row['storage_fault']}"
    return (row.get("camera") or {}).get("last_error") or ""


def _rounded(value: object, places: int) -> str:
    return "" if not isinstance(value, (int, float)) else f"{value:.{places}f}"


def _last_decision(last: dict | None, words: Vocabulary) -> str:
    if not last:
        return ""
    when = words.time(last.get("at"), seconds=True)
    return f"{when} {words.kind(last.get('kind', ''))} {words.decision(last.get('decision', ''))}"


@cli_command()
@click.argument("gate_ids", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Each gate's full health as JSON.")
@config_option
def status(gate_ids: tuple[str, ...], as_json: bool, config_path: Path) -> None:
    """Health of running gates: camera, frames, recogniser latency, last decision. Exits 1
    when any gate asked about is down."""
    from edge.gates.control import GateUnreachableError, send_gate_command

    config = read_config(config_path)
    for gate_id in gate_ids:
        config.gate(gate_id)  # an id not in the config is an error, never "DOWN"
    rows = []
    for gate_id in gate_ids or tuple(g.id for g in config.gates):
        try:
            reply = send_gate_command(config.storage.run_dir, gate_id, {"cmd": "health"})
            rows.append({**(reply.get("health") or {}), "gate": gate_id, "up": True})
        except GateUnreachableError as exc:
            problem = words(config).gate_reply(exc.code)
            rows.append({"gate": gate_id, "up": False, "problem": problem, "detail": str(exc)})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
    else:
        print_table(rows, STATUS_COLUMNS, words(config), as_json=False)
    if not all(row["up"] for row in rows):
        raise SystemExit(1)
