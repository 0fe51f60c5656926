"""The public pages a tenant reaches by scanning the door sticker: register, check the
status, ask to move out or stay longer; and the page a co-resident opens to consent.

No login; the room token in the URL is the only key. Nothing here answers differently
depending on whether a person is registered somewhere: a registration is always accepted
as pending (within per-room and per-sticker caps), a move-out or extension request always
gets the same "sent" page, and the status page needs reference + phone and says only
"not found" otherwise. A request becomes a change only when the landlord confirms it, or
— where an SMS gateway is set up — when the code sent to the registered phone is typed.
Submissions are rate limited per client address; a bad form changes nothing and answers
422 with every problem named.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import date, timedelta

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext

from edge.pii import PiiDecryptError
from edge.web.context import get_db, now, state
from edge.web.registry.common import (
    country_options,
    errors_by_field,
    labels,
    today,
    translate,
    vault,
    view,
)
from qr_registry import registrations, stickers
from qr_registry.documents import DocType, FieldError, validate_document
from qr_registry.form import (
    CO_RELATIONS,
    ETHNICITIES,
    MAX_CO_RESIDENTS,
    parse_tenant_form,
)
from qr_registry.masking import normalise_phone
from qr_registry.otp import new_code, sender_for
from qr_registry.rooms import Room, lookup_token

log = logging.getLogger(__name__)
bp = Blueprint("tenant", __name__, url_prefix="/r", template_folder="templates")
RECEIPT_PURPOSE = "tenant.receipt"
RECEIPT_TTL = timedelta(days=7)  # the links must outlive the moment: people share them later


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


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _values(form: dict) -> dict[str, str]:
    return {k: v for k, v in form.items() if k != "csrf_token" and len(v) <= 300}


def _form_page(room: Room, token: str, values: dict, errors: dict[str, str], code: int = 200):
    return render_template(
        "tenant/register.html",
        room=room,
        token=token,
        values=values,
        errors=errors,
        labels=labels("tenant"),
        doc_types=list(DocType),
        ethnicities=ETHNICITIES,
        countries=country_options(),
        co_relations=CO_RELATIONS,
        co_slots=range(1, MAX_CO_RESIDENTS + 1),
        today=today().isoformat(),
    ), code


def _seal_receipt(receipt: registrations.Receipt) -> str:
    record = {"reg": receipt.reg_id, "links": receipt.consent_links, "at": now().timestamp()}
    sealed = vault().encrypt_text(json.dumps(record, ensure_ascii=False), RECEIPT_PURPOSE)
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def _open_receipt(text: str) -> dict | None:
    if len(text) > 4000:
        return None
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        record = json.loads(vault().decrypt_text(sealed, RECEIPT_PURPOSE))
    except (binascii.Error, ValueError, PiiDecryptError):
        return None
    if now().timestamp() - float(record["at"]) > RECEIPT_TTL.total_seconds():
        return None
    return record


@bp.route("/<token>", methods=["GET", "POST"])
def register(token: str):
    room = _room(token)
    if request.method == "GET":
        return _form_page(room, token, {"move_in_date": today().isoformat()}, {})
    _throttle()
    config = state().config.registry
    form, problems = parse_tenant_form(request.form, today(), config.max_stay_days)
    values = _values(request.form)
    if form is None:
        return _form_page(room, token, values, errors_by_field(problems), 422)
    limits = registrations.Limits(config.pending_per_room, config.submissions_per_sticker_per_day)
    try:
        receipt = registrations.submit(
            get_db(), vault(), room, form, now(), config.confirm_deadline_hours,
            config.consent_version, token, limits,
        )  # fmt: skip
    except registrations.RoomBusyError as exc:
        return _form_page(room, token, values, {"form": exc.render(gettext)}, 429)
    log.info("registration %s submitted for room %s", receipt.reg_id, room.id)
    return redirect(url_for("tenant.done", token=token, receipt=_seal_receipt(receipt)), 303)


@bp.route("/<token>/done/<receipt>")
def done(token: str, receipt: str):
    """The confirmation: reference code, masked summary, co-residents' own consent links."""
    room = _room(token)
    record = _open_receipt(receipt)
    item = registrations.get(get_db().conn, vault(), record["reg"], now()) if record else None
    if record is None or item is None or item["room_id"] != room.id:
        return _no_store(Response(render_template("tenant/expired.html"), 410))
    base = state().config.registry.base_url
    links = []
    for masked, link_token in record["links"]:
        url = f"{base}/r/consent/{link_token}"
        png = base64.b64encode(stickers.qr_png(url)).decode("ascii")
        links.append({"name": masked, "url": url, "qr": "data:image/png;base64," + png})
    page = render_template(
        "tenant/done.html", room=room, item=view(item, "tenant"), labels=labels("tenant"),
        ref=registrations.format_ref(item["ref_code"]), links=links,
        hours=state().config.registry.confirm_deadline_hours,
    )  # fmt: skip
    return _no_store(Response(page))


@bp.route("/status", methods=["GET", "POST"])
def status():
    """A tenant checks their registration with its reference and their phone."""
    if request.method == "GET":
        return render_template("tenant/status.html", values={}, errors={}, item=None)
    _throttle()
    values = _values(request.form)
    errors: dict[str, str] = {}
    try:
        phone = normalise_phone(request.form.get("phone", ""))
    except FieldError as exc:
        errors[exc.field] = translate(exc)
    ref = request.form.get("ref", "")
    if not isinstance(ref, str) or not registrations.normalise_ref(ref):
        errors["ref"] = gettext("Enter the reference from your confirmation page")
    if errors:
        return render_template("tenant/status.html", values=values, errors=errors, item=None), 422
    item = registrations.status_for(get_db().conn, vault(), ref, phone, now())
    if item is None:
        errors["ref"] = gettext("No registration matches this reference and phone.")
        return render_template("tenant/status.html", values=values, errors=errors, item=None), 404
    page = render_template(
        "tenant/status.html", values={}, errors={}, item=view(item, "tenant"),
        labels=labels("tenant"),
        ref=registrations.format_ref(item["ref_code"]),
    )  # fmt: skip
    return _no_store(Response(page))


def _leave_page(room: Room, token: str, values: dict, errors: dict, code: int = 200):
    return render_template(
        "tenant/leave.html", room=room, token=token, labels=labels("tenant"),
        doc_types=list(DocType),
        values=values, errors=errors, sms=sender_for(state().config.registry.sms_gateway),
    ), code  # fmt: skip


def _request_date(form: dict, action: str) -> date:
    raw = form.get("date", "")
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise FieldError("date", "Enter a date like 2025-03-01")
    limit = state().config.registry.max_stay_days
    if action == "move_out" and not today() - timedelta(days=60) <= day <= today() + timedelta(
        days=90
    ):
        raise FieldError("date", "The move-out date must be within two months of today")
    if action == "extend" and not today() < day <= today() + timedelta(days=limit):
        raise FieldError("date", "At most %(days)s days; extend later", days=limit)
    return day


@bp.route("/<token>/leave", methods=["GET", "POST"])
def leave(token: str):
    """Ask to move out or extend; the same reply whether or not anything matched."""
    room = _room(token)
    if request.method == "GET":
        return _leave_page(room, token, {}, {})
    _throttle()
    form = request.form
    values = _values(form)
    errors: dict[str, str] = {}
    action = form.get("action") or ""
    try:
        facts = validate_document(form.get("doc_type", ""), form.get("doc_number", ""), today())
        phone = normalise_phone(form.get("phone", ""))
        if action not in ("move_out", "extend"):
            raise FieldError("action", "Choose moving out or extending")
        day = _request_date(form, action)
    except FieldError as exc:
        errors[exc.field] = translate(exc)
    reason = (form.get("reason") or "").strip()[:200]
    if errors:
        return _leave_page(room, token, values, errors, 422)
    sender = sender_for(state().config.registry.sms_gateway)
    code = new_code() if sender else None
    handle, send_to = registrations.open_request(
        get_db(), vault(), room.id, facts.number, phone, action, day, reason, now(), code
    )
    if sender and code and send_to:
        sender.send(send_to, code, handle)
    if sender:
        return redirect(url_for("tenant.verify", token=token, handle=handle), 303)
    return redirect(url_for("tenant.request_sent", token=token), 303)


@bp.route("/<token>/leave/sent")
def request_sent(token: str):
    return render_template("tenant/request_sent.html", room=_room(token), token=token)


@bp.route("/<token>/verify/<handle>", methods=["GET", "POST"])
def verify(token: str, handle: str):
    """Type the one-time code sent to the registered phone (only with an SMS gateway)."""
    room = _room(token)
    if sender_for(state().config.registry.sms_gateway) is None:
        abort(404)
    if request.method == "GET":
        return render_template("tenant/verify.html", room=room, error="")
    _throttle()
    outcome = registrations.verify_request_code(
        get_db(), vault(), handle, request.form.get("code", ""), now(),
        state().config.registry.max_stay_days,
    )  # fmt: skip
    if outcome == "done":
        return render_template("tenant/request_done.html", room=room)
    message = (
        gettext("That code is not right. Please check the text message and try again.")
        if outcome == "wrong"
        else gettext("This code has expired or was used up. Please send the request again.")
    )
    return render_template("tenant/verify.html", room=room, error=message), 422


@bp.route("/consent/<link>", methods=["GET", "POST"])
def consent(link: str):
    """A co-resident (14 or older) gives or refuses their own consent."""
    person = registrations.co_resident_for_link(get_db().conn, vault(), link)
    if person is None:
        return render_template("tenant/consent.html", person=None, answered=""), 404
    if request.method == "GET":
        return render_template(
            "tenant/consent.html", person=person, labels=labels("tenant"), answered="", error=""
        )
    _throttle()
    answer = request.form.get("answer")
    if answer not in ("agree", "refuse"):
        return render_template(
            "tenant/consent.html", person=person, labels=labels("tenant"), answered="",
            error=gettext("Choose whether you agree."),
        ), 422  # fmt: skip
    registrations.answer_consent_link(get_db(), vault(), link, answer == "agree", now())
    return render_template("tenant/consent.html", person=None, answered=answer)
