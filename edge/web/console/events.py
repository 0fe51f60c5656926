"""Gate events (console blueprint ``console_events``, see edge.web.console): search, one
event explained, its snapshot, the CSV export and the live feed the pages poll.

Police and grid workers' reads are audit-logged — each search page with the filters used,
each event and snapshot viewed, each export, and each feed answer that delivered events to
them — the rule for every access by police. An empty feed poll writes nothing: it happens
every second on every open page and says nothing about what anyone saw.

The feed is polled (GET ``/events/feed?after=<rowid>``) rather than pushed with server-sent
events: a stream holds one of the web server's four threads per open tablet for as long as
the page is open, so three tablets would starve the tenant pages and the consoles. A poll
is one primary-key range read answered in about a millisecond, and at 0.7 s intervals an
alert still shows within a second.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext

from edge import audit
from edge.events import search as event_search
from edge.events.export import events_csv
from edge.events.search import DECISIONS, KINDS, FilterError
from edge.store.prompts import PROMPT_TTL, open_prompts, prompts_for_events
from edge.store.snapshot_access import crop_jpeg, resolve_snapshot, thumbnail_jpeg
from edge.vocabulary import Vocabulary, parse_lang
from edge.web.access import allowed_roles, require_console_roles
from edge.web.console.alert_view import picture_source, with_picture
from edge.web.console.event_labels import (
    decision_label,
    filter_message,
    gate_names,
    has_crop,
    kind_label,
    local_seconds,
    present,
    present_prompt,
)
from edge.web.context import actor, get_db, now, state

bp = Blueprint("console_events", __name__, url_prefix="/events", template_folder="templates")
bp.before_request(require_console_roles("console_events"))
AUDITED_ROLES = ("police", "grid")
PLATE_ONLY_ROLES = ("grid",)
EXPORT_ROLES = allowed_roles("console_events.export")
PROMPT_ROLES = allowed_roles("console_live.confirm_prompt")  # who answers a gate's question


@bp.app_template_filter("local_seconds")
def _local_seconds_filter(value: str | None, with_date: bool = True) -> str:
    return local_seconds(value, state().config.site.zone, with_date)


def _audit_read(action: str, target: str, **details: Any) -> None:
    if g.user.role in AUDITED_ROLES:
        audit.record(get_db(), actor(), action, target, **details)


def _names() -> dict[str, str]:
    return gate_names(get_db().conn, state().config.gates)


def _filters() -> event_search.EventFilters:
    return event_search.parse_filters(request.args, state().config.site.zone, set(_names()))


def _event_or_abort(event_id: str) -> dict[str, Any]:
    if not event_search.is_event_id(event_id):
        abort(400, filter_message(FilterError("event_id", "event")))
    event = event_search.get_event(get_db().conn, event_id)
    if event is None:
        abort(404, gettext("There is no event %(id)s.", id=event_id))
    return event


# The search form's fields: only these are carried into links (url_for takes other names —
# endpoint, _method, _external — as its own arguments: a query key like those gave a 500).
SEARCH_FIELDS = ("plate", "plate_match", "person", "from", "to", "gate", "decision", "kind")


def _page_args(**extra: str) -> dict[str, str]:
    """The current search's fields (without its cursor) for links to other pages."""
    kept = {k: v for k in SEARCH_FIELDS if (v := request.args.get(k, ""))}
    return {**kept, **extra}


def _search_page(**context: Any) -> str:
    return render_template(
        "console/events.html",
        args=request.args,
        gates=sorted(_names().items()),
        kinds=[(k, kind_label(k)) for k in KINDS],
        decisions=[(d, decision_label(d)) for d in DECISIONS],
        may_export=g.user.role in EXPORT_ROLES,
        feed_cursor=event_search.current_cursor(get_db().conn),
        **context,
    )


@bp.route("/", endpoint="search")
def search():
    try:
        filters = _filters()
        before = event_search.parse_cursor(request.args.get("before", ""))
    except FilterError as exc:
        return _search_page(rows=[], counts=None, error=filter_message(exc), next_url=None), 400
    conn = get_db().conn
    page = event_search.search(conn, filters, before)
    totals = event_search.counts(conn, filters)
    _audit_read(
        "search", "events", filters=filters.for_audit(), page=before.encode() if before else "",
        results=len(page.rows), total=totals["total"],
    )  # fmt: skip
    names = _names()
    next_url = None
    if page.next_cursor is not None:
        next_url = url_for(".search", **_page_args(before=page.next_cursor.encode()))
    role = g.user.role
    return _search_page(
        rows=[_with_pictures(present(row, names), role) for row in page.rows],
        counts=totals,
        error="",
        next_url=next_url,
        first_url=url_for(".search", **_page_args()) if before else None,
        export_url=url_for(".export", **_page_args()),
        export_en_url=url_for(".export", **_page_args(lang="en")),
    )


@bp.route("/export.csv", endpoint="export")
def export():
    try:
        filters = _filters()
    except FilterError as exc:
        abort(400, filter_message(exc))
    conn = get_db().conn
    total = event_search.counts(conn, filters)["total"]
    audit.record(
        get_db(), actor(), "export", "events", format="csv", filters=filters.for_audit(),
        results=total,
    )  # fmt: skip
    zone = state().config.site.zone
    stamp = now().astimezone(zone).strftime("%Y%m%d-%H%M")
    rows = event_search.iter_matching(conn, filters)
    words = Vocabulary.for_language(parse_lang(request.args.get("lang")), zone)
    return Response(
        stream_with_context(events_csv(rows, words, _names())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="gate-events-{stamp}.csv"'},
    )


def _feed_item(
    row: dict[str, Any], names: dict[str, str], prompt: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One event for the pages polling the feed; with the guard's question it raised, if
    any is open (only for the roles that may answer it)."""
    item = _with_pictures(present(row, names), g.user.role)
    zone = state().config.site.zone
    return {
        "id": item["id"],
        "rowid": item["rowid"],
        "gate_id": item["gate_id"],
        "kind": item["kind"],
        "decision": item["decision"],
        "at": item["occurred_at"],
        "time": local_seconds(item["occurred_at"], zone),
        "alert": item["alert"],
        "url": url_for(".event", event_id=item["id"]),
        "row_html": render_template("console/_event_row.html", e=item),
        "alert_html": (
            render_template("console/_alert.html", a=with_picture(get_db().conn, item))
            if item["alert"]
            else None
        ),
        "prompt_html": render_template("console/_prompt.html", p=present_prompt(prompt))
        if prompt
        else None,
    }


@bp.route("/feed", endpoint="feed")
def feed():
    """Events after ``after`` (an events rowid); without it, just the cursor to start from."""
    alerts = request.args.get("alerts", "0")
    try:
        after = event_search.parse_feed_cursor(request.args.get("after"))
        if alerts not in ("0", "1"):
            raise FilterError("cursor", "alerts")
    except FilterError as exc:
        return jsonify(error=filter_message(exc)), 400
    conn = get_db().conn
    if after is None:
        return jsonify(cursor=event_search.current_cursor(conn), events=[], more=False)
    batch = event_search.feed(conn, after, alerts_only=alerts == "1")
    names = _names()
    prompts = {}
    if g.user.role in PROMPT_ROLES:
        prompts = prompts_for_events(conn, [row["id"] for row in batch.rows])
    items = [_feed_item(row, names, prompts.get(row["id"])) for row in batch.rows]
    if items:
        _audit_read(
            "feed", "events", events=[i["id"] for i in items],
            alerts=[i["id"] for i in items if i["alert"]],
        )  # fmt: skip
    # Questions answered or closed elsewhere leave the guard's cards on the next poll.
    asked = None
    if g.user.role in PROMPT_ROLES:  # every gate's cards: more than one card holds
        asked = [p["id"] for p in open_prompts(conn, limit=500, since=now() - PROMPT_TTL)]
    return jsonify(cursor=batch.cursor, events=items, more=batch.more, open_prompts=asked)


@bp.route("/<event_id>", endpoint="event")
def event_page(event_id: str):
    event = _event_or_abort(event_id)
    names = _names()
    related = [present(r, names) for r in event_search.related_events(get_db().conn, event)]
    _audit_read("view", f"event:{event_id}")
    picture = picture_source(get_db().conn, event)
    return render_template(
        "console/event.html",
        e=_with_pictures(present(event, names), g.user.role),
        picture=_with_pictures(present(picture, names), g.user.role) if picture else None,
        related=related,
    )


def picture_sizes(role: str, event: dict[str, Any]) -> tuple[str, ...]:
    """The snapshot sizes ``role`` may see of ``event``: "" (whole), "thumb", "crop".

    Grid workers see plates, never faces: only the plate crop of a vehicle event — not the
    whole picture (a windscreen shows the driver) and nothing of a pedestrian gate.
    Landlords and residents never reach this blueprint."""
    if not event.get("snapshot_path"):
        return ()
    if role in PLATE_ONLY_ROLES:
        return ("crop",) if event.get("plate") else ()
    return ("", "thumb", "crop")


def _with_pictures(item: dict[str, Any], role: str) -> dict[str, Any]:
    """``item`` with the pictures its rows show: a crop where the gate wrote a box (and the
    role may see it), else the small picture, else none."""
    allowed = picture_sizes(role, item)
    crop = "crop" in allowed and has_crop(item)
    return {**item, "pictures": allowed, "shown_picture": "crop" if crop else
            ("thumb" if "thumb" in allowed else "")}  # fmt: skip


@bp.route("/<event_id>/snapshot", endpoint="snapshot")
def snapshot(event_id: str):
    size = request.args.get("size", "")
    if size not in ("", "thumb", "crop"):
        abort(400, gettext("Unknown snapshot size."))
    event = _event_or_abort(event_id)
    if event.get("snapshot_path") and size not in picture_sizes(g.user.role, event):
        _audit_read("snapshot_refused", f"event:{event_id}", size=size or "full")
        abort(403, gettext("You may not see this picture."))
    path = resolve_snapshot(state().config.storage.snapshot_dir, event["snapshot_path"])
    body = None
    if path is not None:
        details = event["details"] if isinstance(event.get("details"), dict) else {}
        try:
            if size == "crop":  # the plate or face only: a box that is not in the picture is 404
                body = crop_jpeg(path, details)
            else:
                body = thumbnail_jpeg(path) if size == "thumb" else path.read_bytes()
        except OSError:  # removed by retention a moment ago, or unreadable
            body = None
    if body is None:
        abort(404, gettext("This event has no snapshot (or it was removed to free disk space)."))
    _audit_read("view_snapshot", f"event:{event_id}", size=size or "full")
    # no-store like every page (set app-wide): a face must not outlive the session in a
    # shared tablet's cache
    return Response(body, mimetype="image/jpeg")
