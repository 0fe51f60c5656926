"""Phones and their on-screen masks; masks for document numbers.

Screens show ``3201**********123X`` and ``138****8000``: enough for a landlord or officer
to tell two tenants apart and to read a number back on the phone, not enough to use it.
The full value is only decrypted through the reveal-with-reason flow (audited).
"""

from __future__ import annotations

import phonenumbers

from qr_registry.documents import FieldError


def normalise_phone(raw: str, field: str = "phone") -> str:
    """E.164 form of a phone number (mainland numbers may omit +86), or FieldError."""
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(field, "Enter a phone number")
    if len(raw) > 32:
        raise FieldError(field, "The phone number is too long")
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise FieldError(field, "This is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, "This phone number does not exist; please check it")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """``+8613800138000`` → ``138****8000``; foreign numbers keep their country code."""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return national[:3] + "****" + national[-4:]
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 7) + e164[-4:]


def mask_document(number: str) -> str:
    """``320102199001011234`` → ``3201**********1234``; short numbers keep only 2 each end."""
    keep = 4 if len(number) >= 12 else 2
    if len(number) <= 2 * keep:
        return "*" * len(number)
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]
