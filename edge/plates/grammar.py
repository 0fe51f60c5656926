"""Chinese licence-plate grammar (GA 36-2018, civilian plates) as pure functions.

Why a grammar at all: the recogniser is a general Chinese OCR model. It happily reads
"0" as "O" or a province as a look-alike hanzi. Plates are a tiny regular language, so
anything outside it is either repairable in a way the grammar *forces* (a serial position
never holds I or O, so "O" there can only be "0") or is not a plate.

Forms accepted (P = province abbreviation, L = letter without I/O, X = letter without
I/O or digit, D = digit, E = new-energy class letter A-H, J, K):

- ordinary (blue/yellow/black/white): P L X X X X X       e.g. 皖AG2R28
- with suffix (yellow 学/挂, white 警, black 港/澳/领): P L X X X X S   e.g. 粤B1234学
- new-energy small car (green):       P L E X D D D D     e.g. 沪AD12345
- new-energy large vehicle:           P L D D D D D E     e.g. 沪A12345D

Military, embassy (使 first) and double-row layouts are out of scope.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "DIGITS",
    "LETTERS",
    "NEV_LETTERS",
    "PROVINCES",
    "SERIAL",
    "SUFFIXES",
    "TEMPLATES",
    "PlateFormatError",
    "is_valid_plate",
    "normalise_plate",
    "repair_ocr",
]

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A-Z without I and O
DIGITS = "0123456789"
SERIAL = LETTERS + DIGITS
NEV_LETTERS = "ABCDEFGHJK"
SUFFIXES = "学挂警港澳领"

#: Every plate form as a sequence of allowed-character sets, one per position (ordinary
#: and suffix plates share one: their positions are independent). The recogniser decodes
#: against exactly these, so grammar and decoder cannot drift apart.
TEMPLATES: tuple[tuple[str, ...], ...] = (
    (PROVINCES, LETTERS, SERIAL, SERIAL, SERIAL, SERIAL, SERIAL + SUFFIXES),
    (PROVINCES, LETTERS, NEV_LETTERS, SERIAL, DIGITS, DIGITS, DIGITS, DIGITS),
    (PROVINCES, LETTERS, DIGITS, DIGITS, DIGITS, DIGITS, DIGITS, NEV_LETTERS),
)

_P, _L, _X, _D, _E = (f"[{s}]" for s in (PROVINCES, LETTERS, SERIAL, DIGITS, NEV_LETTERS))
_PLATE_RE = re.compile(
    rf"{_P}{_L}(?:{_X}{{5}}|{_X}{{4}}[{SUFFIXES}]|{_E}{_X}{_D}{{4}}|{_D}{{5}}{_E})"
)
_SEPARATORS = re.compile(r"[\s·•・.\-_—–]+")
_LOOKALIKE_DIGIT = {"O": "0", "I": "1"}  # only where a letter can never stand


class PlateFormatError(ValueError):
    """A plate string someone typed is not a plate; the message is bilingual for the UI."""

    def __init__(self, text: object, why: str = "") -> None:
        shown = repr(text) if not isinstance(text, str) else f"“{text[:40]}”"
        detail = f" ({why})" if why else ""
        super().__init__(f"车牌格式不正确 / not a valid plate: {shown}{detail}")
        self.text = text


def _clean(text: str) -> str:
    """Full-width to half-width (NFKC), drop separators, uppercase."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def is_valid_plate(text: str) -> bool:
    """True if `text` is exactly one plate in normal form (no spaces, uppercase)."""
    return isinstance(text, str) and _PLATE_RE.fullmatch(text) is not None


def normalise_plate(text: str) -> str:
    """Admin input -> normal form: "皖 a·g2r28" -> "皖AG2R28"; else PlateFormatError.

    No look-alike repair here: a person typing "O" in a serial position made a mistake
    they should see, not one we silently turn into "0".
    """
    if not isinstance(text, str):
        raise PlateFormatError(text, "not text")
    plate = _clean(text)
    if is_valid_plate(plate):
        return plate
    if plate and plate[0] not in PROVINCES:
        raise PlateFormatError(text, "must start with a province abbreviation, e.g. 京 粤 皖")
    if len(plate) not in (7, 8):
        raise PlateFormatError(text, f"must have 7 or 8 characters, got {len(plate)}")
    if any(c in "IO" for c in plate[1:]):
        raise PlateFormatError(text, "plates never contain the letters I or O")
    raise PlateFormatError(text)


def repair_ocr(raw: str) -> str | None:
    """OCR output -> plate, or None when it cannot be one.

    Repairs only what the grammar forces: separators and case, then O->0 and I->1 in the
    serial positions (3rd character on), where those letters never occur. Nothing else
    is guessed: a wrong province or an extra character returns None.
    """
    if not isinstance(raw, str):
        return None
    text = _clean(raw)
    if len(text) not in (7, 8):
        return None
    text = text[:2] + "".join(_LOOKALIKE_DIGIT.get(c, c) for c in text[2:])
    return text if is_valid_plate(text) else None
