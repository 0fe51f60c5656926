"""Reading a pass request from the POST in flight: form fields, window and uses, note.

Shared by the guards' pass pages (``console_passes``) and the residents' own
(``console_my_passes``), so a pass means the same whoever issues it: the same fields, the
same checks and the same messages. Every field's problem is collected, not just the
first, so a form comes back with all of them marked.
"""

from __future__ import annotations

from typing import Any

from flask import request

from edge.visitors import PassTermsError, check_note, check_terms
from edge.web.app import now, state
from edge.web.console.pass_forms import (
    FormError,
    field_error,
    parse_local_time,
    parse_uses,
    terms_error,
)

FIELDS = ("household", "host_resident", "valid_from", "valid_to", "uses", "note", "plate")


class Refused(Exception):
    """Form errors found inside the transaction: roll it back, show the form again."""


def read_form() -> dict[str, str]:
    return {key: (request.form.get(key) or "")[:200] for key in FIELDS}


def read_terms(form: dict[str, str], errors: dict[str, str]) -> Any:
    """Window and uses from the form (times typed in the site's zone), or None."""
    zone = state().config.site.zone
    start = end = uses = None
    for field in ("valid_from", "valid_to"):
        try:
            moment = parse_local_time(form[field], zone, field)
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
        error = terms_error(exc.code, str(exc))
        errors[error.field] = error.message
        return None
    return terms if uses is not None else None


def read_note(form: dict[str, str], errors: dict[str, str]) -> str:
    try:
        return check_note(form["note"])
    except PassTermsError as exc:
        error = terms_error(exc.code, str(exc))
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
