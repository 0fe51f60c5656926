"""Reading the visitor-pass and watchlist forms: site-local times, uses, host, messages.

Why here and not in edge.people.visitors: the library takes values (aware datetimes, ints) and
raises errors with a stable ``code``; turning what a browser sent (``datetime-local`` text
in the site's zone, a number typed on a tablet) into those values, and the codes back into
a sentence in the page language, is the console's job. The msgids are literals in one
table so the translation test sees every one of them.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import qrcode
from flask_babel import gettext
from qrcode.constants import ERROR_CORRECT_M

from edge.errors import UserError
from edge.vocabulary import read_local_time
from edge.web.i18n import N_

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")
_MAX_ID = 2**31 - 1

# PassTermsError.code -> (form field, msgid)
TERMS_ERRORS = {
    "naive_time": ("valid_from", N_("Give the start as a date and time.")),
    "start_in_past": ("valid_from", N_("The pass cannot start in the past.")),
    "start_too_far": ("valid_from", N_("The pass must start within the next 30 days.")),
    "end_before_start": ("valid_to", N_("The end of the pass must be after its start.")),
    "too_long": ("valid_to", N_("A visitor pass lasts at most 30 days.")),
    "uses_out_of_range": ("uses", N_("Uses must be a whole number from 1 to 100.")),
    "note_too_long": ("note", N_("The note has at most 40 characters.")),
    "note_has_number": ("note", N_("No phone or ID numbers in the note.")),
    "note_bad_chars": ("note", N_("Use only ordinary text in the note.")),
    "no_host": ("household", N_("Name the host household, or the host resident's number.")),
    "no_household": ("household", N_("There is no household with this label.")),
    "no_host_resident": ("host_resident", N_("There is no active resident with this number.")),
    "host_without_household": (
        "host_resident",
        N_("This resident has no household: give the household instead."),
    ),
    "host_not_in_household": (
        "host_resident",
        N_("This resident does not live in that household."),
    ),
    "plate_has_pass": ("plate", N_("This plate already has a visitor pass for this time.")),
    "no_consent": ("consent", N_("Face photos are biometric data: tick the visitor's consent.")),
}

FIELD_ERRORS = {
    "time_format": N_("Give a date and time, e.g. 2025-06-01 14:30."),
    "end_missing": N_("Give the end of the pass."),
    "uses_format": N_("Uses must be a whole number from 1 to 100."),
    "resident_format": N_("A resident number has digits only."),
    "photos_missing": N_("Choose a photo of the visitor's face."),
    "photos_too_many": N_("Choose at most %(n)s photos."),
    "photos_refused": N_("No pass was issued. Replace the photos listed below and send again."),
}


class FormError(UserError):
    """One field's problem, already in the page language."""

    code = "form"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def field_error(field: str, code: str, **values: object) -> FormError:
    return FormError(field, gettext(FIELD_ERRORS[code], **values))


def terms_error(code: str, fallback: str) -> FormError:
    """A library PassTermsError as a form error (its English message if the code is new)."""
    field, msgid = TERMS_ERRORS.get(code, ("", ""))
    return FormError(field or "form", gettext(msgid) if msgid else fallback)


def parse_local_time(
    text: str, zone: ZoneInfo, field: str, end_of_day: bool = False
) -> datetime | None:
    """``2025-06-01T14:30`` as typed in the site's zone → an aware datetime; '' → None. A
    date alone is the start of that day, or with ``end_of_day`` (an end) its last second."""
    text = (text or "").strip()
    if not text:
        return None
    if not _LOCAL.match(text):
        raise field_error(field, "time_format")
    try:
        return read_local_time(text, zone, end_of_day)
    except ValueError:
        raise field_error(field, "time_format") from None


def local_input(moment: datetime, zone: ZoneInfo) -> str:
    """An aware datetime as a ``datetime-local`` value in the site's zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def parse_uses(text: str) -> int:
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 3 or not 1 <= int(text) <= 100:
        raise field_error("uses", "uses_format")
    return int(text)


def parse_resident_number(text: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > _MAX_ID:
        raise field_error("host_resident", "resident_format")
    return int(text)


def photo_label(filename: str | None, index: int) -> str:
    """The name to list a refused photo under: the file's own name, or its place."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:60]
    return name or gettext("Photo %(n)s", n=index + 1)


def qr_data_uri(token: str) -> str:
    """The pass's QR code as a PNG ``data:`` URI (the CSP allows images from data:), so the
    page can show it and offer it for download without the token ever reaching a URL."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(token)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
