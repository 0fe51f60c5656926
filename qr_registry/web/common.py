"""Small helpers the registry blueprints share: the vault, and translated field errors."""

from __future__ import annotations

from flask_babel import gettext

from edge.pii import PiiVault
from edge.web.app import state
from qr_registry.documents import DOC_LABELS, FieldError
from qr_registry.form import CO_RELATIONS, RELATIONS


def vault() -> PiiVault:
    return state().vault


def translate(error: FieldError) -> str:
    text = gettext(error.message)
    return text % error.params if error.params else text


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    result: dict[str, str] = {}
    for error in errors:
        result.setdefault(error.field, translate(error))
    return result


def labels() -> dict[str, dict[str, str]]:
    """Option labels for templates (translated at render time)."""
    return {
        "doc": {str(k): gettext(v) for k, v in DOC_LABELS.items()},
        "relation": {k: gettext(v) for k, v in RELATIONS.items()},
        "co_relation": {k: gettext(v) for k, v in CO_RELATIONS.items()},
        "status": {
            "pending": gettext("Waiting for the landlord"),
            "confirmed": gettext("Confirmed"),
            "rejected": gettext("Rejected"),
            "moved_out": gettext("Moved out"),
        },
        "sex": {"M": gettext("Male"), "F": gettext("Female")},
    }
