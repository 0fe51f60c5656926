"""The dashboard (console blueprint ``console_dashboard``): gate traffic per hour today and
per day over 30 days by gate, the open/deny split with the top deny reasons, alarms by
kind, and tenant registrations pending and overdue per building.

For the admin (their home page) and for police and grid workers: it shows counts only,
never a plate, a face or a name, so reading it is not audit-logged. The figures come from
``edge.events.stats`` in the site's time zone; the charts are SVG drawn here
(``charts``), each with its numbers in a table beside it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import get_locale, gettext

from edge.events import stats as event_stats
from edge.vocabulary import zone_label
from edge.web.access import require_console_roles
from edge.web.console.charts import (
    SERIES_CLASSES,
    Series,
    row_bar,
    split_bar,
    stacked_bars,
)
from edge.web.console.event_labels import gate_names, kind_label, reason_label
from edge.web.context import get_db, now, state

bp = Blueprint("console_dashboard", __name__, url_prefix="/dashboard", template_folder="templates")
bp.before_request(require_console_roles("console_dashboard"))


def _gate_series(
    counts: dict[str, list[int]], gates: list[str], names: dict[str, str], length: int
) -> list[Series]:
    return [
        Series(names.get(gate, gate), counts.get(gate, [0] * length), f"dash-s{i % SERIES_CLASSES}")
        for i, gate in enumerate(gates)
    ]


def _busiest(labels: list[str], series: list[Series]) -> tuple[str, int]:
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not totals or max(totals) == 0:
        return "", 0
    best = max(range(len(totals)), key=totals.__getitem__)
    return labels[best], totals[best]


def _time_chart(
    labels: list[str], series: list[Series], label_every: int, what: str
) -> dict[str, Any]:
    total = sum(sum(s.values) for s in series)
    peak, peak_n = _busiest(labels, series)
    summary = gettext(
        "%(what)s: %(total)s passages in all; the most, %(n)s, at %(peak)s.",
        what=what, total=total, n=peak_n, peak=peak or "-",
    )  # fmt: skip
    rows = [
        (label, [s.values[i] for s in series], sum(s.values[i] for s in series))
        for i, label in enumerate(labels)
    ]
    return {
        "svg": stacked_bars(labels, series, summary, label_every),
        "summary": summary,
        "series": series,
        "rows": rows,
        "total": total,
    }


def _split(decided: dict[str, int], period: str) -> dict[str, Any]:
    opened, denied = decided.get("open", 0), decided.get("deny", 0)
    summary = gettext(
        "%(period)s: %(open)s opened, %(deny)s denied.", period=period, open=opened, deny=denied
    )
    parts = [(gettext("Opened"), opened, "dash-open"), (gettext("Denied"), denied, "dash-deny")]
    total = opened + denied
    return {
        "period": period,
        "open": opened,
        "deny": denied,
        "deny_share": round(100 * denied / total) if total else 0,
        "svg": split_bar(parts, summary),
    }


def _bar_rows(items: list[tuple[str, int]], css: str) -> list[tuple[str, int, Any]]:
    scale = max((n for _, n in items), default=0)
    return [(label, n, row_bar([(n, css)], scale)) for label, n in items]


@bp.route("/", endpoint="index")
def index():
    config = state().config
    zone = config.site.zone
    conn = get_db().conn
    figures = event_stats.dashboard(conn, now(), zone)
    names = gate_names(conn, config.gates)
    gates = sorted({*figures.gates, *(g.id for g in config.gates)})
    hours = [f"{h:02d}" for h in range(24)]
    days = [d.strftime("%m-%d") for d in figures.days]
    hourly = _gate_series(figures.hourly, gates, names, 24)
    daily = _gate_series(figures.daily, gates, names, len(days))
    reasons = [
        (reason_label(code) or code or gettext("unknown"), n) for code, n in figures.deny_reasons
    ]
    alarms = [(kind_label(kind), n) for kind, n in figures.alarms.items()]
    buildings = figures.registrations
    scale = max((b.pending for b in buildings), default=0)
    registrations = [
        (f"{b.community} {b.building}", b.pending, b.overdue,
         row_bar([(b.overdue, "dash-deny"), (b.pending - b.overdue, "dash-pending")], scale))
        for b in buildings
    ]  # fmt: skip
    return render_template(
        "console/dashboard.html",
        today=figures.today,
        first_day=figures.days[0],
        zone=zone_label(zone, now(), str(get_locale() or "zh")),
        hourly=_time_chart(hours, hourly, 3, gettext("Today by hour")),
        daily=_time_chart(days, daily, 5, gettext("Last 30 days by day")),
        splits=[
            _split(figures.decisions_today, gettext("Today")),
            _split(figures.decisions_period, gettext("Last 30 days")),
        ],
        reasons=_bar_rows(reasons, "dash-deny"),
        alarms=_bar_rows(alarms, "dash-alarm"),
        alarm_total=sum(n for _, n in alarms),
        registrations=registrations,
        pending_total=sum(b.pending for b in buildings),
        overdue_total=sum(b.overdue for b in buildings),
    )
