"""A resident's credentials in the console: face photos (with consent), PIN, household plates.

Why it is written this way:
- Face photos: consent first (a ticked box; the operator's username is recorded as who took
  it), then every photo is checked — JPEG/PNG, decodable, one large, sharp, frontal face —
  and only when *all* pass are the templates stored, encrypted, with the consent, the
  nonce and the audit row in one transaction. A refused photo is listed with its reason in
  the page language and nothing is stored. Checks run before the write transaction: they
  take a fraction of a second per photo and must not hold the database locked.
- The PIN is hashed before the transaction (scrypt is slow on purpose), never shown back,
  never in the audit row.
- Plates belong to the household. ``edge.people.vehicles``' own transactions nest inside the
  console's (``edge.db.transaction`` becomes a savepoint), so they commit with the audit row.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from flask import Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import RequestEntityTooLarge

from edge import audit
from edge.faces.liveness.enrolment import photo_score
from edge.gates.control import CAPTURE_S, GateUnreachableError, send_gate_command
from edge.people.resident_faces import (
    FaceEnrolmentError,
    check_consent,
    check_photo_count,
    delete_face_photo,
    delete_face_templates,
    face_photo,
    store_face_photo,
    store_templates,
    upload_templates,
)
from edge.people.residents import ResidentError, hash_pin, store_pin_hash
from edge.people.vehicles import EnrolmentError, VehicleInput, add_vehicle, remove_vehicle_id
from edge.plates.grammar import PlateFormatError, normalise_plate
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.event_labels import vocabulary
from edge.web.console.faces import capture_gates, face_recogniser, liveness_checker
from edge.web.console.forms import UPLOAD_LIMIT_BYTES, accepts_uploads, claim_nonce
from edge.web.console.people_common import (
    RID,
    VID,
    back_to,
    bp,
    change,
    resident_or_404,
    resident_page,
    vault,
    who,
)
from edge.web.console.people_messages import error_text
from edge.web.context import actor, get_db, now, state


def _back(rid: int, done: str):
    return redirect(url_for("console_people.resident", rid=rid, done=done), 303)


def _label(filename: str | None, index: int) -> str:
    """The name to list a refused photo under: the file's own name (no folders), or its place."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:60]
    return name or gettext("photo %(n)s", n=index + 1)


@bp.route(f"/{RID}/faces", methods=["POST"], endpoint="enrol_faces")
@accepts_uploads
def enrol_faces(rid: int):
    resident_or_404(rid)
    files = [f for f in request.files.getlist("photos") if f.filename]
    operator = g.user.username
    try:
        check_consent(request.form.get("consent") == "yes", operator)
        check_photo_count(len(files))
    except ResidentError as exc:
        return resident_page(rid, error=error_text(exc), status=400)
    uploads = [(_label(f.filename, i), f.read()) for i, f in enumerate(files)]
    scores: list[float] = []  # each photo's liveness: shown to the operator, never a refusal
    try:
        with face_recogniser() as recogniser:
            checker = liveness_checker()

            def score(image: np.ndarray) -> None:
                verdict = photo_score(checker, recogniser.detector, image)
                scores.append(round(verdict.score, 2) if verdict is not None else 0.0)

            templates = upload_templates(recogniser, uploads, on_image=score)
            model = recogniser.model_sha256
    except FaceEnrolmentError as exc:
        return resident_page(rid, error=error_text(exc), refused=exc.refused, status=400)
    return _store(rid, templates, model, scores, {})


def _store(rid: int, templates: list, model: str, scores: list[float], extra: dict) -> Any:
    """Templates (and, when agreed, the first one's photo) with their audit row; back to
    the resident's page, which says what each liveness score means."""
    operator = g.user.username
    keep_photo = request.form.get("keep_photo") == "yes"
    with change() as conn:
        claim_nonce(conn, actor(), "face_enrol", now())
        ids = store_templates(conn, vault(), model, rid, templates, operator, now())
        if keep_photo:  # the first photo's face, replacing an earlier one
            photo = store_face_photo(conn, vault(), rid, templates[0], operator, now())
        else:  # not agreed (this time): no picture of the face is kept
            photo = False
            delete_face_photo(conn, rid)
        details = {
            "templates": ids,
            "model_sha256": model[:12],
            "photo_kept": photo,
            "liveness_scores": scores,
            **extra,
        }
        audit.append(conn, actor(), "face_enrol", f"resident:{rid}", details, now())
    live = ",".join(f"{s:.2f}" for s in scores)
    return redirect(url_for("console_people.resident", rid=rid, done="faces", live=live), 303)


@bp.route(f"/{RID}/faces/capture", methods=["POST"], endpoint="capture_face")
def capture_face(rid: int):
    """Enrolment by capture from a pedestrian door's camera: the running gate judges a few
    seconds of its camera with the door's own liveness check (edge.gates.control
    ``capture``) and hands back a frame only when it was judged live; a photo or phone held
    up to the camera is refused and nothing is stored."""
    resident_or_404(rid)
    try:
        check_consent(request.form.get("consent") == "yes", g.user.username)
    except ResidentError as exc:
        return resident_page(rid, error=error_text(exc), status=400)
    gate_id = request.form.get("gate", "")
    config = state().config
    if gate_id not in capture_gates(config):
        return resident_page(rid, error=gettext("Choose a pedestrian gate."), status=400)
    request_ = {"cmd": "capture", "seconds": CAPTURE_S}
    try:
        reply = send_gate_command(config.storage.run_dir, gate_id, request_, CAPTURE_S + 20)
    except GateUnreachableError:
        message = gettext("Gate %(gate)s is not running: its camera cannot capture.", gate=gate_id)
        return resident_page(rid, error=message, status=409)
    if not reply.get("ok"):
        message = gettext(
            "Gate %(gate)s cannot capture: %(why)s",
            gate=gate_id,
            why=vocabulary().gate_reply(reply.get("code")),
        )
        return resident_page(rid, error=message, status=409)
    if reply.get("why") == "no_face":
        message = gettext("No face was seen at gate %(gate)s: stand close in front of its camera.",
                          gate=gate_id)  # fmt: skip
        return resident_page(rid, error=message, status=422)
    score = float(reply.get("score", 0.0))
    if not reply.get("live"):
        message = gettext(
            "Capture refused: not judged a live person (liveness %(score)s below "
            "%(threshold)s; a photo or a screen?). Nothing was stored.",
            score=f"{score:.2f}",
            threshold=reply.get("threshold"),
        )
        return resident_page(rid, error=message, status=422)
    try:
        data = base64.b64decode(str(reply.get("photo_jpeg_b64", "")), validate=True)
    except ValueError:
        data = b""
    try:
        with face_recogniser() as recogniser:
            templates = upload_templates(recogniser, [(gettext("capture"), data)])
            model = recogniser.model_sha256
    except FaceEnrolmentError as exc:
        return resident_page(rid, error=error_text(exc), refused=exc.refused, status=400)
    return _store(rid, templates, model, [round(score, 2)], {"captured_at_gate": gate_id})


def _faces_loss(rid: int) -> Confirmation:
    person = resident_or_404(rid)
    return Confirmation(
        gettext("Withdraw the face consent of %(who)s?", who=who(person)),
        [
            gettext(
                "%(n)s face template(s): their face no longer opens any gate", n=person["templates"]
            ),
            gettext("the record of their consent"),
            gettext("the photo kept for their page, if one was kept"),
        ],
        gettext("Delete the face templates"),
        back_to(rid),
        keeps=[gettext("the resident, their PIN and their household's plates")],
    )


@bp.route(f"/{RID}/photo.jpg", endpoint="face_photo")
def face_photo_image(rid: int):
    """The enrolment photo's thumbnail, decrypted for this response only (no-store, like
    every page); 404 when the resident did not agree to keep one."""
    resident_or_404(rid)
    body = face_photo(get_db().conn, vault(), rid)
    if body is None:
        abort(404, gettext("No photo is kept for this resident."))
    return Response(body, mimetype="image/jpeg")


@bp.route(f"/{RID}/faces/delete", methods=["POST"], endpoint="delete_faces")
@confirm_first(_faces_loss)
def delete_faces(rid: int):
    """Consent withdrawn: every template goes, and the consent record with them."""
    resident_or_404(rid)
    with change() as conn:
        count = delete_face_templates(conn, rid)  # the photo thumbnail goes with them
        audit.append(conn, actor(), "face_delete", f"resident:{rid}", {"templates": count}, now())
    return _back(rid, "faces_deleted")


@bp.route(f"/{RID}/pin", methods=["POST"], endpoint="set_pin")
def set_pin(rid: int):
    resident_or_404(rid)
    pin, again = request.form.get("pin", ""), request.form.get("pin_again", "")
    if pin != again:
        error = gettext("The two PINs differ: type the same PIN twice.")
        return resident_page(rid, error=error, status=400)
    try:
        stored = hash_pin(pin)
    except ResidentError as exc:
        return resident_page(rid, error=error_text(exc), status=400)
    with change() as conn:
        replaced = store_pin_hash(conn, rid, stored)
        audit.append(conn, actor(), "pin_set", f"resident:{rid}", {"replaced": replaced}, now())
    return _back(rid, "pin_set")


def _pin_loss(rid: int) -> Confirmation:
    person = resident_or_404(rid)
    return Confirmation(
        gettext("Clear the PIN of %(who)s?", who=who(person)),
        [gettext("their PIN: it no longer opens any gate; the keypad needs a new one")],
        gettext("Clear the PIN"),
        back_to(rid),
    )


@bp.route(f"/{RID}/pin/clear", methods=["POST"], endpoint="clear_pin")
@confirm_first(_pin_loss)
def clear_pin(rid: int):
    resident_or_404(rid)
    with change() as conn:
        if store_pin_hash(conn, rid, None):
            audit.append(conn, actor(), "pin_clear", f"resident:{rid}", {}, now())
    return _back(rid, "pin_cleared")


def _enrolled_household(plate: str) -> str:
    row = (
        get_db()
        .execute(
            "SELECT h.label FROM vehicles v LEFT JOIN households h ON h.id = v.household_id"
            " WHERE v.plate = ? AND v.kind = 'resident' AND v.active = 1",
            (plate,),
        )
        .fetchone()
    )
    return (row[0] if row else None) or "-"


@bp.route(f"/{RID}/plates", methods=["POST"], endpoint="add_plate")
def add_plate(rid: int):
    """A resident vehicle of the resident's household (normalised by the plate grammar)."""
    person = resident_or_404(rid)
    if not person["household"]:
        error = gettext("Give the resident a household first: plates belong to a household.")
        return resident_page(rid, error=error, status=400)
    try:
        plate = normalise_plate(request.form.get("plate", ""))
    except PlateFormatError as exc:
        return resident_page(rid, error=exc.render(gettext), status=400)
    try:
        with change() as conn:
            claim_nonce(conn, actor(), "plate_add", now())
            vid = add_vehicle(get_db(), VehicleInput(plate, "resident", person["household"]))
            details = {"resident_id": rid, "household_id": person["household_id"]}
            audit.append(conn, actor(), "plate_add", f"vehicle:{vid}", details, now())
    except EnrolmentError:  # the only one left: this plate is already a resident vehicle
        error = gettext(
            "Plate %(plate)s is already enrolled (household %(household)s).",
            plate=plate,
            household=_enrolled_household(plate),
        )
        return resident_page(rid, error=error, status=400)
    return _back(rid, "plate_added")


def _plate_loss(rid: int, vid: int) -> Confirmation:
    person = resident_or_404(rid)
    row = (
        get_db()
        .execute(
            "SELECT plate FROM vehicles WHERE id = ? AND household_id = ? AND kind = 'resident'",
            (vid, person["household_id"]),
        )
        .fetchone()
    )
    if row is None:
        abort(404, gettext("This plate is not enrolled for the resident's household."))
    return Confirmation(
        gettext(
            "Remove plate %(plate)s from household %(household)s?",
            plate=row[0],
            household=person["household"],
        ),
        [
            gettext(
                "plate %(plate)s no longer opens the barrier as a resident vehicle", plate=row[0]
            )
        ],
        gettext("Remove the plate"),
        back_to(rid),
    )


@bp.route(f"/{RID}/plates/{VID}/delete", methods=["POST"], endpoint="remove_plate")
@confirm_first(_plate_loss)
def remove_plate(rid: int, vid: int):
    person = resident_or_404(rid)
    with change() as conn:
        row = conn.execute(
            "SELECT source FROM vehicles WHERE id = ? AND household_id = ? AND kind = 'resident'",
            (vid, person["household_id"]),
        ).fetchone()
        if row is None:
            abort(404, gettext("This plate is not enrolled for the resident's household."))
        if row[0] == "district":
            abort(409, gettext("The district platform manages this plate: change it there."))
        remove_vehicle_id(get_db(), vid)
        details = {"resident_id": rid, "household_id": person["household_id"]}
        audit.append(conn, actor(), "plate_remove", f"vehicle:{vid}", details, now())
    return _back(rid, "plate_removed")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge):
    """Raised while the body is read (before any view): name the limit that applied."""
    if request.endpoint == "console_people.enrol_faces":
        message = gettext(
            "The photos are larger than %(mb)s MB together. Send fewer or smaller photos.",
            mb=UPLOAD_LIMIT_BYTES >> 20,
        )
    else:
        message = gettext("What you sent is too large.")
    return render_template("error.html", code=413, title=gettext("Too large"), message=message), 413
