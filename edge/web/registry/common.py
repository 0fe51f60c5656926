"""Small helpers the registry blueprints share: the vault, translated field errors, labels,
and each role's view of a registration (qr_registry.masking decides the fields)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request
from flask_babel import get_locale, gettext

from edge.pii import PiiVault
from edge.web.context import now, state
from qr_registry import nationality
from qr_registry.documents import DOC_LABELS, FieldError
from qr_registry.form import CO_RELATIONS, RELATIONS
from qr_registry.masking import present


def vault() -> PiiVault:
    return state().vault


def today() -> date:
    return now().astimezone(state().config.site.zone).date()


def client_address() -> str:
    return request.remote_addr or "unknown"


def translate(error: FieldError) -> str:
    text = gettext(error.message)
    return text % error.params if error.params else text


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    result: dict[str, str] = {}
    for error in errors:
        result.setdefault(error.field, translate(error))
    return result


def country_name(code: str) -> str:
    found = nationality.by_alpha3(code) if code else None
    if found is None:
        return code
    return found.name_zh if str(get_locale()) == "zh" else found.name_en


def country_options() -> list[str]:
    """The nationality list as the form's datalist shows it, in the reader's language."""
    lang = "zh" if str(get_locale()) == "zh" else "en"
    return [c.label(lang) for c in nationality.countries()]


def labels(viewer: str) -> dict[str, Any]:
    """Option labels for templates (translated at render time), worded for ``viewer`` (a
    role): the landlord reads about themself in the second person ("waiting for your
    confirmation", "your relative"), everyone else reads "the landlord"."""
    landlord = viewer == "landlord"
    relations = {k: gettext(v) for k, v in RELATIONS.items()}
    if landlord:
        relations["relative"] = gettext("Your relative")
    return {
        "doc": {str(k): gettext(v) for k, v in DOC_LABELS.items()},
        "relation": relations,
        "relation_heading": gettext("Relation to you, the landlord")
        if landlord
        else gettext("Relation to the landlord"),
        "co_relation": {k: gettext(v) for k, v in CO_RELATIONS.items()},
        "status": {
            "pending": gettext("Waiting for your confirmation")
            if landlord
            else gettext("Waiting for the landlord"),
            "confirmed": gettext("Confirmed"),
            "rejected": gettext("Rejected"),
            "moved_out": gettext("Moved out"),
        },
        "sex": {"M": gettext("Male"), "F": gettext("Female")},
        "consent": {
            "awaiting": gettext("Waiting for their consent"),
            "self": gettext("Consented themselves"),
            "in_person": gettext("Consented in person (recorded by you)")
            if landlord
            else gettext("Consented in person (recorded by the landlord)"),
            "guardian": gettext("A guardian consented"),
        },
        "request": {"move_out": gettext("Moving out"), "extend": gettext("Staying longer")},
        "country": country_name,
    }


def view(item: dict[str, Any], role: str) -> dict[str, Any]:
    """What ``role`` may see of a decorated registration (with its co-residents and open
    requests when ``item`` came from registrations.get)."""
    shown = present(item, item["person"], item["doc_mask"], role, today())
    for key in ("co_residents", "extensions", "requests", "duplicate_of"):
        if key in item:
            shown[key] = item[key]
    if role == "tenant":
        shown["co_residents"] = [
            {**c, "name": c["name"][:1] + "*" * max(len(c["name"]) - 1, 1)}
            for c in item.get("co_residents", [])
        ]
    elif role == "grid":
        shown["co_residents"] = [
            {k: v for k, v in c.items() if k != "birth_year"} for c in item.get("co_residents", [])
        ]
    return shown


def export_row(item: dict[str, Any], lab: dict[str, Any]) -> dict[str, Any]:
    """A viewed row with its codes in words, for a spreadsheet."""
    row = dict(item)
    row["status"] = lab["status"].get(item.get("status"), item.get("status"))
    row["doc_type"] = lab["doc"].get(item.get("doc_type"), item.get("doc_type"))
    row["sex"] = lab["sex"].get(item.get("sex"), item.get("sex")) if "sex" in item else None
    row["relation"] = lab["relation"].get(item.get("relation")) if "relation" in item else None
    if "nationality" in item:
        row["nationality"] = country_name(item["nationality"])
    row["overdue"] = gettext("overdue") if item.get("overdue") else ""
    return row
