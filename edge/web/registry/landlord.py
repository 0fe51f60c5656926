"""Landlord console: their own rooms and tenants only.

Every query is filtered by the landlord's id, so another landlord's registration or room
is indistinguishable from one that does not exist: 404, never 403 (a 403 would confirm
that the id exists).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.web.access import require_roles
from edge.web.confirm import Confirmation, confirm_first
from edge.web.context import actor, get_db, now, state
from edge.web.printing import printable
from edge.web.registry.common import labels, vault, view
from qr_registry import registrations, rooms, stickers
from qr_registry.search import Filters, search

bp = Blueprint("landlord", __name__, url_prefix="/landlord", template_folder="templates")
bp.before_request(require_roles("landlord"))


def _own_registration(reg_id: str) -> dict:
    item = registrations.get(get_db().conn, vault(), reg_id, now(), landlord_id=g.user.id)
    if item is None:
        abort(404)
    return view(item, "landlord")


def _detail(item: dict, error: str = "", code: int = 200):
    """The registration's page: every rendering is a view in the audit log (a refused
    action's page shows the tenant as much as the GET)."""
    audit.record(get_db(), actor(), "view", f"registration:{item['id']}")
    return render_template(
        "landlord/detail.html", item=item, labels=labels("landlord"), error=error, role="landlord"
    ), code


def _own_room(room_id: int) -> rooms.Room:
    room = rooms.get_room(get_db().conn, room_id)
    if room is None or room.landlord_id != g.user.id:
        abort(404)
    return room


@bp.route("/")
def index():
    db = get_db()
    config = state().config
    rows, counts = search(db.conn, vault(), Filters(), now(), config.site.zone, g.user.id)
    audit.record(db, actor(), "list", "landlord", results=len(rows))
    return render_template(
        "landlord/index.html",
        rows=[view(r, "landlord") for r in rows],
        waiting=set(registrations.open_requests_for_landlord(db.conn, g.user.id, now())),
        counts=counts,
        rooms=rooms.list_rooms(db.conn, landlord_id=g.user.id),
        labels=labels("landlord"),
    )


@bp.route("/registrations/<reg_id>")
def detail(reg_id: str):
    return _detail(_own_registration(reg_id))


def _act(reg_id: str, func) -> object:
    item = _own_registration(reg_id)
    try:
        func()
    except registrations.RegistrationError as exc:
        return _detail(item, exc.render(gettext), 422)
    return redirect(url_for("landlord.detail", reg_id=reg_id), 303)


def _tenant(item: dict) -> str:
    """The tenant's name and room for a confirmation page: a view in the audit log."""
    audit.record(get_db(), actor(), "view", f"registration:{item['id']}")
    return gettext("%(name)s in %(room)s", name=item["name"], room=item["room_label"])


def _rejecting_with_reason() -> bool:
    """A rejection that would go through: one without its reason is refused at once."""
    return request.form.get("decision") == "reject" and bool(request.form.get("reason", "").strip())


def _valid_date_given() -> bool:
    """Ask only for a date that would be accepted; a bad one is refused at once."""
    try:
        _date_field("date")
    except registrations.RegistrationError:
        return False
    return True


def _reject_loss(reg_id: str) -> Confirmation:
    item = _own_registration(reg_id)
    return Confirmation(
        gettext("Reject the registration of %(tenant)s?", tenant=_tenant(item)),
        [gettext("the registration is closed as rejected; the tenant must register again")],
        gettext("Reject"),
        url_for("landlord.detail", reg_id=reg_id),
    )


@bp.route("/registrations/<reg_id>/decide", methods=["POST"])
@confirm_first(_reject_loss, when=_rejecting_with_reason)
def decide(reg_id: str):
    choice = request.form.get("decision")
    if choice not in ("confirm", "reject"):
        abort(400, gettext("Choose confirm or reject."))
    reason = (request.form.get("reason") or "")[:300]
    return _act(
        reg_id,
        lambda: registrations.decide(
            get_db(), vault(), reg_id, g.user.id, choice == "confirm", reason, now()
        ),
    )


def _date_field(name: str) -> date:
    value = request.form.get(name, "")
    try:
        return date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("x")
    except ValueError:
        raise registrations.RegistrationError("Enter a date like 2025-03-01") from None


def _move_out_loss(reg_id: str) -> Confirmation:
    item = _own_registration(reg_id)
    return Confirmation(
        gettext("Register that %(tenant)s moved out?", tenant=_tenant(item)),
        [gettext("the stay ends on the date given; it cannot be extended afterwards")],
        gettext("Register move-out"),
        url_for("landlord.detail", reg_id=reg_id),
    )


@bp.route("/registrations/<reg_id>/move-out", methods=["POST"])
@confirm_first(_move_out_loss, when=_valid_date_given)
def move_out(reg_id: str):
    def run() -> None:
        on = _date_field("date")
        reason = (request.form.get("reason") or "")[:300]
        registrations.move_out(get_db(), vault(), reg_id, on, reason, actor(), now())

    return _act(reg_id, run)


@bp.route("/registrations/<reg_id>/extend", methods=["POST"])
def extend(reg_id: str):
    def run() -> None:
        until = _date_field("date")
        registrations.extend(
            get_db(), vault(), reg_id, until, actor(), now(), state().config.registry.max_stay_days
        )

    return _act(reg_id, run)


@bp.route("/registrations/<reg_id>/requests/<int(max=2147483647):request_id>", methods=["POST"])
def decide_request(reg_id: str, request_id: int):
    """Confirm or decline a tenant's move-out or extension request."""
    choice = request.form.get("decision")
    if choice not in ("confirm", "decline"):
        abort(400, gettext("Choose confirm or reject."))
    return _act(
        reg_id,
        lambda: registrations.decide_request(
            get_db(), vault(), request_id, g.user.id, choice == "confirm", now(),
            state().config.registry.max_stay_days,
        ),
    )  # fmt: skip


@bp.route("/registrations/<reg_id>/co/<int(max=2147483647):co_id>/consent", methods=["POST"])
def record_consent(reg_id: str, co_id: int):
    """Consent a co-resident gave in person (or their guardian, for a child under 14)."""
    item = _own_registration(reg_id)
    if co_id not in {c["id"] for c in item.get("co_residents", [])}:
        abort(404)
    guardian = request.form.get("guardian") == "yes"
    note = (request.form.get("note") or "")[:300]
    return _act(
        reg_id,
        lambda: registrations.record_consent_in_person(
            get_db(), vault(), co_id, g.user.id, guardian, note, now()
        ),
    )


@bp.route("/rooms/<int(max=2147483647):room_id>/sticker.png")
def sticker(room_id: int):
    room = _own_room(room_id)
    png = stickers.sticker_png(room, state().config.registry.base_url)
    audit.record(get_db(), actor(), "sticker", f"room:{room_id}")
    return Response(png, mimetype="image/png")


def _rotate_loss(room_id: int) -> Confirmation:
    room = _own_room(room_id)
    return Confirmation(
        gettext("Replace the sticker of %(room)s?", room=room.label),
        [
            gettext("the sticker now on the door stops working: scanning it shows a notice"),
            gettext("you must print the new sticker and put it up"),
        ],
        gettext("Replace sticker"),
        url_for("landlord.index"),
        keeps=[gettext("registrations already made for this room")],
    )


@bp.route("/rooms/<int(max=2147483647):room_id>/rotate", methods=["POST"])
@confirm_first(_rotate_loss)
def rotate(room_id: int):
    _own_room(room_id)
    with transaction(get_db()) as conn:
        rooms.issue_token(conn, room_id, now())
        audit.append(conn, actor(), "rotate_token", f"room:{room_id}")
    return redirect(url_for("landlord.index"), 303)


@bp.route("/stickers.pdf")
def sticker_sheet():
    db = get_db()
    own = rooms.list_rooms(db.conn, landlord_id=g.user.id)
    if not own:
        abort(404)
    own = printable(own)
    pdf = stickers.sticker_sheet_pdf(
        own,
        state().config.registry.base_url,
        controller=state().config.registry.controller,
    )
    audit.record(db, actor(), "sticker_sheet", "landlord", rooms=len(own))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="stickers.pdf"'},
    )
