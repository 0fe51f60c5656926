"""What the bulk-data pages say about a bad row or a refused file, by stable code, in the
reader's language (the codes come from edge.people and edge.people.addresses)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext

_TEXTS = {
    # rows
    "bad_address": lazy_gettext("building, unit or room is not an address such as 3幢 1单元 402"),
    "unknown_room": lazy_gettext("room %(room)s does not exist: add it on the rooms sheet first"),
    "duplicate_row": lazy_gettext("the same as row %(first)s"),
    "bad_phone": lazy_gettext("the phone number is not an 11-digit mobile number"),
    "unknown_group": lazy_gettext("no such access group: choose one from the list"),
    "formula": lazy_gettext("column %(column)s holds a formula: type the value instead"),
    "cell_too_long": lazy_gettext("column %(column)s is longer than %(n)s characters"),
    "bad_name": lazy_gettext("the name is missing or longer than 60 characters"),
    "bad_plate": lazy_gettext("not a licence plate"),
    "bad_kind": lazy_gettext("the vehicle kind must be one from the list"),
    "bad_date": lazy_gettext(
        "the dates are not YYYY-MM-DD, start after end, or a visitor vehicle has no end"
    ),
    "plate_elsewhere": lazy_gettext("this plate is already enrolled for another room"),
    "unknown_landlord": lazy_gettext("no landlord account of this name"),
    "unknown_resident": lazy_gettext("no resident of this number on this box"),
    "missing_columns": lazy_gettext("the sheet lacks the columns %(columns)s"),
    # whole files
    "empty": lazy_gettext("The file is empty."),
    "too_large": lazy_gettext("The file is too large."),
    "not_xlsx": lazy_gettext("This is not an Excel .xlsx workbook."),
    "not_zip": lazy_gettext("This is not a ZIP file."),
    "no_sheet": lazy_gettext("The workbook has no sheet named %(names)s."),
    "too_many_rows": lazy_gettext("A sheet has more than %(n)s rows."),
    "too_many_files": lazy_gettext("The ZIP holds more than %(n)s files."),
    "unsafe_name": lazy_gettext("The ZIP holds an unsafe file name (%(name)s): refused."),
    "encrypted": lazy_gettext("The ZIP holds an encrypted file (%(name)s)."),
    "zip_bomb": lazy_gettext("The ZIP unpacks to far more than it holds (%(name)s): refused."),
    "bad_member": lazy_gettext("A file in the ZIP cannot be read (%(name)s)."),
    # rooms
    "bad_range": lazy_gettext("%(what)s must be like 1-18 or 1,3,5, within %(low)s-%(high)s."),
    "bad_building": lazy_gettext("The building must be a number such as 3幢."),
    "too_many_rooms": lazy_gettext("At most %(n)s rooms at once."),
    "in_use": lazy_gettext("Still in use by %(uses)s: move or delete them first."),
    "no_room": lazy_gettext("There is no such room."),
    "no_community": lazy_gettext("There is no such community."),
    "community_name": lazy_gettext("A community's name has 1 to 40 characters."),
    "community_taken": lazy_gettext("Another community is already called %(name)s."),
    "group_format": lazy_gettext(
        "The group's code is lower-case letters, digits or _, e.g. cleaners."
    ),
    "group_label": lazy_gettext("The label has 1 to 20 characters, e.g. 保洁."),
}
_WHAT = {
    "units": lazy_gettext("Units"),
    "floors": lazy_gettext("Floors"),
    "rooms": lazy_gettext("Rooms"),
}
_USES = {
    "registrations": lazy_gettext("%(n)s tenant registration(s)"),
    "residents": lazy_gettext("%(n)s resident(s)"),
    "vehicles": lazy_gettext("%(n)s vehicle(s)"),
}


COUNT_LABELS = {
    "rooms_added": lazy_gettext("Rooms to add"),
    "rooms_changed": lazy_gettext("Rooms whose landlord changes"),
    "residents_added": lazy_gettext("Residents to add"),
    "residents_changed": lazy_gettext("Residents that change"),
    "vehicles_added": lazy_gettext("Vehicles to add"),
    "vehicles_changed": lazy_gettext("Vehicles that change"),
    "rooms_unchanged": lazy_gettext("Rooms already there"),
    "residents_unchanged": lazy_gettext("Residents already there"),
    "vehicles_unchanged": lazy_gettext("Vehicles already there"),
}


def problem_text(code: str, params: Mapping[str, object] | None = None) -> str:
    """The reader's sentence for ``code``; the code itself for one not known here."""
    values = dict(params or {})
    if "what" in values:
        values.setdefault("low", "")
        values.setdefault("high", "")
        values["what"] = str(_WHAT.get(str(values["what"]), values["what"]))
    text = _TEXTS.get(code)
    if text is None:
        return code
    try:
        return str(text) % values if values else str(text).replace("%%", "%")
    except (KeyError, TypeError, ValueError):
        return str(text)


def uses_text(uses: Mapping[str, int]) -> str:
    return "; ".join(str(_USES[k]) % {"n": n} for k, n in uses.items() if n and k in _USES)
