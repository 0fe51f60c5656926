"""The health page's cells: one text and one level (ok / warn / bad) per thing shown.

The page renders them, and the JSON variant returns the very same cells, so console.js
refreshes the page by replacing texts and levels — there is one place that decides how a
camera state or a backlog reads, not one in Python and another in JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from edge.box.health import DiskUsage, GateHealth
from edge.vocabulary import local_time
from edge.web.console.event_labels import decision_label, kind_label, local_seconds
from edge.web.context import state
from edge.web.i18n import N_
from edge.web.printing import font_cell

Cell = tuple[str, str]  # (text, level)
CAMERA_STATES = {
    "starting": N_("starting"),
    "ok": N_("ok"),
    "stalled": N_("stalled"),
    "reconnecting": N_("reconnecting"),
    "failed": N_("failed"),
}
BARRIER_ACTIONS = {
    "idle": N_("idle"),
    "opening": N_("opening"),
    "lowering": N_("lowering"),
    "released": N_("released"),
}


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return gettext("%(n)s s", n=round(seconds))
    if seconds < 7200:
        return gettext("%(n)s min", n=round(seconds / 60))
    return gettext("%(n)s h", n=round(seconds / 3600, 1))


def _camera(h: GateHealth) -> Cell:
    state = h.camera_state or "unknown"
    shown = gettext(CAMERA_STATES[state]) if state in CAMERA_STATES else state
    fps = "%.1f" % (h.camera_fps or 0)
    text = gettext("%(state)s, %(fps)s fps", state=shown, fps=fps)
    if h.last_frame_age_s is not None:
        text += " · " + gettext("last frame %(age)s ago", age=human_age(h.last_frame_age_s))
    if h.camera_level != "ok" and state == "ok":
        text += " · " + gettext("no new picture: the camera may be frozen")
    return text, h.camera_level


def _relay(h: GateHealth) -> Cell:
    relay = h.relay or {}
    if h.kind == "vehicle":
        action = str(relay.get("action", "?"))
        shown = gettext(BARRIER_ACTIONS[action]) if action in BARRIER_ACTIONS else action
        text = gettext("barrier %(action)s, %(pulses)s pulses", action=shown,
                       pulses=relay.get("pulses", 0))  # fmt: skip
        return text, "ok" if relay.get("action") != "released" else "warn"
    text = gettext("locked") if relay.get("locked") else gettext("unlocked")
    if h.door_open:
        text += " · " + gettext("door open")
    if h.fire_alarm:
        return text + " · " + gettext("FIRE ALARM: lock held released"), "bad"
    return text, "ok"


def _last(h: GateHealth) -> Cell:
    last = h.last_decision
    if not last:
        return gettext("none since the gate started"), "ok"
    return f"{kind_label(last.get('kind', ''))}: {decision_label(last.get('decision', ''))}", "ok"


def _storage(h: GateHealth) -> Cell:
    if h.storage_fault:
        return gettext("FAULT: events are kept until the storage works again"), "bad"
    if h.events_unsaved:
        return gettext("%(n)s events waiting to be saved", n=h.events_unsaved), "warn"
    return gettext("ok"), "ok"


def _detail(h: GateHealth) -> Cell:
    """The gate's own English words about what is wrong (the control channel's, the
    camera's, the storage's): shown apart, marked as a diagnostic for support, never as the
    words of the cells a guard reads."""
    if not h.running:
        return h.error or "", "ok"
    camera = h.camera_error if h.camera_error and h.camera_state != "ok" else None
    return " · ".join(filter(None, (camera, h.storage_fault))), "ok"


def gate_cells(h: GateHealth) -> dict[str, Cell]:
    key = h.gate_id
    if not h.running:
        down = gettext("not running")
        cells = {
            f"{key}.{part}": ("—", "bad")
            for part in ("camera", "recogniser", "last", "relay", "storage")
        }
        cells[f"{key}.state"] = (down, "bad")
        cells[f"{key}.detail"] = _detail(h)
        return cells
    ms = "—" if h.recogniser_ms is None else f"{h.recogniser_ms:.0f} ms"
    live = h.liveness or {}
    recogniser_level = "ok"
    if live.get("unavailable"):  # a missing or altered liveness model: faces are off here
        ms += " · " + gettext("liveness model unusable: faces do not open this door")
        recogniser_level = "bad"
    elif live.get("ir_fault"):  # the IR camera this door requires is down: faces are off
        ms += " · " + gettext(
            "infrared camera %(state)s: faces do not open this door",
            state=gettext(CAMERA_STATES.get(str(live["ir_fault"]), str(live["ir_fault"]))),
        )
        recogniser_level = "bad"
    elif live.get("mode") == "off":
        ms += " · " + gettext("liveness off")
    elif isinstance(live.get("observe_ms_avg"), int | float):
        ms += " · " + gettext(
            "liveness %(ms)s ms, %(refused)s of %(judged)s faces refused",
            ms=f"{live['observe_ms_avg']:.0f}",
            refused=live.get("refused", 0),
            judged=live.get("judged", 0),
        )
    return {
        f"{key}.state": (gettext("running"), h.level),
        f"{key}.camera": _camera(h),
        f"{key}.recogniser": (ms, recogniser_level),
        f"{key}.last": _last(h),
        f"{key}.relay": _relay(h),
        f"{key}.storage": _storage(h),
        f"{key}.detail": _detail(h),
    }


def disk_cells(d: DiskUsage) -> dict[str, Cell]:
    free_level = "bad" if d.free_bytes < d.min_free_bytes else "ok"
    snap_level = "warn" if d.snapshot_bytes > 0.9 * d.snapshot_budget_bytes else "ok"
    return {
        "disk.free": (
            gettext(
                "%(free)s free of %(total)s",
                free=human_bytes(d.free_bytes),
                total=human_bytes(d.total_bytes),
            ),
            free_level,
        ),
        "disk.database": (human_bytes(d.database_bytes), "ok"),
        "disk.snapshots": (
            gettext(
                "%(size)s in %(n)s files (budget %(budget)s)",
                size=human_bytes(d.snapshot_bytes),
                n=d.snapshot_files,
                budget=human_bytes(d.snapshot_budget_bytes),
            ),
            snap_level,
        ),
        "disk.integrity": integrity_cell(d),
    }


def integrity_cell(d: DiskUsage) -> Cell:
    """The last hourly integrity_check (edge.box.store_check): red with its first problem."""
    status = d.integrity
    if status is None:
        return (gettext("not checked yet (hourly, by menwei retention)"), "warn")
    at = local_time(status.at, state().config.site.zone)
    if not status.complete:
        return (gettext("not finished within its time budget (%(at)s)", at=at), "warn")
    if status.ok:
        return (gettext("sound (%(at)s)", at=at), "ok")
    first = status.problems[0] if status.problems else ""
    text = gettext(
        "DAMAGED (%(at)s): %(problem)s — stop the services, run menwei db check, then"
        " menwei db recover",
        at=at,
        problem=first,
    )
    return (text, "bad")


def sync_cells(s: dict[str, Any]) -> dict[str, Cell]:
    if not s["configured"]:
        level = "warn" if s["queued"] else "ok"  # events wait for a platform nobody set up
        worker: Cell = (gettext("not connected to a district platform"), level)
    elif s.get("worker") != "running":
        worker = (gettext("not running"), "bad" if s["level"] == "bad" else "warn")
    elif s.get("last_error"):
        worker = (gettext("running, but the platform cannot be reached"), "warn")
    else:
        worker = (gettext("running"), "ok")
    return {
        "sync.queued": (str(s["queued"]), s["level"] if s["queued"] else "ok"),
        "sync.dead": (str(s["dead"]), "bad" if s["dead"] else "ok"),
        "sync.oldest": (human_age(s["oldest_pending_age_s"]) if s["queued"] else "—", s["level"]),
        "sync.worker": worker,
    }


def box_cells(box: dict[str, Any], hub_version: int, zone: Any) -> dict[str, Cell]:
    """One gate box of a hub (sync.community.boxes.box_report), as `menwei hub status`
    reads it: state, last contact, lists against the hub's, backlog, clock skew, gates."""
    key, levels = f"box.{box['box_id']}", box["levels"]
    if box["state"] == "revoked":
        state = gettext(
            "removed %(time)s: key revoked, gets nothing from the hub",
            time=local_seconds(box["revoked_at"], zone) if box["revoked_at"] else "",
        )
    elif box["state"] == "invited":
        state = gettext("invited, not yet joined")
    else:
        state = gettext("online") if box["online"] else gettext("offline")
    if box["last_seen_at"]:
        seen = gettext(
            "%(time)s (%(age)s ago)",
            time=local_seconds(box["last_seen_at"], zone),
            age=human_age(box["age_s"]),
        )
    else:
        seen = gettext("never")
    if box["state"] != "enrolled" and not box["version"]:
        lists = "—"
    elif box["behind"]:
        lists = gettext(
            "version %(version)s, %(n)s changes behind the hub's %(hub)s",
            version=box["version"],
            n=box["behind"],
            hub=hub_version,
        )
    else:
        lists = gettext("version %(version)s, up to date", version=box["version"])
    backlog = (
        gettext("unknown")
        if box["backlog"] is None
        else gettext("%(n)s events not yet sent", n=box["backlog"])
        if box["backlog"]
        else gettext("none")
    )
    skew = box["clock_skew_s"]
    skew_text = gettext("unknown") if skew is None else gettext("%(n)s s", n=f"{skew:+.1f}")
    if box["state"] == "revoked":  # what it held when removed is no longer the hub's concern
        lists = backlog = skew_text = "—"
    return {
        f"{key}.state": (state, levels["state"]),
        f"{key}.seen": (seen, levels["state"]),
        f"{key}.lists": (lists, levels["lists"]),
        f"{key}.backlog": (backlog, levels["backlog"]),
        f"{key}.skew": (skew_text, levels["skew"]),
        f"{key}.gates": (", ".join(box["gates"]) or "—", "ok"),
    }


def health_cells(report: dict[str, Any]) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for gate in report["gates"]:
        cells.update(gate_cells(gate))
    community = report.get("community")
    if community is not None:
        for box in community["boxes"]:
            cells.update(box_cells(box, community["version"], report["zone"]))
    cells.update(disk_cells(report["disk"]))
    cells.update(sync_cells(report["sync"]))
    cells["print.font"] = font_cell()
    return cells
