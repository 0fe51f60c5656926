"""Phones, and what each role may see of a registration: masks that cannot be reversed.

A masked document number is only safe together with everything else the same reader can
fetch. An 18-digit number is 6 digits of region (GB/T 2260), 8 of birth date, 3 of
sequence (the last of them odd for men) and a MOD 11-2 check character. Showing the first
and last four beside the birth date leaves 1-2 candidates; so here, for every role:

- the birth date is never shown beside any part of a number; a **birth year** (police,
  landlord) or a **ten-year age band** (grid) is, and both are computed from the year
  alone, so watching a page day by day never reveals the birthday;
- a number shows only its **tail**, as many characters as keep at least 10^4 candidates
  given the year, the sex, the nationality and the document type also shown
  (``tests/test_registry_masking.py`` counts them with the real region list and the check
  digit): resident ID 4, the HK/Macau/Taiwan permit (whose region is one of three) and
  the 2023 permanent-residence card (whose nationality is shown) 1, a passport or an old
  card 2 — and none at all when the number is too short to spare them;
- masks have a fixed width, so the length of a passport number is not shown either;
- nothing is sorted or counted by document: lists are in submission order.

Exact search by full number (police only) is an oracle too; it is capped per officer and
day (``[registry] exact_searches_per_day``) and audited. Full values are decrypted only
through the reveal-with-reason flow, which is audited before the value is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from edge.people.residents import mask_name as mask_resident_name
from qr_registry.documents import DocType, FieldError
from qr_registry.text import ascii_digits, problem

MIN_CANDIDATES = 10_000
MASK_WIDTH = 8  # stars before the tail of a non-18-character number
_TAIL = {
    DocType.RESIDENT_ID: 4,
    DocType.HMT_PERMIT: 1,
    DocType.FOREIGNER_PR: 1,
    DocType.PASSPORT: 2,
}
_MIN_HIDDEN = 6  # a short passport hides at least this many characters, or shows none
_MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalise_phone(raw: str, field: str = "phone") -> str:
    """E.164 form of a **mobile** number (mainland numbers may omit +86), or FieldError.

    Landlines are refused: the number is how a tenant proves a later request and where a
    one-time code is sent."""
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, "Enter a phone number")
    if len(raw) > 32:
        raise FieldError(field, "The phone number is too long")
    if problem(raw):
        raise FieldError(field, "This is not a phone number")
    text = ascii_digits(raw)
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise FieldError(field, "This is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, "This phone number does not exist; please check it")
    if phonenumbers.number_type(number) not in _MOBILE:
        raise FieldError(field, "Enter a mobile phone number (not a landline)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """``+8613800138000`` → ``138****8000``; foreign numbers keep their country code."""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return national[:3] + "****" + national[-4:]
    if len(e164) <= 8:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 7) + e164[-4:]


def tail_length(doc_type: str, number: str) -> int:
    """How many trailing characters of ``number`` any screen or export may show."""
    try:
        keep = _TAIL[DocType(doc_type)]
    except ValueError:
        return 0
    if len(number) == 18:
        return keep
    if DocType(doc_type) is DocType.RESIDENT_ID:
        return 0
    return keep if len(number) - keep >= _MIN_HIDDEN else 0


def mask_document(doc_type: str, number: str) -> str:
    """``320102199001011234`` → ``**************1234``; others: ``********12``."""
    keep = tail_length(doc_type, number)
    tail = number[len(number) - keep :] if keep else ""
    stars = 18 - keep if len(number) == 18 else MASK_WIDTH
    return "*" * stars + tail


def age_band(birth_year: int, today: date) -> str:
    """``30-39``: ten-year band from the year alone (changes on 1 January, never on the
    birthday); ``<14`` for children, whose consent is their guardian's."""
    years = today.year - birth_year
    if years < 14:
        return "<14"
    low = 14 if years < 20 else years // 10 * 10
    return f"{low}-{years // 10 * 10 + 9}"


# What each console role sees of a registration, beyond the room, status and dates. Roles
# absent here (admin, guard, resident) see no registration at all: their blueprints do not
# serve one, and the audit log holds only ids.
ROLE_FIELDS: dict[str, frozenset[str]] = {
    "landlord": frozenset(
        {"name", "doc_type", "doc_mask", "sex", "birth_year", "nationality", "ethnicity",
         "phone_mask", "occupation", "relation"}
    ),
    "police": frozenset(
        {"name", "doc_type", "doc_mask", "sex", "birth_year", "nationality", "ethnicity",
         "phone_mask", "occupation", "relation"}
    ),
    "grid": frozenset(
        {"name", "doc_type", "doc_mask", "sex", "age_band", "nationality", "phone_mask"}
    ),
    "tenant": frozenset({"name_masked", "doc_type", "doc_mask"}),
}  # fmt: skip
ALWAYS = frozenset(
    {"id", "room_id", "room_label", "landlord_id", "status", "overdue", "move_in_date",
     "expected_until", "submitted_at", "confirm_deadline", "decided_at", "reject_reason",
     "moved_out_on", "move_out_reason", "consent_at", "consent_version", "ref_code"}
)  # fmt: skip
REVEAL_ROLES = frozenset({"police"})


@dataclass(frozen=True)
class Person:
    """The decrypted personal fields of one registration (qr_registry.registrations)."""

    name: str
    sex: str
    birth_date: date
    nationality: str  # alpha-3
    ethnicity: str  # '' for foreign documents
    occupation: str


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``, ``Anna Schmidt`` → ``A**``: a tenant's own status page confirms
    the record without telling a stranger who lives there. The console's mask, so a name
    hides the same (its length too) on every page."""
    return mask_resident_name(name)


def present(
    row: dict[str, Any], person: Person, doc_mask: str, role: str, today: date
) -> dict[str, Any]:
    """The fields of ``row`` (plus the decrypted ``person``) that ``role`` may see."""
    allowed = ROLE_FIELDS.get(role)
    if allowed is None:
        raise PermissionError(f"role {role!r} sees no registrations")
    full = {
        "name": person.name,
        "name_masked": mask_name(person.name),
        "doc_type": row.get("doc_type"),
        "doc_mask": doc_mask,
        "sex": person.sex,
        "birth_year": person.birth_date.year,
        "age_band": age_band(person.birth_date.year, today),
        "nationality": person.nationality,
        "ethnicity": person.ethnicity,
        "phone_mask": row.get("phone_mask"),
        "occupation": person.occupation,
        "relation": row.get("relation"),
    }
    shown = {k: v for k, v in row.items() if k in ALWAYS}
    shown.update({k: v for k, v in full.items() if k in allowed})
    return shown
