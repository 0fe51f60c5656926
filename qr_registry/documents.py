"""Identity documents a tenant may register with, and their validation.

Why our own GB 11643 code instead of python-stdnum: stdnum checks the region against the
mainland list only, so it rejects Hong Kong/Macau/Taiwan residence permits (810000,
820000, 830000) and the 2023 foreigner permanent-residence card (a leading 9), all of which
carry the same MOD 11-2 check digit and are lawful documents for renting a room.

Every number is folded first (NFKC, digits of any script as ASCII: qr_registry.text) and
then matched against ASCII-only patterns, so ``９２…`` and ``٩٢…`` are the same card as
``92…`` — one registration, one search hash — and ``'²'.isdigit()`` never lets a character
through that ``int()`` would choke on.

Everything here is pure: values in, a normalised value or a :class:`FieldError` out.
Messages are English msgids; the web layer translates them (zh-CN by default).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from edge.errors import UserError
from qr_registry.text import ascii_digits, fold, is_ascii_digits, problem


class FieldError(UserError):
    """A user-correctable problem with one form field; ``message`` is a gettext msgid."""

    code = "field"

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__(message, params)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.render()}"


class DocType(StrEnum):
    RESIDENT_ID = "resident_id"  # 居民身份证
    HMT_PERMIT = "hmt_permit"  # 港澳台居民居住证
    FOREIGNER_PR = "foreigner_pr"  # 外国人永久居留身份证
    PASSPORT = "passport"  # 护照


# Documents of Chinese citizens: the only ones that ask for 民族 (ethnicity).
CHINESE_DOCS = frozenset({DocType.RESIDENT_ID, DocType.HMT_PERMIT})
# Documents whose holder states a nationality (a passport may also be Chinese).
NATIONALITY_DOCS = frozenset({DocType.PASSPORT, DocType.FOREIGNER_PR})

DOC_LABELS: dict[DocType, str] = {
    DocType.RESIDENT_ID: "Resident ID card",
    DocType.HMT_PERMIT: "HK/Macau/Taiwan residence permit",
    DocType.FOREIGNER_PR: "Foreigner permanent-residence card",
    DocType.PASSPORT: "Passport",
}

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 that issue resident ID cards (71 Taiwan is not issued).
MAINLAND_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65}
)
HMT_REGIONS = {"810000": "Hong Kong", "820000": "Macau", "830000": "Taiwan"}
EARLIEST_BIRTH = date(1900, 1, 1)


def check_char(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character for 17 digits."""
    if len(first17) != 17 or not is_ascii_digits(first17):
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class DocFacts:
    """What a valid document number tells us (None when the document does not encode it)."""

    number: str
    birth_date: date | None = None
    sex: str | None = None  # "M" / "F"
    nationality_code: str | None = None  # foreigner cards: alpha-3 (old) or numeric (2023)


def _birth_and_sex(number: str, field: str, today: date) -> tuple[date, str]:
    digits = number[6:14]
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise FieldError(field, "The birth date inside the number is not a real date") from None
    if not EARLIEST_BIRTH <= born <= today:
        raise FieldError(field, "The birth date inside the number is out of range")
    sex = "M" if int(number[16]) % 2 else "F"
    return born, sex


def _eighteen(raw: str, field: str) -> str:
    number = ascii_digits(raw).upper()
    if len(number) != 18:
        raise FieldError(field, "The number must have 18 characters")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise FieldError(field, "Only digits, with X allowed as the last character")
    if check_char(number[:17]) != number[17]:
        raise FieldError(field, "The check digit is wrong; please check the number")
    return number


def validate_document(doc_type: str, raw: str, today: date, field: str = "doc_number") -> DocFacts:
    """Normalise and validate ``raw`` as a ``doc_type`` number, or raise FieldError."""
    try:
        kind = DocType(doc_type)
    except ValueError:
        raise FieldError("doc_type", "Choose a document type") from None
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, "Enter the document number")
    if len(raw) > 40:
        raise FieldError(field, "The document number is too long")
    if problem(raw):
        raise FieldError(field, "The document number may contain only letters and digits")
    if kind is DocType.PASSPORT:
        number = re.sub(r"[\s-]", "", fold(raw)).upper()
        if not re.fullmatch(r"[A-Z0-9]{5,20}", number):
            raise FieldError(field, "A passport number has 5 to 20 letters and digits")
        return DocFacts(number)
    old_card = ascii_digits(raw).upper()
    if kind is DocType.FOREIGNER_PR and re.fullmatch(r"[A-Z]{3}[0-9]{12}", old_card):
        # 2004-2017 card: ISO alpha-3 nationality, then digits
        return DocFacts(old_card, nationality_code=old_card[:3])
    number = _eighteen(raw, field)
    if kind is DocType.RESIDENT_ID:
        if int(number[:2]) not in MAINLAND_PROVINCES:
            raise FieldError(field, "The region code at the start of the number is not valid")
    elif kind is DocType.HMT_PERMIT:
        if number[:6] not in HMT_REGIONS:
            raise FieldError(
                field, "A residence permit number starts with 810000, 820000 or 830000"
            )
    elif kind is DocType.FOREIGNER_PR and (
        # 2023 card: 9, issuing province (2 digits), nationality code (3 digits), birth date...
        number[0] != "9" or int(number[1:3]) not in MAINLAND_PROVINCES
    ):
        raise FieldError(field, "A permanent-residence card number starts with 9")
    born, sex = _birth_and_sex(number, field, today)
    code = number[3:6] if kind is DocType.FOREIGNER_PR else None
    return DocFacts(number, born, sex, code)


_NAME_SEPARATORS = {
    "·": "·",
    "•": "·",
    "・": "·",
    "．": "·",
    ".": "·",  # NFKC turns the full-width stop (．) into this
    "‧": "·",
    " ": " ",
    "-": "-",
    "'": "'",
}


def normalise_name(raw: str, field: str = "name") -> str:
    """A person's name: CJK (rare characters of the extension blocks too), Latin letters,
    ``·`` between parts of minority and foreign names; no digits, markup or control chars."""
    if not isinstance(raw, str):
        raise FieldError(field, "Enter a name")
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw)).strip()
    if not text:
        raise FieldError(field, "Enter a name")
    if len(text) > 64:
        raise FieldError(field, "A name may have at most 64 characters")
    why = problem(text)
    if why:
        raise FieldError(field, why)
    out = []
    for char in text:
        if char in _NAME_SEPARATORS:
            out.append(_NAME_SEPARATORS[char])
        elif unicodedata.category(char)[0] in "LM":
            out.append(char)
        else:
            raise FieldError(field, "A name may contain only letters and the · separator")
    name = "".join(out)
    if unicodedata.category(name[0])[0] != "L" or unicodedata.category(name[-1])[0] != "L":
        raise FieldError(field, "A name must start and end with a letter")
    if re.search(r"[· '\-]{2,}", name):
        raise FieldError(field, "Separators in a name cannot follow each other")
    return name
