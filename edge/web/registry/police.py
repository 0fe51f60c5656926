"""Police and grid-worker console: search all registrations, filter, count, export.

Everything shown is masked, and what each role sees is qr_registry.masking's
``ROLE_FIELDS`` (a grid worker gets an age band, never a birth year, beside the masked
number, on the page and in the export alike). Searching by a full document number or
phone is for ``police`` only, within a daily quota per officer (an exact search tells
whether a number is registered). Revealing a full value is for ``police`` only and needs
a stated reason; each reveal, view, search and export is in the audit log (with the
filters used, never their plaintext values).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request
from flask_babel import force_locale, gettext

from edge import audit
from edge.db import transaction
from edge.vocabulary import local_time, parse_lang
from edge.web.access import require_roles
from edge.web.context import actor, get_db, now, state
from edge.web.i18n import N_
from edge.web.printing import printable
from edge.web.registry.common import export_row, labels, translate, vault, view
from qr_registry import export, registrations, rooms, stickers
from qr_registry.documents import FieldError
from qr_registry.masking import REVEAL_ROLES, ROLE_FIELDS
from qr_registry.search import STATUSES, Filters, parse_filters, record_exact_search, search

bp = Blueprint("police", __name__, url_prefix="/police", template_folder="templates")
bp.before_request(require_roles("police", "grid"))
EXACT_ROLES = ("police",)
SEARCH_KEYS = ("name", "doc_number", "phone", "room", "status", "from", "to", "overdue")


# Full document numbers and phones come only in a POST body (the search form posts): in a
# URL they would stay in the browser's history of a shared console PC, and in any link.
EXACT_KEYS = ("doc_number", "phone")


def _args() -> dict[str, str]:
    """The known filters of the form (POST) or the query string (nothing else reaches
    url_for or a filter)."""
    # A number or phone in a link is refused (_filters), and never shown back.
    posted = request.method == "POST"
    source = request.form if posted else request.args
    keys = [k for k in SEARCH_KEYS if posted or k not in EXACT_KEYS]
    return {k: v for k in keys if (v := source.get(k, "")) and len(v) <= 200}


def _link_args() -> dict[str, str]:
    """The filters a link (an export) may carry: never a full number or phone."""
    return {k: v for k, v in _args().items() if k not in EXACT_KEYS}


# The search form's labels, so a refused filter is named as the reader sees it.
FILTER_LABELS = {
    "name": N_("Name"), "doc_number": N_("Document number"), "phone": N_("Phone"),
    "room": N_("Room"), "status": N_("Status"), "from": N_("Submitted from"),
    "to": N_("Submitted to"),
}  # fmt: skip


def _filters() -> tuple[Filters, str]:
    if request.method == "GET" and any(request.args.get(k) for k in EXACT_KEYS):
        return Filters(), gettext(
            "Search by document number or phone with the form: never in a link."
        )
    try:
        filters = parse_filters(_args())
    except FieldError as exc:
        label = FILTER_LABELS.get(exc.field)
        if label is None:
            return Filters(), translate(exc)
        return Filters(), gettext(
            "%(field)s: %(problem)s", field=gettext(label), problem=translate(exc)
        )
    if filters.exact() and g.user.role not in EXACT_ROLES:
        return Filters(), gettext("Searching by full document number or phone is for police.")
    return filters, ""


def _used(filters: Filters) -> list[str]:
    return sorted(k for k, v in vars(filters).items() if v not in ("", None, False))


def _run(filters: Filters, limit: int = 500):
    if filters.exact():
        with transaction(get_db()) as conn:
            allowed = record_exact_search(
                conn, g.user.id, now(), state().config.registry.exact_searches_per_day
            )
        if not allowed:
            audit.record(get_db(), actor(), "search_refused", "registrations", reason="quota")
            abort(429, gettext("Your exact searches for today are used up. Try again tomorrow."))
    try:
        return search(get_db().conn, vault(), filters, now(), state().config.site.zone, limit=limit)
    except FieldError as exc:
        abort(400, translate(exc))


def _page(rows: list, counts: dict, error: str, code: int = 200):
    return render_template(
        "police/search.html", rows=rows, counts=counts, error=error, args=_args(),
        link_args=_link_args(), labels=labels(g.user.role), statuses=STATUSES,
        exact=g.user.role in EXACT_ROLES, exact_used=any(_args().get(k) for k in EXACT_KEYS),
    ), code  # fmt: skip


@bp.route("/", endpoint="search", methods=["GET", "POST"])
def search_page():
    filters, error = _filters()
    if error:
        return _page([], {}, error, 400)
    rows, counts = _run(filters)
    audit.record(
        get_db(), actor(), "search", "registrations", filters=_used(filters), results=len(rows)
    )
    return _page([view(r, g.user.role) for r in rows], counts, "")


@bp.route("/export.<fmt>")
def export_file(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    filters, error = _filters()
    if error:
        abort(400, error)
    rows, _counts = _run(filters, limit=100_000)
    audit.record(get_db(), actor(), "export", "registrations", format=fmt,
                 filters=_used(filters), results=len(rows))  # fmt: skip
    stamp = now().astimezone(state().config.site.zone).strftime("%Y%m%d-%H%M")
    with force_locale(parse_lang(request.args.get("lang"))):  # Chinese unless lang=en
        lab = labels(g.user.role)
        shown = [export_row(view(r, g.user.role), lab) for r in rows]
        for row in shown:
            row["submitted_at"] = _local(row.get("submitted_at"))
        columns = export.columns_for(ROLE_FIELDS[g.user.role])
        if fmt == "csv":
            body, mime = export.to_csv(shown, columns, gettext), "text/csv; charset=utf-8"
        else:
            body = export.to_xlsx(shown, columns, gettext)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="registrations-{stamp}.{fmt}"'},
    )


def _local(value: str | None) -> str:
    return local_time(value, state().config.site.zone)


def _detail(item: dict, revealed: dict, error: str, code: int = 200):
    """The registration's page: every rendering is a view in the audit log, the refused
    reveal's page as much as the GET (each shows the person)."""
    audit.record(get_db(), actor(), "view", f"registration:{item['id']}")
    return render_template(
        "police/detail.html", item=item, labels=labels(g.user.role), revealed=revealed, error=error,
        may_reveal=g.user.role in REVEAL_ROLES, role=g.user.role,
    ), code  # fmt: skip


@bp.route("/registrations/<reg_id>")
def detail(reg_id: str):
    item = registrations.get(get_db().conn, vault(), reg_id, now())
    if item is None:
        abort(404)
    return _detail(view(item, g.user.role), {}, "")


@bp.route("/registrations/<reg_id>/reveal", methods=["POST"])
def reveal(reg_id: str):
    if g.user.role not in REVEAL_ROLES:
        abort(403)
    item = registrations.get(get_db().conn, vault(), reg_id, now())
    if item is None:
        abort(404)
    field = request.form.get("field", "")
    revealed, error = {}, ""
    try:
        revealed[field] = registrations.reveal(
            get_db(), vault(), reg_id, field, actor(), request.form.get("reason", "")[:300], now()
        )
    except registrations.RegistrationError as exc:
        error = exc.render(gettext)
    return _detail(view(item, g.user.role), revealed, error, 422 if error else 200)


@bp.route("/buildings/<int(max=2147483647):building_id>/stickers.pdf")
def building_stickers(building_id: int):
    listed = rooms.list_rooms(get_db().conn, building_id=building_id)
    if not listed:
        abort(404)
    listed = printable(listed)
    pdf = stickers.sticker_sheet_pdf(
        listed,
        state().config.registry.base_url,
        controller=state().config.registry.controller,
    )
    audit.record(get_db(), actor(), "sticker_sheet", f"building:{building_id}", rooms=len(listed))
    return Response(pdf, mimetype="application/pdf")
