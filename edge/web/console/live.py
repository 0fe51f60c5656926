"""Live view, manual open and health (console blueprint ``console_live``, see edge.web.console).

The live page is rendered whole on the server (a card per configured gate with its latest
events, and the alerts of the last hours), so it is useful without JavaScript; console.js
then polls the events feed (``console_events.feed``, see there why polling) and adds new
events and alert banners as they come.

Prompts (edge.store.prompts): a gate asks the guard about a near miss ("possibly 皖A12345 —
confirm?") or a car waiting unread on its loop; the question shows on the gate's card with
the passage snapshot, the plate crop and the registered plate. Confirming claims the prompt
(one transaction: a second guard's answer finds it taken) and opens through the same
control channel as a manual open, carrying the confirmed plate, which the gate stores with
its opening event; the audit row and the correction (crop + true plate) follow in a second
transaction, or the prompt is released if the gate did not open. Dismissing is audited.

Manual open: the web process never touches a relay — it asks the gate process over its
control socket (edge.gates.control), which records the ``manual_open`` event with the
operator and pulses the relay. The form's nonce is claimed and committed *before* the
request is sent, and the audit row (who, gate, reason, result, event id) is written after
the reply, in a second transaction: holding one transaction open across the request would
hold SQLite's write lock while the gate process waits for that same lock to record its
event, and the request would time out. A double click therefore finds its nonce taken and
sends nothing; a crash between the two leaves the gate's own event, which names the operator.

On a hub, the gates of its gate boxes get cards too, and their opens (and confirmed plates)
go to the box through the hub (sync.community.commands): the box's link hands the request to
that gate's own control socket, so the gate records and pulses exactly as on one box. A box
that is revoked, offline, or does not take the command in time is a refusal in words.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from edge import audit
from edge.box.health import SnapshotSizeCache, all_gate_health, disk_usage, sync_backlog
from edge.config import GateConfig
from edge.db import iso, transaction
from edge.events import search as event_search
from edge.gates.control import GateUnreachableError, send_gate_command
from edge.plates.grammar import PlateFormatError, normalise_plate
from edge.store.prompts import (
    PROMPT_TTL,
    PromptGone,
    claim_prompt,
    get_prompt,
    insert_correction,
    open_prompts,
    prompt_crop,
    read_rates,
    release_prompt,
    set_open_event,
)
from edge.web.access import allowed_roles, require_console_roles
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.alert_view import with_picture
from edge.web.console.event_labels import (
    filter_message,
    gate_names,
    local_seconds,
    present,
    present_prompt,
    vocabulary,
)
from edge.web.console.forms import DuplicateSubmission, claim_nonce
from edge.web.console.health_view import health_cells
from edge.web.context import actor, get_db, now, state
from sync.community.boxes import BoxError, box_report, forget
from sync.community.commands import (
    COMMAND_TTL_S,
    RemoteGate,
    await_command,
    queue_command,
    remote_gate,
    remote_gates,
)

bp = Blueprint("console_live", __name__, url_prefix="/console", template_folder="templates")
bp.before_request(require_console_roles("console_live"))
CARD_ROWS = 6  # events per gate card
ALERT_HOURS = 12  # alerts older than this are not shown as banners when the page opens
ALERT_ROWS = 50  # at most this many in the stack when the page opens (it scrolls)
MAX_REASON = 200  # what the gate's control channel accepts
OPEN_TIMEOUT_S = 2.0
# A gate box's gate: the box takes the command within its TTL, its gate answers within
# OPEN_TIMEOUT_S, and the answer comes back (a margin for a loaded hub).
REMOTE_OPEN_TIMEOUT_S = COMMAND_TTL_S + OPEN_TIMEOUT_S + 0.5
READ_RATE_DAYS = 7  # the health page's plate read rate per lane, by day
_CACHE = "menwei.snapshot_size"


@bp.record_once
def _set_up(setup: Any) -> None:
    """One snapshot-size cache per app (health pages of all threads share it)."""
    setup.app.extensions.setdefault(_CACHE, SnapshotSizeCache())


@bp.app_template_filter("local_seconds")
def _local_seconds_filter(value: str | None, with_date: bool = True) -> str:
    return local_seconds(value, state().config.site.zone, with_date)


def configured_gate(gate_id: str) -> GateConfig:
    """The configured gate `gate_id`, or 404."""
    for gate in state().config.gates:
        if gate.id == gate_id:
            return gate
    abort(404, gettext("There is no gate %(id)s in this appliance's configuration.", id=gate_id))


def is_hub() -> bool:
    return state().config.community.role == "hub"


def community_gates() -> list[RemoteGate]:
    """The gates of this hub's gate boxes (none on a box that is not a hub), without those
    of a removed (revoked) box: it runs no gate of this community any more (an open posted
    from a page shown before the removal is refused as box_revoked)."""
    if not is_hub():
        return []
    return [g for g in remote_gates(get_db().conn, now()) if g.box_state != "revoked"]


def any_gate(gate_id: str) -> GateConfig | RemoteGate:
    """A gate of this box, or (on a hub) of one of its gate boxes; else 404."""
    if any(gate.id == gate_id for gate in state().config.gates) or not is_hub():
        return configured_gate(gate_id)
    gate = remote_gate(get_db().conn, gate_id, now())
    if gate is None:
        abort(
            404,
            gettext(
                "There is no gate %(id)s on this box nor on any of its gate boxes.", id=gate_id
            ),
        )
    return gate


def live_page(status: int = 200, **context: Any) -> tuple[str, int]:
    conn = get_db().conn
    cursor = event_search.current_cursor(conn)  # first: a newer event reaches the feed
    config = state().config
    names = gate_names(conn, config.gates)
    gates: list[GateConfig | RemoteGate] = [*config.gates, *community_gates()]
    cards = [
        {
            "gate": gate,
            "events": [
                present(r, names) for r in event_search.latest_for_gate(conn, gate.id, CARD_ROWS)
            ],
            "prompts": [
                present_prompt(p) for p in open_prompts(conn, gate.id, since=now() - PROMPT_TTL)
            ],
        }
        for gate in gates
    ]
    since = now() - timedelta(hours=ALERT_HOURS)
    alerts = [
        with_picture(conn, present(r, names))
        for r in event_search.recent_alerts(conn, since, ALERT_ROWS)
    ]
    context.setdefault("error", "")
    context.setdefault("error_detail", "")  # the gate's own English words: a diagnostic
    context.setdefault("error_gate", "")
    context.setdefault("notice", "")
    context.setdefault("reason", "")
    return render_template(
        "console/live.html", cards=cards, alerts=alerts, cursor=cursor, card_rows=CARD_ROWS,
        **context,
    ), status  # fmt: skip


@bp.route("/", endpoint="index")
def index():
    opened = request.args.get("opened", "")
    notice = ""
    spooled_gate = request.args.get("opened_gate", "")
    if spooled_gate:  # opened, but its event waits in the gate's spool (storage fault)
        notice = gettext(
            "Gate %(gate)s was opened by hand; its event will be saved when the gate's "
            "storage works again.",
            gate=any_gate(spooled_gate).name,
        )
    if request.args.get("dismissed"):
        notice = gettext("The question was dismissed; the gate stays closed.")
    if opened:
        if not event_search.is_event_id(opened):
            abort(400, filter_message(event_search.FilterError("event_id", "opened")))
        event = event_search.get_event(get_db().conn, opened)
        via_box = request.args.get("via_box", "")
        if event is not None and event["kind"] == "manual_open":
            notice = _opened_in_words(event)
        elif via_box:  # a gate box's gate: its event is still on its way up to the hub
            notice = gettext(
                "%(gate)s opened by its gate box; the event follows within seconds.",
                gate=any_gate(via_box).name,
            )
    return live_page(notice=notice)


def _opened_in_words(event: dict[str, Any]) -> str:
    """ "北门车行道 已开启 (保安 张三, 21:14)": the gate, who opened it (role and name as the
    accounts page has them) and the local time, not an event number."""
    conn = get_db().conn
    username = str((event.get("details") or {}).get("operator") or "")
    row = conn.execute(
        "SELECT display_name, role FROM users WHERE username = ?", (username,)
    ).fetchone()
    name = (row[0] or username) if row else username or "—"
    who = " ".join(part for part in (gettext(row[1]) if row else "", name) if part)
    return gettext(
        "%(gate)s opened (%(who)s, %(time)s)",
        gate=gate_names(conn, state().config.gates).get(event["gate_id"], event["gate_id"]),
        who=who,
        time=local_seconds(event["occurred_at"], state().config.site.zone, False)[:5],
    )


@dataclass(frozen=True)
class OpenResult:
    """``result``: opened / not_running (unreachable) / refused, and for a gate box's gate
    also box_revoked, box_offline (not heard from, or did not take the command in time) and
    no_answer (taken, but no answer came back: the gate may have opened); ``code`` why not,
    as the gate's control channel says it (edge.vocabulary.GATE_REPLIES words it); ``error``
    the English detail, kept for the audit row and shown only as a diagnostic."""

    result: str
    event_id: str | None = None
    code: str | None = None
    error: str | None = None
    box: str | None = None
    ms: float | None = None


def ask_box_gate_to_open(gate: RemoteGate, request_: dict[str, Any]) -> OpenResult:
    """Through the hub to the gate box's gate (sync.community.commands)."""
    if gate.box_state == "revoked":
        return OpenResult("box_revoked", box=gate.box_id)
    if gate.box_state != "enrolled" or not gate.online:
        return OpenResult("box_offline", box=gate.box_id)
    db = get_db()
    started = time.monotonic()
    command_id = queue_command(db, gate, request_, now())
    result = await_command(db, command_id, REMOTE_OPEN_TIMEOUT_S, COMMAND_TTL_S)
    ms = round((time.monotonic() - started) * 1000, 1)
    if result.state == "expired":
        return OpenResult("box_offline", box=gate.box_id, ms=ms)
    if result.state == "sent":
        return OpenResult("no_answer", box=gate.box_id, ms=ms)
    reply = result.reply
    if reply.get("ok"):
        event_id = str(reply.get("event_id") or "") or None
        return OpenResult("opened", event_id=event_id, box=gate.box_id, ms=ms)
    error = str(reply.get("error", "no reason given"))[:200]
    code = reply.get("code") if isinstance(reply.get("code"), str) else "unknown"
    if reply.get("not_running"):
        return OpenResult("not_running", code=code, error=error, box=gate.box_id, ms=ms)
    return OpenResult("refused", code=code, error=error, box=gate.box_id, ms=ms)


def ask_gate_to_open(
    gate: GateConfig | RemoteGate,
    operator: str,
    reason: str,
    plate: str | None = None,
    related_event_id: str | None = None,
) -> OpenResult:
    """Ask the gate process to open (it records the event and pulses the relay); with
    `plate`, the plate a guard confirmed for the passage `related_event_id`."""
    request_: dict[str, Any] = {"cmd": "open", "operator": operator, "reason": reason}
    if plate:
        request_["plate"] = plate
    if related_event_id:
        request_["related_event_id"] = related_event_id
    if isinstance(gate, RemoteGate):
        return ask_box_gate_to_open(gate, request_)
    try:
        reply = send_gate_command(state().config.storage.run_dir, gate.id, request_, OPEN_TIMEOUT_S)
    except GateUnreachableError as exc:
        return OpenResult("not_running", code=exc.code, error=str(exc)[:200])
    if not reply.get("ok"):
        code = reply.get("code")
        return OpenResult(
            "refused",
            code=code if isinstance(code, str) else "unknown",
            error=str(reply.get("error", "no reason given"))[:200],
        )
    return OpenResult("opened", event_id=str(reply.get("event_id") or "") or None)


@bp.route("/gates/<gate_id>/open", methods=["POST"], endpoint="open_gate")
def open_gate(gate_id: str):
    gate = any_gate(gate_id)
    reason = " ".join(request.form.get("reason", "").split())
    problem = ""
    if not reason:
        problem = gettext("Give a reason to open the gate by hand.")
    elif len(reason) > MAX_REASON:
        problem = gettext("The reason is too long (at most 200 characters).")
    if problem:
        return live_page(400, error=problem, error_gate=gate.id, reason=reason[:MAX_REASON])
    db = get_db()
    try:
        with transaction(db) as conn:
            claim_nonce(conn, actor(), f"manual_open:{gate.id}", now())
    except DuplicateSubmission:
        message = gettext(
            "This open request was already sent (a double click or a reload), so it was not "
            "sent again. The gate's events show what happened."
        )
        return live_page(409, error=message, error_gate=gate.id)
    outcome = ask_gate_to_open(gate, g.user.username, reason)
    with transaction(db) as conn:
        audit.append(
            conn, actor(), "manual_open", f"gate:{gate.id}",
            {"reason": reason, **{k: v for k, v in asdict(outcome).items() if v}}, now(),
        )  # fmt: skip
    return open_answer(gate, outcome, reason=reason)


def open_answer(gate: GateConfig | RemoteGate, outcome: OpenResult, **context: Any) -> Any:
    """The page after asking a gate to open: the live page showing the opening, or saying
    why the gate did not open (``context`` refills the form)."""
    if outcome.result == "opened":
        if outcome.event_id and isinstance(gate, RemoteGate):
            return redirect(url_for(".index", opened=outcome.event_id, via_box=gate.id), 303)
        if outcome.event_id:
            return redirect(url_for(".index", opened=outcome.event_id), 303)
        return redirect(url_for(".index", opened_gate=gate.id), 303)
    refusal = _box_refusal(gate, outcome)
    if refusal:
        return live_page(409, error=refusal, error_gate=gate.id, **context)
    why = vocabulary().gate_reply(outcome.code)
    detail = {"error_detail": outcome.error or ""}
    if outcome.result == "not_running":
        message = gettext(
            "Gate %(name)s did not open: %(why)s. Check the gate's service (Health page) or "
            "open it on site.",
            name=gate.name,
            why=why,
        )
        return live_page(409, error=message, error_gate=gate.id, **detail, **context)
    message = gettext("Gate %(name)s refused to open: %(why)s", name=gate.name, why=why)
    return live_page(502, error=message, error_gate=gate.id, **detail, **context)


def _box_refusal(gate: GateConfig | RemoteGate, outcome: OpenResult) -> str:
    """Why a gate box's gate did not open, in words ("" for a gate of this box)."""
    if not isinstance(gate, RemoteGate):
        return ""
    if outcome.result == "box_revoked":
        return gettext(
            "Gate %(name)s did not open: its gate box %(box)s has been revoked (removed from "
            "the community), so the hub sends it nothing. Open it on site.",
            name=gate.name,
            box=gate.box_id,
        )
    if outcome.result == "box_offline":
        seen = (
            local_seconds(gate.last_seen_at, state().config.site.zone)
            if gate.last_seen_at
            else gettext("never")
        )
        return gettext(
            "Gate %(name)s did not open: its gate box %(box)s is offline (last contact "
            "%(seen)s). Check the box's network and power (Health page) or open it on site.",
            name=gate.name,
            box=gate.box_id,
            seen=seen,
        )
    if outcome.result == "no_answer":
        return gettext(
            "Gate box %(box)s took the request for gate %(name)s but did not answer in time: "
            "the gate may have opened. Its events will show what happened.",
            name=gate.name,
            box=gate.box_id,
        )
    return ""


def _health_report() -> dict[str, Any]:
    config = state().config
    cache = current_app.extensions[_CACHE]
    gates = all_gate_health(config.storage.run_dir, list(config.gates))
    return {
        "at": now().isoformat(),
        "gates": gates,
        "disk": disk_usage(config, cache),
        "sync": sync_backlog(get_db(), config, now()),
        "community": box_report(get_db().conn, now()) if is_hub() else None,
        "zone": config.site.zone,
    }


@bp.route("/health", endpoint="health")
def health(error: str | None = None, status: int = 200):
    report = _health_report()
    gates = gate_names(get_db().conn, state().config.gates)
    lanes = read_rates(get_db().conn, state().config.site.zone, now(), READ_RATE_DAYS)
    return render_template(
        "console/health.html", report=report, cells=health_cells(report),
        lanes=[(gates.get(lane.gate_id, lane.gate_id), lane) for lane in lanes],
        read_rate_days=READ_RATE_DAYS, error=error,
        may_forget=g.user.role in allowed_roles("console_live.forget_box"),
    ), status  # fmt: skip


def _removed_box_or_404(box_id: str) -> dict[str, Any]:
    """A removed (revoked) box of this hub, or 404: only those can be forgotten."""
    boxes = box_report(get_db().conn, now())["boxes"] if is_hub() else []
    for box in boxes:
        if box["box_id"] == box_id and box["removed"]:
            return box
    abort(404, gettext("There is no removed gate box %(box)s.", box=box_id))


def _forget_loss(box_id: str) -> Confirmation:
    box = _removed_box_or_404(box_id)
    return Confirmation(
        gettext("Forget the removed gate box %(box)s?", box=box_id),
        [
            gettext("it leaves this page and `menwei hub status`"),
            gettext(
                "its gates (%(gates)s) leave every list; another box may take their ids",
                gates=", ".join(box["gates"]) or "-",
            ),
        ],
        gettext("Forget the box"),
        url_for(".health"),
        keeps=[gettext("its gates' events and the audit log (history)")],
    )


@bp.route("/boxes/<box_id>/forget", methods=["POST"], endpoint="forget_box")
@confirm_first(_forget_loss)
def forget_box(box_id: str):
    """A hub admin forgets a removed gate box (sync.community.boxes.forget), audited."""
    _removed_box_or_404(box_id)
    try:
        forget(get_db(), box_id, actor(), now())
    except BoxError:  # put back or forgotten by someone else meanwhile
        message = gettext(
            "Gate box %(box)s was not forgotten: it is no longer a removed box.", box=box_id
        )
        return health(error=message, status=409)
    return redirect(url_for(".health"), 303)


@bp.route("/health.json", endpoint="health_json")
def health_json():
    report = _health_report()
    cells = health_cells(report)
    return jsonify(
        at=report["at"],
        gates=[{**asdict(h), "level": h.level} for h in report["gates"]],
        disk={**asdict(report["disk"]), "level": report["disk"].level},
        sync=report["sync"],
        community=report["community"],
        cells={key: {"text": text, "level": level} for key, (text, level) in cells.items()},
    )


def _prompt_or_404(prompt_id: int) -> dict[str, Any]:
    prompt = get_prompt(get_db().conn, prompt_id)
    if prompt is None:
        abort(404, gettext("There is no such question for the guard."))
    return prompt


def _chosen_plate(prompt: dict[str, Any]) -> str | None:
    """The plate the guard confirmed: one the gate suggested (near miss), or the one they
    typed for an unread car ("" when they typed none). None when it is not acceptable."""
    typed = "".join(request.form.get("plate", "").split())
    if prompt["kind"] == "near_miss":
        suggested = {c.get("plate") for c in prompt["candidates"] if isinstance(c, dict)}
        return typed if typed in suggested else None
    if not typed:
        return ""
    try:
        return normalise_plate(typed)
    except PlateFormatError:
        return None


@bp.route("/prompts/<int:prompt_id>/confirm", methods=["POST"], endpoint="confirm_prompt")
def confirm_prompt(prompt_id: int):
    prompt = _prompt_or_404(prompt_id)
    gate = any_gate(prompt["gate_id"])
    if prompt["created_at"] < iso(now() - PROMPT_TTL):
        message = gettext(
            "This question is too old: the car has probably left, and opening now would let "
            "in whoever is there. Dismiss it; open by hand if the car is still there."
        )
        return live_page(409, error=message, error_gate=gate.id)
    plate = _chosen_plate(prompt)
    if plate is None:
        message = (
            gettext("Choose one of the plates the gate suggested.")
            if prompt["kind"] == "near_miss"
            else gettext("That is not a plate. Leave it empty if you cannot read it.")
        )
        return live_page(400, error=message, error_gate=gate.id)
    db = get_db()
    operator = g.user.username
    try:
        with transaction(db) as conn:
            claim_nonce(conn, actor(), f"prompt:{prompt_id}", now())
            claim_prompt(conn, prompt_id, "confirmed", operator, now(), plate or None)
    except (DuplicateSubmission, PromptGone):
        message = gettext(
            "Someone already answered this question; the gate's events show what happened."
        )
        return live_page(409, error=message, error_gate=gate.id)
    if prompt["kind"] == "near_miss":
        reason = f"confirmed plate {plate} (read {prompt['read_plate']})"
    else:
        reason = f"car waiting unread{': ' + plate if plate else ''}"
    outcome = ask_gate_to_open(gate, operator, reason, plate or None, prompt["event_id"])
    event = event_search.get_event(db.conn, prompt["event_id"])
    occurred_at = event["occurred_at"] if event else prompt["created_at"]
    with transaction(db) as conn:
        audit.append(
            conn, actor(), "plate_prompt_confirm", f"prompt:{prompt_id}",
            {"gate": gate.id, "passage": prompt["event_id"], "read": prompt["read_plate"],
             "plate": plate, **{k: v for k, v in asdict(outcome).items() if v}},
            now(),
        )  # fmt: skip
        if outcome.result == "opened":
            set_open_event(conn, prompt_id, outcome.event_id, "opened")
            if plate and plate != prompt["read_plate"]:
                insert_correction(conn, prompt, occurred_at, plate, operator, now())
        else:
            release_prompt(conn, prompt_id)
    return open_answer(gate, outcome)


@bp.route("/prompts/<int:prompt_id>/dismiss", methods=["POST"], endpoint="dismiss_prompt")
def dismiss_prompt(prompt_id: int):
    prompt = _prompt_or_404(prompt_id)
    gate = any_gate(prompt["gate_id"])
    try:
        with transaction(get_db()) as conn:
            claim_nonce(conn, actor(), f"prompt:{prompt_id}", now())
            claim_prompt(conn, prompt_id, "dismissed", g.user.username, now())
            set_open_event(conn, prompt_id, None, "dismissed")
            audit.append(
                conn, actor(), "plate_prompt_dismiss", f"prompt:{prompt_id}",
                {"gate": gate.id, "passage": prompt["event_id"], "read": prompt["read_plate"]},
                now(),
            )  # fmt: skip
    except (DuplicateSubmission, PromptGone):
        message = gettext(
            "Someone already answered this question; the gate's events show what happened."
        )
        return live_page(409, error=message, error_gate=gate.id)
    return redirect(url_for(".index", dismissed=prompt_id), 303)


@bp.route("/prompts/<int:prompt_id>/crop", endpoint="prompt_crop")
def prompt_crop_image(prompt_id: int):
    """The plate as the gate read it (JPEG), for the prompt's card."""
    body = prompt_crop(get_db().conn, prompt_id)
    if body is None:
        abort(404)
    return Response(body, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
