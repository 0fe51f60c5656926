"""Police and grid-worker console: search all registrations, filter, count, export.

Everything shown is masked. Revealing a full document number, phone or address is for the
``police`` role only and needs a stated reason; each reveal, view, search and export is in
the audit log (with the filters used, never their plaintext values).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request
from flask_babel import gettext

from edge import audit
from edge.web.app import actor, get_db, now, state
from edge.web.roles import require_roles
from qr_registry import export, registrations, rooms, stickers
from qr_registry.documents import FieldError
from qr_registry.search import STATUSES, Filters, parse_filters, search
from qr_registry.web.common import labels, translate, vault

bp = Blueprint("police", __name__, url_prefix="/police", template_folder="templates")
bp.before_request(require_roles("police", "grid"))
REVEAL_ROLES = ("police",)


def _filters() -> tuple[Filters, str]:
    try:
        return parse_filters(request.args.to_dict()), ""
    except FieldError as exc:
        return Filters(), translate(exc)


def _used(filters: Filters) -> list[str]:
    return sorted(k for k, v in vars(filters).items() if v not in ("", None, False))


def _run(filters: Filters, limit: int = 500):  # type: ignore[no-untyped-def]
    try:
        return search(get_db().conn, vault(), filters, now(), state().config.site.zone, limit=limit)
    except FieldError as exc:
        abort(400, translate(exc))


@bp.route("/", endpoint="search")
def search_page():  # type: ignore[no-untyped-def]
    filters, error = _filters()
    if error:
        return render_template(
            "police/search.html", rows=[], counts={}, error=error, args=request.args,
            link_args=_link_args(), labels=labels(), statuses=STATUSES,
        ), 400  # fmt: skip
    rows, counts = _run(filters)
    audit.record(
        get_db(), actor(), "search", "registrations", filters=_used(filters), results=len(rows)
    )
    return render_template(
        "police/search.html", rows=rows, counts=counts, error="", args=request.args,
        link_args=_link_args(), labels=labels(), statuses=STATUSES,
    )  # fmt: skip


# The search form's fields, the only query keys carried into the export links: url_for
# takes names like fmt, endpoint or _method as its own (such a key in the query gave a 500).
SEARCH_FIELDS = ("name", "doc_number", "phone", "room", "status", "from", "to", "overdue")


def _link_args() -> dict[str, str]:
    return {k: v for k in SEARCH_FIELDS if (v := request.args.get(k, ""))}


@bp.route("/export.<fmt>")
def export_file(fmt: str):  # type: ignore[no-untyped-def]
    if fmt not in ("csv", "xlsx"):
        abort(404)
    filters, error = _filters()
    if error:
        abort(400, error)
    rows, _counts = _run(filters, limit=100_000)
    audit.record(get_db(), actor(), "export", "registrations", format=fmt,
                 filters=_used(filters), results=len(rows))  # fmt: skip
    stamp = now().astimezone(state().config.site.zone).strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        body, mime = export.to_csv(rows), "text/csv; charset=utf-8"
    else:
        body = export.to_xlsx(rows)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="registrations-{stamp}.{fmt}"'},
    )


@bp.route("/registrations/<reg_id>")
def detail(reg_id: str):  # type: ignore[no-untyped-def]
    item = registrations.get(get_db().conn, reg_id, now())
    if item is None:
        abort(404)
    audit.record(get_db(), actor(), "view", f"registration:{reg_id}")
    return render_template(
        "police/detail.html", item=item, labels=labels(), revealed={}, error="",
        may_reveal=g.user.role in REVEAL_ROLES,
    )  # fmt: skip


@bp.route("/registrations/<reg_id>/reveal", methods=["POST"])
def reveal(reg_id: str):  # type: ignore[no-untyped-def]
    if g.user.role not in REVEAL_ROLES:
        abort(403)
    item = registrations.get(get_db().conn, reg_id, now())
    if item is None:
        abort(404)
    field = request.form.get("field", "")
    revealed, error = {}, ""
    try:
        revealed[field] = registrations.reveal(
            get_db(), vault(), reg_id, field, actor(), request.form.get("reason", "")[:300], now()
        )
    except registrations.RegistrationError as exc:
        error = gettext(str(exc))
    return render_template(
        "police/detail.html", item=item, labels=labels(), revealed=revealed, error=error,
        may_reveal=True,
    ), (422 if error else 200)  # fmt: skip


@bp.route("/buildings/<int:building_id>/stickers.pdf")
def building_stickers(building_id: int):  # type: ignore[no-untyped-def]
    listed = rooms.list_rooms(get_db().conn, building_id=building_id)
    if not listed:
        abort(404)
    pdf = stickers.sticker_sheet_pdf(listed, state().config.registry.base_url)
    audit.record(get_db(), actor(), "sticker_sheet", f"building:{building_id}", rooms=len(listed))
    return Response(pdf, mimetype="application/pdf")
