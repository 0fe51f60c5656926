"""What the bulk-data pages and ``menwei data`` say about a bad row or a refused file, by
stable code, in the reader's language (the codes come from edge.people and
edge.people.addresses). Msgids here; ``translate`` is flask-babel's gettext on a page and
``edge.vocabulary.translator`` on the command line."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext

from edge.web.i18n import N_

Translate = Callable[[str], str]

_TEXTS = {
    # rows
    "bad_address": N_("building, unit or room is not an address such as 3幢 1单元 402"),
    "unknown_room": N_("room %(room)s does not exist: add it on the rooms sheet first"),
    "duplicate_row": N_("the same as row %(first)s"),
    "bad_phone": N_("the phone number is not an 11-digit mobile number"),
    "unknown_group": N_("no such access group: choose one from the list"),
    "formula": N_("column %(column)s holds a formula: type the value instead"),
    "cell_too_long": N_("column %(column)s is longer than %(n)s characters"),
    "bad_name": N_("the name is missing or longer than 60 characters"),
    "bad_plate": N_("not a licence plate"),
    "bad_kind": N_("the vehicle kind must be one from the list"),
    "bad_date": N_(
        "the dates are not YYYY-MM-DD, start after end, or a visitor vehicle has no end"
    ),
    "plate_elsewhere": N_("this plate is already enrolled for another room"),
    "unknown_landlord": N_("no landlord account of this name"),
    "unknown_resident": N_("no resident of this number on this box"),
    "missing_columns": N_("the sheet lacks the columns %(columns)s"),
    # whole files
    "empty": N_("The file is empty."),
    "too_large": N_("The file is too large."),
    "not_xlsx": N_("This is not an Excel .xlsx workbook."),
    "not_zip": N_("This is not a ZIP file."),
    "no_sheet": N_("The workbook has no sheet named %(names)s."),
    "too_many_rows": N_("A sheet has more than %(n)s rows."),
    "too_many_files": N_("The ZIP holds more than %(n)s files."),
    "unsafe_name": N_("The ZIP holds an unsafe file name (%(name)s): refused."),
    "encrypted": N_("The ZIP holds an encrypted file (%(name)s)."),
    "zip_bomb": N_("The ZIP unpacks to far more than it holds (%(name)s): refused."),
    "bad_member": N_("A file in the ZIP cannot be read (%(name)s)."),
    # rooms
    "bad_range": N_("%(what)s must be like 1-18 or 1,3,5, within %(low)s-%(high)s."),
    "bad_building": N_("The building must be a number such as 3幢."),
    "too_many_rooms": N_("At most %(n)s rooms at once."),
    "in_use": N_("Still in use by %(uses)s: move or delete them first."),
    "no_room": N_("There is no such room."),
    "no_community": N_("There is no such community."),
    "community_name": N_("A community's name has 1 to 40 characters."),
    "community_taken": N_("Another community is already called %(name)s."),
    "group_format": N_("The group's code is lower-case letters, digits or _, e.g. cleaners."),
    "group_label": N_("The label has 1 to 20 characters, e.g. 保洁."),
}
_WHAT = {
    "units": N_("Units"),
    "floors": N_("Floors"),
    "rooms": N_("Rooms"),
}
_USES = {
    "registrations": N_("%(n)s tenant registration(s)"),
    "residents": N_("%(n)s resident(s)"),
    "vehicles": N_("%(n)s vehicle(s)"),
}


COUNT_LABELS = {
    "rooms_added": N_("Rooms to add"),
    "rooms_changed": N_("Rooms whose landlord changes"),
    "residents_added": N_("Residents to add"),
    "residents_changed": N_("Residents that change"),
    "vehicles_added": N_("Vehicles to add"),
    "vehicles_changed": N_("Vehicles that change"),
    "rooms_unchanged": N_("Rooms already there"),
    "residents_unchanged": N_("Residents already there"),
    "vehicles_unchanged": N_("Vehicles already there"),
}


def problem_text(
    code: str, params: Mapping[str, object] | None = None, translate: Translate = gettext
) -> str:
    """The reader's sentence for ``code``; the code itself for one not known here."""
    values = dict(params or {})
    if "what" in values:
        values.setdefault("low", "")
        values.setdefault("high", "")
        what = _WHAT.get(str(values["what"]))
        values["what"] = translate(what) if what else values["what"]
    msgid = _TEXTS.get(code)
    if msgid is None:
        return code
    text = translate(msgid)
    try:
        return text % values if values else text.replace("%%", "%")
    except (KeyError, TypeError, ValueError):
        return text


def uses_text(uses: Mapping[str, int], translate: Translate = gettext) -> str:
    return "; ".join(translate(_USES[k]) % {"n": n} for k, n in uses.items() if n and k in _USES)


def count_label(key: str, translate: Translate = gettext) -> str:
    """The label of one of an import plan's counts; the key itself for one not known here."""
    msgid = COUNT_LABELS.get(key)
    return translate(msgid) if msgid else key
