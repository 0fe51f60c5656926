"""What the residents pages say: library error codes and done-notices → translated text.

Why a table: edge.people.residents raises errors with a stable ``code`` and an English message for
the CLI; the console shows its own sentence in the page language. Keeping the msgids here
as literals lets the translation test extract them (a computed ``gettext(str(exc))`` would
hide an untranslated message from it).
"""

from __future__ import annotations

import re

from flask_babel import gettext

from edge.faces.liveness.enrolment import photo_look
from edge.people.residents import ResidentError
from edge.web.i18n import N_

ERRORS = {
    "name_length": N_("Enter the name, 1 to 60 characters."),
    "group_format": N_("The access group is lower-case letters, digits or _, e.g. residents."),
    "household_label": N_("The household label has 1 to 40 characters, e.g. 3-1-402."),
    "unknown_group": N_("Choose an access group from the list."),
    "no_room": N_("Choose a room from the list."),
    "no_resident": N_("This resident no longer exists."),
    "consent_missing": N_(
        "Face photos are biometric data: tick the box to confirm the resident agreed."
    ),
    "consent_by_missing": N_("The operator recording the consent is unknown."),
    "no_photos": N_("Choose 1 to 5 photos."),
    "too_many_photos": N_("Choose at most 5 photos at a time."),
    "pin_format": N_("The PIN has 6 to 8 digits."),
    "pin_weak": N_("This PIN is too easy to guess (repeated or consecutive digits)."),
    "photos_refused": N_("Nothing was stored. Replace the photos listed below and send again."),
}

# ?done=<code> after a successful POST (redirect, then GET): a fixed set, never free text.
DONE = {
    "added": N_("Resident added. Enrol face photos or a PIN below."),
    "saved": N_("Changes saved."),
    "unchanged": N_("Nothing to change."),
    "deactivated": N_("Resident deactivated: face and PIN no longer open the gates."),
    "reactivated": N_("Resident active again."),
    "deleted": N_("Resident deleted with their face templates, PIN and passes."),
    "faces": N_("Face photos enrolled and the consent recorded."),
    "faces_deleted": N_("Face templates deleted and the consent withdrawn."),
    "pin_set": N_("PIN set."),
    "pin_cleared": N_("PIN cleared."),
    "plate_added": N_("Plate added to the household."),
    "plate_removed": N_("Plate removed."),
}


def error_text(exc: ResidentError) -> str:
    """The page-language sentence for a library error (its English message if unmapped)."""
    msgid = ERRORS.get(exc.code)
    return gettext(msgid) if msgid else exc.render(gettext)


# ?live=0.91,0.12 after face photos: their liveness scores, two decimals each, nothing else
LIVE_SCORES = re.compile(r"(?:0\.\d\d|1\.00)(?:,(?:0\.\d\d|1\.00)){0,4}")


PHOTO_LOOKS = {
    "live": N_("looks like the person themself"),
    "doubtful": N_("uncertain: look at it again"),
    "recaptured": N_(
        "looks like a photo of a printed photo or of a screen: check it is the person in "
        "front of you"
    ),
}


def done_text(code: str | None, live: str | None = None, threshold: float = 0.5) -> str:
    """The page's "done" sentence; after face photos, what each photo's liveness score says
    (in words, the score in brackets), judged against the door's threshold."""
    msgid = DONE.get(code or "")
    text = gettext(msgid) if msgid else ""
    if code == "faces" and live and LIVE_SCORES.fullmatch(live):
        looks = [
            gettext(
                "photo %(n)s: %(look)s (liveness %(score)s)",
                n=i + 1,
                look=gettext(PHOTO_LOOKS[photo_look(float(score), threshold)]),
                score=score,
            )
            for i, score in enumerate(live.split(","))
        ]
        text += " " + gettext("Liveness check of the photos: %(looks)s.", looks="; ".join(looks))
    return text
