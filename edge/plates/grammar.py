"""Chinese licence-plate grammar (GA 36-2018 and the special plates a gate meets) as pure
functions and one table of plate classes.

Why a grammar at all: the recognisers are OCR models. They happily read "0" as "O" or a
province as a look-alike hanzi. Plates are a tiny regular language, so anything outside it
is either repairable in a way the grammar *forces* (a serial position never holds I or O,
so "O" there can only be "0") or is not a plate.

Forms (P = province, L = letter without I/O, X = letter without I/O or digit, D = digit,
E = new-energy class letter A-H, J, K). The same string is read from a single-row plate
and from a double-row one (top row P L, bottom row the rest).

| class        | form                | plate                                  | e.g.        |
| ------------ | ------------------- | -------------------------------------- | ----------- |
| ordinary     | P L X X X X X       | blue car, yellow truck/bus (1 or 2 rows), black | 皖AG2R28 |
| new_energy   | P L E X D D D D     | green small car                        | 沪AD12345   |
| new_energy   | P L D D D D D E     | yellow-green large vehicle             | 沪A12345D   |
| coach        | P L X X X X 学      | yellow driving-school car              | 粤B1234学   |
| trailer      | P L X X X X 挂      | yellow double-row trailer              | 沪A1234挂   |
| police       | P L X X X X 警      | white, red 警                          | 京A1234警   |
| consulate    | P L X X X X 领      | black                                  | 沪A1234领   |
| hong_kong    | 粤 Z X X X X 港     | black cross-border                     | 粤Z1234港   |
| macau        | 粤 Z X X X X 澳     | black cross-border                     | 粤Z1234澳   |
| embassy      | 使 D D D D D D      | black                                  | 使014578    |
| emergency    | P L D D D D 应 急   | white, red 应急 (fire and rescue)      | 京X1234应急 |
| military     | L L D D D D D       | white, red prefix (PLA)                | VA12345     |
| military     | W J P D D D D X     | white (armed police)                   | WJ京1234X   |

Military-style plates are class "other": read and recorded, never a reason to open, and
never accepted as a registered plate (`normalise_plate` refuses them).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from edge.errors import Phrase, UserError

__all__ = [
    "BOTTOM_ROWS",
    "CLASSES",
    "DIGITS",
    "LETTERS",
    "NEV_LETTERS",
    "PROVINCES",
    "SERIAL",
    "SUFFIXES",
    "TEMPLATES",
    "TOP_ROW",
    "PlateClass",
    "PlateFormatError",
    "Template",
    "classify",
    "is_valid_plate",
    "normalise_plate",
    "repair_ocr",
    "template_of",
]

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A-Z without I and O
DIGITS = "0123456789"
SERIAL = LETTERS + DIGITS
NEV_LETTERS = "ABCDEFGHJK"
SUFFIXES = "学挂警港澳领"  # the one-character class suffixes after four serial characters


@dataclass(frozen=True)
class PlateClass:
    """What a plate's form says about the vehicle, and how sure a read must be to act on.

    `colours`: the background colours this class is issued in; a read whose measured colour
    is known and not among them is a misread (a blue plate read with a 学 suffix, a green
    8-character plate read as 7 characters). `suffix_floor`: the confidence a class's last,
    class-naming character needs, when that differs from the reader's floor (the red 警 on
    white plates is read with less certainty than black serials, and is corroborated by the
    colour and the second reader instead). `auto_open`: False for plates that are recorded
    and shown to the guard but are never, by themselves, a reason to open.
    """

    code: str
    colours: frozenset[str]
    auto_open: bool = True
    suffix_floor: float | None = None
    category: str = "civil"  # "civil" or "other"


_ANY_CIVIL = frozenset({"blue", "yellow", "black", "white"})
CLASSES: dict[str, PlateClass] = {
    c.code: c
    for c in (
        PlateClass("ordinary", _ANY_CIVIL),
        PlateClass("new_energy", frozenset({"green", "yellow"})),  # yellow-green large
        PlateClass("coach", frozenset({"yellow"})),
        PlateClass("trailer", frozenset({"yellow"}), suffix_floor=0.5),
        PlateClass("police", frozenset({"white"}), suffix_floor=0.5),
        PlateClass("consulate", frozenset({"black"})),
        PlateClass("hong_kong", frozenset({"black"})),
        PlateClass("macau", frozenset({"black"})),
        PlateClass("embassy", frozenset({"black"})),
        PlateClass("emergency", frozenset({"white"}), suffix_floor=0.5),
        PlateClass("military", frozenset({"white"}), auto_open=False, category="other"),
    )
}
_SUFFIX_CLASS = {"学": "coach", "挂": "trailer", "警": "police", "领": "consulate",
                 "港": "hong_kong", "澳": "macau"}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """One plate form as a sequence of allowed-character sets, one per position.

    `province_at`: positions holding a province or 使 (the characters the recognisers
    confuse most, so always corroborated). The recognisers decode against exactly these
    templates, so grammar and decoder cannot drift apart.
    """

    name: str
    positions: tuple[str, ...]
    province_at: tuple[int, ...] = (0,)

    def matches(self, text: str) -> bool:
        return len(text) == len(self.positions) and all(
            c in allowed for c, allowed in zip(text, self.positions, strict=True)
        )


TEMPLATES: tuple[Template, ...] = (
    Template("ordinary", (PROVINCES, LETTERS, *[SERIAL] * 5)),
    Template("suffixed", (PROVINCES, LETTERS, *[SERIAL] * 4, "学挂警领")),
    Template("cross_border", ("粤", "Z", *[SERIAL] * 4, "港澳")),
    Template("nev_small", (PROVINCES, LETTERS, NEV_LETTERS, SERIAL, *[DIGITS] * 4)),
    Template("nev_large", (PROVINCES, LETTERS, *[DIGITS] * 5, NEV_LETTERS)),
    Template("embassy", ("使", *[DIGITS] * 6)),
    Template("emergency", (PROVINCES, LETTERS, *[DIGITS] * 4, "应", "急")),
    Template("military", (LETTERS, LETTERS, *[DIGITS] * 5), province_at=()),
    Template("armed_police", ("W", "J", PROVINCES, *[DIGITS] * 4, SERIAL), province_at=(2,)),
)
#: The two rows of a double-row plate, read one at a time and joined top + bottom into
#: the "ordinary" or "suffixed" (挂 trailer) form.
TOP_ROW = Template("top_row", (PROVINCES, LETTERS))
BOTTOM_ROWS: tuple[Template, ...] = (
    Template("bottom_row", (SERIAL,) * 5, province_at=()),
    Template("bottom_row_trailer", (*[SERIAL] * 4, "挂"), province_at=()),
)

_TEMPLATE_CLASS = {"nev_small": "new_energy", "nev_large": "new_energy", "embassy": "embassy",
                   "emergency": "emergency", "military": "military",
                   "armed_police": "military"}  # fmt: skip

_SEPARATORS = re.compile(r"[\s·•・.\-_—–]+")
_LOOKALIKE_DIGIT = {"O": "0", "I": "1"}  # only where a letter can never stand


class PlateFormatError(UserError):
    """A plate string someone typed is not a plate; ``why`` (a msgid, with its parameters)
    says what is wrong, and both read in the reader's language (``render``)."""

    code = "plate_format"

    def __init__(self, text: object, why: str = "", **why_params: object) -> None:
        shown = repr(text) if not isinstance(text, str) else f"“{text[:40]}”"
        if why:
            super().__init__(
                "not a valid plate: %(plate)s (%(why)s)",
                {"plate": shown, "why": Phrase(why, **why_params)},
            )
        else:
            super().__init__("not a valid plate: %(plate)s", {"plate": shown})
        self.text = text


def _clean(text: str) -> str:
    """Full-width to half-width (NFKC), drop separators, uppercase."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def template_of(text: str) -> Template | None:
    """The template `text` matches (the first, when several do), or None."""
    if not isinstance(text, str):
        return None
    return next((t for t in TEMPLATES if t.matches(text)), None)


def classify(text: str) -> PlateClass | None:
    """The class of a plate in normal form, or None when `text` is not a plate."""
    template = template_of(text)
    if template is None:
        return None
    code = _TEMPLATE_CLASS.get(template.name)
    if code is None:
        code = _SUFFIX_CLASS.get(text[-1], "ordinary")
    return CLASSES[code]


def is_valid_plate(text: str) -> bool:
    """True if `text` is exactly one plate of any class in normal form (no spaces, upper)."""
    return template_of(text) is not None


def normalise_plate(text: str) -> str:
    """Admin input -> normal form: "皖 a·g2r28" -> "皖AG2R28"; else PlateFormatError.

    No look-alike repair here: a person typing "O" in a serial position made a mistake
    they should see, not one we silently turn into "0". Military-style plates are refused:
    they never open a gate, so registering one would only mislead.
    """
    if not isinstance(text, str):
        raise PlateFormatError(text, "not text")
    plate = _clean(text)
    kind = classify(plate)
    if kind is not None and kind.category == "other":
        raise PlateFormatError(text, "military plates are recorded, not registered")
    if kind is not None:
        return plate
    if plate and plate[0] not in PROVINCES + "使":
        raise PlateFormatError(text, "must start with a province abbreviation, e.g. 京 粤 皖")
    if len(plate) not in (7, 8):
        raise PlateFormatError(text, "must have 7 or 8 characters, got %(n)s", n=len(plate))
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
