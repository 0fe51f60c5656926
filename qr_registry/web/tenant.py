"""The public pages a tenant reaches by scanning the door sticker: register, move out,
extend. No login; the room token in the URL is the only key, the document number plus
phone of an active registration prove who is moving out. Submissions are rate limited
per client address; a bad form changes nothing and answers 422 with every problem named.
"""

from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext

from edge.web.app import get_db, now, state
from qr_registry import registrations
from qr_registry.documents import DocType, FieldError, validate_document
from qr_registry.form import CO_RELATIONS, ETHNICITIES, MAX_CO_RESIDENTS, parse_tenant_form
from qr_registry.masking import normalise_phone
from qr_registry.rooms import Room, lookup_token
from qr_registry.web.common import errors_by_field, labels, translate, vault

log = logging.getLogger(__name__)
bp = Blueprint("tenant", __name__, url_prefix="/r", template_folder="templates")


def _room(token: str) -> Room:
    found = lookup_token(get_db().conn, token)
    if found.state == "replaced":
        abort(
            410, gettext("This sticker has been replaced. Please scan the new sticker on the door.")
        )
    if found.state != "current" or found.room is None:
        abort(404, gettext("This code is not known. Please check with your landlord."))
    return found.room


def _throttle() -> None:
    if not state().public_limiter.hit(f"public|{request.remote_addr}"):
        abort(429)


def _today() -> date:
    return now().astimezone(state().config.site.zone).date()


def _form_page(room: Room, token: str, values: dict, errors: dict[str, str], code: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "tenant/register.html",
        room=room,
        token=token,
        values=values,
        errors=errors,
        labels=labels(),
        doc_types=list(DocType),
        ethnicities=ETHNICITIES,
        co_relations=CO_RELATIONS,
        co_slots=range(1, MAX_CO_RESIDENTS + 1),
        today=_today().isoformat(),
    ), code


@bp.route("/<token>", methods=["GET", "POST"])
def register(token: str):  # type: ignore[no-untyped-def]
    room = _room(token)
    if request.method == "GET":
        return _form_page(
            room, token, {"ethnicity": "汉族", "move_in_date": _today().isoformat()}, {}
        )
    _throttle()
    config = state().config.registry
    form, problems = parse_tenant_form(request.form, _today(), config.max_stay_days)
    values = {k: v for k, v in request.form.items() if k != "csrf_token" and len(v) <= 300}
    if form is None:
        return _form_page(room, token, values, errors_by_field(problems), 422)
    try:
        reg_id = registrations.submit(
            get_db(), vault(), room, form, now(), config.confirm_deadline_hours,
            config.consent_version,
        )  # fmt: skip
    except FieldError as exc:
        return _form_page(room, token, values, {exc.field: translate(exc)}, 409)
    log.info("registration %s submitted for room %s", reg_id, room.id)
    return redirect(url_for("tenant.done", token=token, hours=config.confirm_deadline_hours), 303)


@bp.route("/<token>/done")
def done(token: str):  # type: ignore[no-untyped-def]
    room = _room(token)
    return render_template(
        "tenant/done.html", room=room, hours=state().config.registry.confirm_deadline_hours
    )


@bp.route("/<token>/leave", methods=["GET", "POST"])
def leave(token: str):  # type: ignore[no-untyped-def]
    """Move out or extend: the tenant proves the registration with document number + phone."""
    room = _room(token)
    page = {"room": room, "token": token, "labels": labels(), "doc_types": list(DocType)}
    if request.method == "GET":
        return render_template("tenant/leave.html", values={}, errors={}, message="", **page)
    _throttle()
    form = request.form
    values = {k: v for k, v in form.items() if k != "csrf_token" and len(v) <= 300}
    errors: dict[str, str] = {}
    try:
        number = validate_document(form.get("doc_type", ""), form.get("doc_number", ""), _today())
        phone = normalise_phone(form.get("phone", ""))
        action = form.get("action")
        if action not in ("move_out", "extend"):
            raise FieldError("action", "Choose moving out or extending")
        day = date.fromisoformat(form.get("date", "")) if len(form.get("date", "")) == 10 else None
        if day is None:
            raise FieldError("date", "Enter a date like 2025-03-01")
    except FieldError as exc:
        errors[exc.field] = translate(exc)
    except ValueError:
        errors["date"] = gettext("Enter a date like 2025-03-01")
    if errors:
        return render_template(
            "tenant/leave.html", values=values, errors=errors, message="", **page
        ), 422
    db = get_db()
    reg_id = registrations.find_active_for_tenant(db.conn, vault(), room.id, number.number, phone)
    if reg_id is None:
        errors["doc_number"] = gettext(
            "No active registration in this room matches this document and phone."
        )
        return render_template(
            "tenant/leave.html", values=values, errors=errors, message="", **page
        ), 422
    try:
        if action == "move_out":
            reason = (form.get("reason") or "").strip() or gettext("Moved out")
            registrations.move_out(db, vault(), reg_id, day, reason[:200], "tenant", now())
            message = gettext("Your move-out is registered. Thank you.")
        else:
            registrations.extend(
                db, vault(), reg_id, day, "tenant", now(), state().config.registry.max_stay_days
            )
            message = gettext("Your stay is extended.")
    except registrations.RegistrationError as exc:
        errors["date"] = gettext(str(exc))
        return render_template(
            "tenant/leave.html", values=values, errors=errors, message="", **page
        ), 422
    return render_template("tenant/leave.html", values={}, errors={}, message=message, **page)
