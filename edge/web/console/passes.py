"""Visitor passes (console blueprint ``console_passes``, /passes; admin, guard).

A guard issues a pass for a visitor of a household — by QR code, plate or face — lists
them by status, and revokes any of them at once. Why it is written this way:
- Each issue or revoke is one transaction: the form's nonce (a double submit issues one
  pass, the second gets 409), the pass, and its audit row (ids, window, uses; no token,
  no template) commit together (edge.people.visitors takes the connection).
- The QR pass's token exists only in the response to the POST that issued it: shown as a
  QR image and offered for download as a PNG, both as ``data:`` URIs (the CSP allows
  images from data:, and the token never enters a URL, a log line or the database —
  only its hash does). The response is ``no-store``; a reload re-posts the used nonce and
  gets 409, so the token cannot be shown twice.
- Face photos are checked (edge.people.resident_faces, the residents' quality checks) before the
  write transaction opens, so the database is never held locked while models run.
- Times are typed in the site's zone (``datetime-local``) and stored UTC.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from edge import audit
from edge.db import transaction
from edge.people.resident_faces import (
    MAX_PHOTOS,
    FaceEnrolmentError,
    upload_templates,
)
from edge.people.visitors import (
    STATUSES,
    PassTermsError,
    count_by_status,
    issue_face,
    list_passes,
    resolve_host,
)
from edge.web.access import require_console_roles
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.faces import face_recogniser
from edge.web.console.forms import (
    UPLOAD_LIMIT_BYTES,
    DuplicateSubmission,
    accepts_uploads,
    claim_nonce,
)
from edge.web.console.pass_forms import (
    FormError,
    field_error,
    local_input,
    parse_resident_number,
    photo_label,
    qr_data_uri,
    terms_error,
)
from edge.web.console.pass_requests import (
    Refused,
    audit_details,
    duplicate,
    issue_from_form,
    read_form,
    read_terms,
    revoke_loss,
    revoke_pass,
)
from edge.web.context import actor, get_db, now, state
from edge.web.i18n import N_

bp = Blueprint("console_passes", __name__, url_prefix="/passes", template_folder="templates")
bp.before_request(require_console_roles("console_passes"))

_MAX_ID = 2**31 - 1  # a larger id in a URL would overflow SQLite's integer: 404, never 500
KINDS = {
    "qr": N_("QR code pass"),
    "plate": N_("Plate pass"),
    "face": N_("Face pass"),
}
STATUS_LABELS = {
    "active": N_("Valid now"),
    "upcoming": N_("Upcoming"),
    "expired": N_("Expired"),
    "used_up": N_("Used up"),
    "revoked": N_("Revoked"),
}
DONE = {
    "plate": N_("Plate pass issued: the vehicle gate opens for it within its window."),
    "face": N_("Face pass issued: the visitor's face opens the door within its window."),
    "revoked": N_("Pass revoked: it no longer opens any gate."),
}


@bp.route("/", endpoint="index")
def index():
    """Every pass, newest first, with its status; filter by one status."""
    status = request.args.get("status", "all")
    if status != "all" and status not in STATUSES:
        abort(400, gettext("Choose one of the listed statuses."))
    rows = list_passes(get_db(), now())
    shown = rows if status == "all" else [r for r in rows if r["status"] == status]
    done = DONE.get(request.args.get("done", ""))
    return render_template(
        "console/passes.html",
        rows=shown,
        counts=count_by_status(rows),
        total=len(rows),
        status=status,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        kinds=KINDS,
        done=gettext(done) if done else "",
    )


def form_defaults() -> dict[str, str]:
    zone = state().config.site.zone
    start = now().replace(second=0, microsecond=0)
    return {
        "household": "",
        "host_resident": "",
        "valid_from": local_input(start, zone),
        "valid_to": local_input(start + timedelta(hours=4), zone),
        "uses": "1",
        "note": "",
        "plate": "",
    }


def _form_page(
    kind: str,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    refused: list | tuple = (),
    status: int = 200,
) -> tuple[str, int]:
    page = render_template(
        "console/passes_new.html",
        kind=kind,
        kinds=KINDS,
        form=form,
        errors=errors or {},
        refused=refused,
        max_photos=MAX_PHOTOS,
    )
    return page, status


@bp.route("/new/<kind>", endpoint="new")
def new(kind: str):
    if kind not in KINDS:
        abort(404, gettext("There is no such kind of pass."))
    return _form_page(kind, form_defaults())


def _host(conn: Any, form: dict[str, str], errors: dict[str, str]) -> Any:
    try:
        resident = parse_resident_number(form["host_resident"])
        return resolve_host(conn, form["household"], resident)
    except FormError as exc:
        errors[exc.field] = exc.message
    except PassTermsError as exc:
        error = terms_error(exc.code, exc.render(gettext))
        errors[error.field] = error.message
    return None


@bp.route("/new/qr", methods=["POST"], endpoint="issue_qr")
def issue_qr_view():
    """Issue a QR pass and show its code this once."""
    form = read_form()
    try:
        issued = issue_from_form("qr", form, lambda conn, errors: _host(conn, form, errors))
    except Refused as refused:
        return _form_page("qr", form, refused.errors, status=400)
    except DuplicateSubmission:
        duplicate()
    return render_template(
        "console/passes_issued.html",
        pass_id=issued.pass_id,
        qr=qr_data_uri(issued.token),
        terms=issued.terms,
        host=issued.host,
        note=issued.note,
    )


@bp.route("/new/plate", methods=["POST"], endpoint="issue_plate")
def issue_plate_view():
    """Issue a counted plate pass for the vehicle gate."""
    form = read_form()
    try:
        issue_from_form("plate", form, lambda conn, errors: _host(conn, form, errors))
    except Refused as refused:
        return _form_page("plate", form, refused.errors, status=400)
    except DuplicateSubmission:
        duplicate()
    return redirect(url_for("console_passes.index", done="plate"), 303)


@bp.route("/new/face", methods=["POST"], endpoint="issue_face")
@accepts_uploads
def issue_face_view():
    """Issue a face pass: the visitor's consent, then photos checked like residents'."""
    form = read_form()
    errors: dict[str, str] = {}
    terms = read_terms(form, errors)
    consent = request.form.get("consent") == "yes"
    if not consent:
        errors["consent"] = terms_error("no_consent", "").message
    files = [f for f in request.files.getlist("photos") if f.filename]
    if not files:
        errors["photos"] = field_error("photos", "photos_missing").message
    elif len(files) > MAX_PHOTOS:
        errors["photos"] = field_error("photos", "photos_too_many", n=MAX_PHOTOS).message
    host = _host(get_db().conn, form, errors)  # a read, before the models run
    if errors:
        return _form_page("face", form, errors, status=400)
    uploads = [(photo_label(f.filename, i), f.read()) for i, f in enumerate(files)]
    try:
        with face_recogniser() as recogniser:
            templates = upload_templates(recogniser, uploads)
            model = recogniser.model_sha256
    except FaceEnrolmentError as exc:
        errors["photos"] = field_error("photos", "photos_refused").message
        return _form_page("face", form, errors, exc.refused, status=400)
    try:
        with transaction(get_db()) as conn:
            host = resolve_host(conn, host.household, host.resident_id)  # still there?
            claim_nonce(conn, actor(), "pass_issue", now())
            visitor_id = issue_face(
                conn,
                state().vault,
                model,
                templates,
                host,
                terms,
                actor(),
                g.user.username,
                consent,
                now(),
            )
            details = audit_details(
                "face", terms, host, templates=len(templates), model_sha256=model[:12]
            )
            audit.append(conn, actor(), "pass_issue", f"pass:face:{visitor_id}", details, now())
    except PassTermsError as exc:
        error = terms_error(exc.code, exc.render(gettext))
        errors[error.field] = error.message
        return _form_page("face", form, errors, status=400)
    except DuplicateSubmission:
        duplicate()
    return redirect(url_for("console_passes.index", done="face"), 303)


def _revoke_loss(kind: str, pass_id: int) -> Confirmation:
    return revoke_loss(kind, pass_id, lambda _conn: True, url_for("console_passes.index"))


@bp.route(f"/<kind>/<int(max={_MAX_ID}):pass_id>/revoke", methods=["POST"], endpoint="revoke")
@confirm_first(_revoke_loss)
def revoke_view(kind: str, pass_id: int):
    """Stop a pass at once (any kind); the row stays in the list as revoked."""
    if kind not in KINDS:
        abort(404, gettext("There is no such kind of pass."))
    revoke_pass(kind, pass_id, lambda _conn: True)
    return redirect(url_for("console_passes.index", done="revoked"), 303)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge):
    if request.endpoint == "console_passes.issue_face":
        message = gettext(
            "The photos are larger than %(mb)s MB in total. Send fewer or smaller photos.",
            mb=UPLOAD_LIMIT_BYTES >> 20,
        )
    else:
        message = gettext("What you sent is too large.")
    return render_template("error.html", code=413, title=gettext("Too large"), message=message), 413
