"""Watchlist (console blueprint ``console_watchlist``, /watchlist; admin, police).

Plates and faces that raise a ``watchlist_alert`` at the gates, whatever the door decides.
Why it is written this way:
- Two sources: ``local`` rows are added and removed here; ``district`` rows come from the
  district platform's downlink (sync.downlink replaces them as a whole), so they are shown
  but not editable — removing one here would only last until the next sync.
- A watch face is made from one uploaded photo with the residents' quality checks (one
  clear frontal face, edge.people.resident_faces) before the write transaction; only its template
  is stored, encrypted (purpose ``watch_face``), never the photo.
- Every add and remove is one transaction with its audit row (and, for adds, the form's
  nonce: a double submit adds one row, the second gets 409). Opening the page as police
  is audit-logged too, like every police access.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from edge import audit
from edge.db import iso, transaction
from edge.errors import UserError
from edge.people.resident_faces import FaceEnrolmentError, upload_templates
from edge.people.vehicles import WatchlistError, insert_watch, list_watch, remove_watch_id
from edge.people.watch_faces import (
    MAX_LABEL,
    MAX_REASON,
    add_watch_face,
    list_watch_faces,
    remove_watch_face,
)
from edge.plates.grammar import PlateFormatError, normalise_plate
from edge.web.access import require_console_roles
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.faces import face_recogniser
from edge.web.console.forms import (
    UPLOAD_LIMIT_BYTES,
    DuplicateSubmission,
    accepts_uploads,
    claim_nonce,
)
from edge.web.console.pass_forms import FormError, parse_local_time, photo_label
from edge.web.context import actor, get_db, now, state
from edge.web.i18n import N_

bp = Blueprint("console_watchlist", __name__, url_prefix="/watchlist", template_folder="templates")
bp.before_request(require_console_roles("console_watchlist"))

_MAX_ID = 2**31 - 1
ID = f"<int(max={_MAX_ID}):entry_id>"
DONE = {
    "plate_added": N_("Plate added to the watchlist: every gate raises an alert when it is seen."),
    "plate_removed": N_("Plate removed from the watchlist."),
    "face_added": N_("Face added to the watchlist: pedestrian gates raise an alert on a match."),
    "face_removed": N_("Face removed from the watchlist, with its template."),
}
ERRORS = {
    "reason": N_("Give the reason, 1 to 200 characters."),
    "label": N_("Give a label for the case, 1 to 60 characters (no name needed)."),
    "expires_past": N_("The end of the watch must be in the future."),
    "plate_listed": N_("This plate is already on the local watchlist."),
    "photo_missing": N_("Choose one photo of the face."),
    "photo_many": N_("Choose only one photo: each photo is its own watchlist entry."),
    "photos_refused": N_("Nothing was stored. Choose a clearer photo and send again."),
}


def _error(code: str) -> str:
    return gettext(ERRORS[code])


def _page(
    errors: dict[str, str] | None = None,
    plate_form: dict[str, str] | None = None,
    face_form: dict[str, str] | None = None,
    refused: list | tuple = (),
    status: int = 200,
) -> tuple[str, int]:
    db = get_db()
    done = DONE.get(request.args.get("done", "")) if status == 200 else None
    page = render_template(
        "console/watchlist.html",
        plates=list_watch(db),
        faces=list_watch_faces(db),
        errors=errors or {},
        plate_form=plate_form or {"plate": "", "reason": "", "expires_at": ""},
        face_form=face_form or {"label": "", "reason": "", "expires_at": ""},
        refused=refused,
        failed="face" if face_form else "plate",
        done=gettext(done) if done else "",
        max_label=MAX_LABEL,
        max_reason=MAX_REASON,
    )
    return page, status


@bp.route("/", endpoint="index")
def index():
    if g.user.role == "police":
        audit.record(get_db(), actor(), "view", "watchlist")
    return _page()


def _common(form: dict[str, str], errors: dict[str, str], label_field: str | None) -> Any:
    """Reason, optional label and optional end of the watch; returns the end (or None)."""
    reason = " ".join(form["reason"].split())
    if not 1 <= len(reason) <= MAX_REASON:
        errors["reason"] = _error("reason")
    if label_field and not 1 <= len(" ".join(form[label_field].split())) <= MAX_LABEL:
        errors[label_field] = _error("label")
    try:
        zone = state().config.site.zone
        expires = parse_local_time(form["expires_at"], zone, "expires_at", end_of_day=True)
    except FormError as exc:
        errors[exc.field] = exc.message
        return None
    if expires is not None and expires <= now():
        errors["expires_at"] = _error("expires_past")
    return expires


def _duplicate() -> Any:
    abort(409, gettext("This form was already sent; nothing was added twice."))


@bp.route("/plates", methods=["POST"], endpoint="add_plate")
def add_plate():
    form = {key: (request.form.get(key) or "")[:300] for key in ("plate", "reason", "expires_at")}
    errors: dict[str, str] = {}
    expires = _common(form, errors, None)
    plate = ""
    try:
        plate = normalise_plate(form["plate"])
    except PlateFormatError as exc:
        errors["plate"] = exc.render(gettext)
    if errors:
        return _page(errors, plate_form=form, status=400)
    try:
        with transaction(get_db()) as conn:
            claim_nonce(conn, actor(), "watch_plate_add", now())  # a resend is 409, not 400
            listed = conn.execute(
                "SELECT 1 FROM watchlist WHERE plate = ? AND source = 'local' AND active = 1"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (plate, iso(now())),
            ).fetchone()
            if listed:
                errors["plate"] = _error("plate_listed")
                raise _Refused
            reason = " ".join(form["reason"].split())
            watch_id = insert_watch(conn, plate, reason, "local", expires, now())
            details = {"plate": plate, "expires_at": expires.isoformat() if expires else None}
            audit.append(conn, actor(), "watch_plate_add", f"watchlist:{watch_id}", details, now())
    except _Refused:
        return _page(errors, plate_form=form, status=400)
    except DuplicateSubmission:
        return _duplicate()
    return redirect(url_for("console_watchlist.index", done="plate_added"), 303)


def _watch_entry(table: str, column: str, entry_id: int) -> str:
    """The plate or case label of a local, active entry (404 otherwise, as the removal)."""
    row = (
        get_db()
        .execute(f"SELECT {column}, source FROM {table} WHERE id = ?", (entry_id,))
        .fetchone()
    )
    if row is None:
        abort(404, gettext("There is no such watchlist entry."))
    if row[1] != "local":
        abort(409, gettext("The district platform manages this entry: change it there."))
    return str(row[0])


def _plate_loss(entry_id: int) -> Confirmation:
    plate = _watch_entry("watchlist", "plate", entry_id)
    return Confirmation(
        gettext("Remove plate %(plate)s from the watchlist?", plate=plate),
        [gettext("no alert is raised any more when %(plate)s is seen at a gate", plate=plate)],
        gettext("Remove from the watchlist"),
        url_for("console_watchlist.index"),
    )


def _face_loss(entry_id: int) -> Confirmation:
    label = _watch_entry("watch_faces", "label", entry_id)
    return Confirmation(
        gettext("Remove the face of case %(label)s from the watchlist?", label=label),
        [
            gettext("no alert is raised any more when this face is seen at a gate"),
            gettext("the face template is deleted; to watch again, a photo is needed"),
        ],
        gettext("Remove from the watchlist"),
        url_for("console_watchlist.index"),
    )


@bp.route(f"/plates/{ID}/remove", methods=["POST"], endpoint="remove_plate")
@confirm_first(_plate_loss)
def remove_plate(entry_id: int):
    try:
        with transaction(get_db()) as conn:
            plate = remove_watch_id(conn, entry_id)
            details = {"plate": plate}
            audit.append(
                conn, actor(), "watch_plate_remove", f"watchlist:{entry_id}", details, now()
            )
    except WatchlistError as exc:
        _refuse_removal(exc)
    return redirect(url_for("console_watchlist.index", done="plate_removed"), 303)


@bp.route("/faces", methods=["POST"], endpoint="add_face")
@accepts_uploads
def add_face():
    form = {key: (request.form.get(key) or "")[:300] for key in ("label", "reason", "expires_at")}
    errors: dict[str, str] = {}
    expires = _common(form, errors, "label")
    files = [f for f in request.files.getlist("photo") if f.filename]
    if not files:
        errors["photo"] = _error("photo_missing")
    elif len(files) > 1:
        errors["photo"] = _error("photo_many")
    if errors:
        return _page(errors, face_form=form, status=400)
    upload = (photo_label(files[0].filename, 0), files[0].read())
    try:
        with face_recogniser() as recogniser:
            [template] = upload_templates(recogniser, [upload])
            model = recogniser.model_sha256
    except FaceEnrolmentError as exc:
        errors["photo"] = _error("photos_refused")
        return _page(errors, face_form=form, refused=exc.refused, status=400)
    try:
        with transaction(get_db()) as conn:
            claim_nonce(conn, actor(), "watch_face_add", now())
            watch_id = add_watch_face(
                conn,
                state().vault,
                template,
                model,
                form["label"],
                form["reason"],
                actor(),
                now(),
                expires,
            )
            details = {
                "expires_at": expires.isoformat() if expires else None,
                "model_sha256": model[:12],
            }
            audit.append(conn, actor(), "watch_face_add", f"watch_face:{watch_id}", details, now())
    except DuplicateSubmission:
        return _duplicate()
    return redirect(url_for("console_watchlist.index", done="face_added"), 303)


@bp.route(f"/faces/{ID}/remove", methods=["POST"], endpoint="remove_face")
@confirm_first(_face_loss)
def remove_face(entry_id: int):
    try:
        with transaction(get_db()) as conn:
            remove_watch_face(conn, entry_id)
            audit.append(conn, actor(), "watch_face_remove", f"watch_face:{entry_id}", {}, now())
    except WatchlistError as exc:
        _refuse_removal(exc)
    return redirect(url_for("console_watchlist.index", done="face_removed"), 303)


def _refuse_removal(exc: WatchlistError) -> None:
    if exc.code == "no_entry":
        abort(404, gettext("There is no such watchlist entry."))
    abort(409, gettext("The district platform manages this entry: change it there."))


class _Refused(UserError):
    """A form error found inside the transaction: roll it back, show the page again."""

    code = "form_refused"

    def __init__(self) -> None:
        super().__init__("form refused")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge):
    if request.endpoint == "console_watchlist.add_face":
        message = gettext(
            "The photo is larger than %(mb)s MB. Send a smaller photo.",
            mb=UPLOAD_LIMIT_BYTES >> 20,
        )
    else:
        message = gettext("What you sent is too large.")
    return render_template("error.html", code=413, title=gettext("Too large"), message=message), 413
