"""Pass requests from the POST in flight: reading the form, issuing, revoking.

Shared by the guards' pass pages (``console_passes``) and the residents' own
(``console_my_passes``), so a pass means the same whoever issues it: the same fields, the
same checks, the same messages, the same transaction (host, form nonce, pass, audit row)
and the same audit rows. The two differ only in who the host is: a guard names it, a
resident is it. Every field's problem is collected, not just the first, so a form comes
back with all of them marked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import abort, request
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.errors import UserError
from edge.people.visitors import (
    Host,
    PassTermsError,
    check_note,
    check_terms,
    is_pass_kind,
    issue_plate,
    issue_qr,
    revoke,
)
from edge.plates.grammar import PlateFormatError, normalise_plate
from edge.web.confirm import Confirmation
from edge.web.console.forms import claim_nonce
from edge.web.console.pass_forms import (
    FormError,
    field_error,
    parse_local_time,
    parse_uses,
    terms_error,
)
from edge.web.context import actor, get_db, now, state

FIELDS = ("household", "host_resident", "valid_from", "valid_to", "uses", "note", "plate")


class Refused(UserError):
    """Form errors (field -> message): roll the transaction back, show the form again."""

    code = "form_refused"

    def __init__(self, errors: dict[str, str] | None = None) -> None:
        super().__init__("form refused")
        self.errors = errors or {}


# (conn, errors) -> the host, or None with the problem put in errors
HostOf = Callable[[sqlite3.Connection, dict[str, str]], Host | None]


@dataclass(frozen=True)
class IssuedPass:
    kind: str
    pass_id: int
    token: str | None  # a QR pass's token: only ever in the response that issued it
    host: Host
    terms: Any
    note: str


def read_form() -> dict[str, str]:
    return {key: (request.form.get(key) or "")[:200] for key in FIELDS}


def read_terms(form: dict[str, str], errors: dict[str, str]) -> Any:
    """Window and uses from the form (times typed in the site's zone), or None."""
    zone = state().config.site.zone
    start = end = uses = None
    for field in ("valid_from", "valid_to"):
        try:
            moment = parse_local_time(form[field], zone, field, field == "valid_to")
        except FormError as exc:
            errors[field] = exc.message
            continue
        if field == "valid_from":
            start = moment or now()
        elif moment is None:
            errors[field] = field_error(field, "end_missing").message
        else:
            end = moment
    try:
        uses = parse_uses(form["uses"])
    except FormError as exc:
        errors[exc.field] = exc.message
    if start is None or end is None:
        return None
    try:  # the window is checked even when the uses are wrong, so both are reported
        terms = check_terms(start, end, uses or 1, now())
    except PassTermsError as exc:
        error = terms_error(exc.code, exc.render(gettext))
        errors[error.field] = error.message
        return None
    return terms if uses is not None else None


def read_note(form: dict[str, str], errors: dict[str, str]) -> str:
    try:
        return check_note(form["note"])
    except PassTermsError as exc:
        error = terms_error(exc.code, exc.render(gettext))
        errors[error.field] = error.message
        return ""


def audit_details(kind: str, terms: Any, host: Any, **extra: object) -> dict[str, object]:
    """What the audit row of an issued pass records: ids, window, uses; no token, no face."""
    return {
        "kind": kind,
        "valid_from": terms.valid_from.isoformat(),
        "valid_to": terms.valid_to.isoformat(),
        "max_uses": terms.max_uses,
        "household_id": host.household_id,
        "host_resident_id": host.resident_id,
        **extra,
    }


def read_plate(form: dict[str, str], errors: dict[str, str]) -> str:
    try:
        return normalise_plate(form["plate"])
    except PlateFormatError as exc:
        errors["plate"] = exc.render(gettext)
        return ""


def issue_from_form(kind: str, form: dict[str, str], host_of: HostOf) -> IssuedPass:
    """Issue a QR or plate pass from ``form``: in one transaction the host, the form's
    nonce (a double submit raises DuplicateSubmission), the pass and its audit row.
    Raises :class:`Refused` with every field's problem."""
    errors: dict[str, str] = {}
    terms, note = read_terms(form, errors), read_note(form, errors)
    plate = read_plate(form, errors) if kind == "plate" else ""
    try:
        with transaction(get_db()) as conn:
            host = host_of(conn, errors)
            if errors or host is None:
                raise Refused(errors)
            claim_nonce(conn, actor(), "pass_issue", now())
            token, extra = None, {}
            if kind == "qr":
                pass_id, token = issue_qr(conn, host, terms, note, actor(), now())
            else:
                pass_id = issue_plate(conn, plate, host, terms, note, actor(), now())
                extra = {"vehicle_id": pass_id}
            details = audit_details(kind, terms, host, **extra)
            audit.append(conn, actor(), "pass_issue", f"pass:{kind}:{pass_id}", details, now())
    except PassTermsError as exc:  # e.g. the plate already has a pass for this time
        error = terms_error(exc.code, exc.render(gettext))
        raise Refused({**errors, error.field: error.message}) from None
    return IssuedPass(kind, pass_id, token, host, terms, note)


def duplicate() -> NoReturn:
    abort(409, gettext("This pass was already issued by this form; nothing was issued twice."))


def revoke_pass(kind: str, pass_id: int, allowed: Callable[[sqlite3.Connection], bool]) -> None:
    """Revoke one pass and audit it, in one transaction; ``allowed`` may refuse it (404,
    as for a pass that does not exist, so ids are not revealed). Aborts on every refusal."""
    if not is_pass_kind(kind):
        abort(404, gettext("There is no such kind of pass."))
    try:
        with transaction(get_db()) as conn:
            if not allowed(conn):
                raise PassTermsError("no_pass", "not a pass this account may revoke")
            details = revoke(conn, kind, pass_id)
            audit.append(conn, actor(), "pass_revoke", f"pass:{kind}:{pass_id}", details, now())
    except PassTermsError as exc:
        if exc.code == "no_pass":
            abort(404, gettext("There is no such pass."))
        if exc.code == "already_revoked":
            abort(409, gettext("This pass is already revoked."))
        if exc.code == "district_pass":
            abort(409, gettext("The district platform manages this pass: change it there."))
        raise


_PASS_FACTS = {  # plate (plate passes), templates (face passes), still usable, local
    "qr": "SELECT NULL, 0, revoked = 0, 1 FROM qr_passes WHERE id = ?",
    "plate": "SELECT plate, 0, active, source = 'local' FROM vehicles"
    " WHERE id = ? AND kind = 'visitor'",
    "face": "SELECT NULL, (SELECT COUNT(*) FROM face_templates t WHERE t.resident_id = r.id),"
    " active, 1 FROM residents r WHERE r.id = ? AND r.kind = 'visitor'",
}


def revoke_loss(
    kind: str, pass_id: int, allowed: Callable[[sqlite3.Connection], bool], cancel_url: str
) -> Confirmation:
    """The confirmation page of a revocation: which pass, and what stops working. Refused
    (as the revocation itself would be) for a pass that is unknown, not this account's,
    already revoked or the district's."""
    conn = get_db().conn
    row = conn.execute(_PASS_FACTS[kind], (pass_id,)).fetchone() if kind in _PASS_FACTS else None
    if row is None or not allowed(conn):
        abort(404, gettext("There is no such pass."))
    plate, templates, usable, local = row
    if not local:
        abort(409, gettext("The district platform manages this pass: change it there."))
    if not usable:
        abort(409, gettext("This pass is already revoked."))
    if kind == "qr":
        losses = [gettext("the visitor's QR code stops opening every gate at once")]
        question = gettext("Revoke QR pass #%(id)s?", id=pass_id)
    elif kind == "plate":
        losses = [gettext("plate %(plate)s no longer opens the barrier", plate=plate)]
        question = gettext("Revoke plate pass #%(id)s (%(plate)s)?", id=pass_id, plate=plate)
    else:
        losses = [
            gettext("the visitor's face no longer opens any gate"),
            gettext("%(n)s face template(s), deleted now", n=templates),
        ]
        question = gettext("Revoke face pass #%(id)s?", id=pass_id)
    return Confirmation(question, losses, gettext("Revoke the pass"), cancel_url)
