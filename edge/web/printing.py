"""Sticker sheets and PNGs for every role that prints them (admin, police, landlord): the
rooms that can be printed, and one error page for whatever keeps a sticker from being made.

Why one handler for ``StickerError`` in the app and not a ``try`` in each route: the admin
route turned it into an English 500 and the others let it escape; registered once, a
missing CJK font or a room without a QR code reads the same clear zh page on all of them,
and a route added later gets it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import render_template
from flask_babel import gettext

from edge.web.i18n import N_
from qr_registry.rooms import Room
from qr_registry.stickers import StickerError, font_problem

PROBLEMS = {  # StickerError.code: (HTTP status, page title, what the reader can do)
    "font_missing": (
        503,
        N_("Stickers cannot be printed"),
        N_(
            "This box lacks the Chinese font stickers are printed with. Ask the installer to"
            " add it (sudo apt install fonts-wqy-microhei), then try again."
        ),
    ),
    "no_token": (
        409,
        N_("No QR code yet"),
        N_("Room %(room)s has no QR code yet: the administrator issues them."),
    ),
    "no_rooms": (
        409,
        N_("No QR code yet"),
        N_("No room here has a QR code yet: the administrator issues them."),
    ),
    "layout": (
        400,
        N_("The request could not be handled"),
        N_("Choose a sticker size from the list."),
    ),
}


def printable(rooms: Sequence[Room]) -> list[Room]:
    """The rooms with a current QR code (a room made by bulk import or the address model
    has none until the administrator prints it); StickerError ``no_rooms`` when none is."""
    kept = [room for room in rooms if room.token]
    if not kept:
        raise StickerError("no rooms to print", code="no_rooms")
    return kept


def sticker_problem(exc: StickerError):
    """The app's handler for StickerError: the reason in the reader's language."""
    status, title, message = PROBLEMS.get(
        exc.code, (500, N_("Something went wrong"), N_("Stickers could not be made."))
    )
    text = gettext(message, **exc.params) if "%(" in message else gettext(message)
    return render_template("error.html", code=status, title=gettext(title), message=text), status


def font_cell() -> tuple[str, str]:
    """The health page's sticker-font cell: (text, level)."""
    if font_problem() is None:
        return gettext("installed"), "ok"
    return gettext(PROBLEMS["font_missing"][2]), "warn"
