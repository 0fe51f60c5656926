"""Free text and digits from the public form, made safe before anything validates them.

Why each rule:
- NFKC first: full-width ``１２３``, Arabic-Indic ``١٢٣`` and other compatibility forms fold
  to what a person means (NFKC folds full-width digits; Arabic-Indic and other decimal
  digits are mapped by :func:`ascii_digits`), so one card cannot be registered three times
  under three spellings and an exact search finds it whatever was typed.
- After folding, a document pattern accepts ASCII only: ``str.isdigit`` and ``\\d`` accept
  ``²`` and ``٣`` (a number that passes the pattern but breaks ``int()`` later or hashes
  differently); the patterns here are ``[0-9]`` and ``[A-Z]``.
- Unicode format characters (category Cf: bidi overrides such as U+202E, zero-width
  joiners, soft hyphens) are refused in free text: they reorder what a landlord or officer
  reads (``工程师‮moc.live``) and hide differences between two equal-looking strings.
- More than two combining marks on one character ("zalgo") is refused: no script people
  write their names or jobs in needs more, and a stack of marks draws over neighbouring
  lines of a table.
"""

from __future__ import annotations

import re
import unicodedata

MAX_COMBINING = 2
# Control characters other than the whitespace that _text collapses, and characters that
# would be markup or template syntax in a page or a spreadsheet.
_FORBIDDEN = re.compile(r"[<>{}\\\ufffd]")


def fold(value: str) -> str:
    """NFKC, then every decimal digit of any script as its ASCII digit."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and unicodedata.decimal(c, None) is not None
        else c
        for c in text
    )  # fmt: skip


def ascii_digits(value: str) -> str:
    """``fold`` and strip spaces: the canonical spelling of a number typed on any keyboard."""
    return re.sub(r"\s+", "", fold(value))


def is_ascii_digits(value: str) -> bool:
    """True only for a non-empty run of ``0-9`` (``'²'.isdigit()`` is True; this is not)."""
    return bool(value) and value.isascii() and value.isdigit()


def problem(value: str) -> str | None:
    """Why ``value`` is not ordinary text (a gettext msgid), or None when it is."""
    if _FORBIDDEN.search(value):
        return "Please use only ordinary text (no < > { } or control characters)"
    run = 0
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc":
            return "Please use only ordinary text (no < > { } or control characters)"
        if category == "Cf":
            return "Invisible formatting characters are not allowed"
        if category in ("Mn", "Me"):
            run += 1
            if run > MAX_COMBINING:
                return "Too many accent marks on one character"
        else:
            run = 0
    return None


def clean(value: str) -> str:
    """NFKC-folded, trimmed, inner whitespace collapsed (no validation: see ``problem``)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", value)).strip()
