"""The tenant's registration form, parsed and validated as a pure function.

Minimum necessary fields (the common set of local rental-registration rules): name,
document, sex, birth date, ethnicity, phone, household-registration address, work unit or
occupation, move-in date and expected stay, relation to the landlord, co-residents. No
religion, politics, blood type or the like. Consent to processing personal data (PIPL art.
14/29) is a separate, explicit tick box, recorded with its text version.

Every problem is collected (the tenant fixes them all in one go) as a FieldError whose
message is a gettext msgid; nothing is stored unless the whole form is valid.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from qr_registry.documents import DocType, FieldError, normalise_name, validate_document
from qr_registry.masking import normalise_phone

ETHNICITIES = (  # GB/T 3304 order, then 其他 and 外籍
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
    "其他",
    "外籍",
)
RELATIONS = {
    "tenant": "Tenant",
    "relative": "Relative of the landlord",
    "employee": "Employee housed by the employer",
    "other": "Other",
}
CO_RELATIONS = {
    "spouse": "Spouse",
    "child": "Child",
    "parent": "Parent",
    "relative": "Other relative",
    "roommate": "Roommate",
}
MAX_CO_RESIDENTS = 4
_FORBIDDEN_TEXT = re.compile(r"[<>{}\\\ufffd]")


@dataclass(frozen=True)
class CoResident:
    name: str
    doc_type: str
    doc_number: str
    relation: str


@dataclass(frozen=True)
class TenantForm:
    name: str
    doc_type: str
    doc_number: str
    sex: str
    birth_date: date
    ethnicity: str
    phone: str  # E.164
    hukou_address: str
    occupation: str
    relation: str
    move_in_date: date
    expected_until: date
    co_residents: tuple[CoResident, ...]


def _text(form: Mapping[str, str], field: str, limit: int, message: str) -> str:
    value = form.get(field, "")
    value = unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else ""
    if not value:
        raise FieldError(field, message)
    if len(value) > limit:
        raise FieldError(field, "At most %(limit)s characters", limit=limit)
    if _FORBIDDEN_TEXT.search(value) or any(unicodedata.category(c) == "Cc" for c in value):
        raise FieldError(field, "Please use only ordinary text (no < > { } or control characters)")
    return value


def _date(form: Mapping[str, str], field: str) -> date:
    value = form.get(field, "")
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, "Enter a date like 2025-03-01") from None


def _choice(form: Mapping[str, str], field: str, allowed: object, message: str) -> str:
    value = form.get(field, "")
    if not isinstance(value, str) or value not in allowed:  # type: ignore[operator]
        raise FieldError(field, message)
    return value


def parse_tenant_form(
    form: Mapping[str, str], today: date, max_stay_days: int
) -> tuple[TenantForm | None, list[FieldError]]:
    """Return the validated form, or None and every problem found."""
    errors: list[FieldError] = []
    values: dict[str, object] = {}

    def attempt(field: str, func) -> None:  # type: ignore[no-untyped-def]
        try:
            values[field] = func()
        except FieldError as exc:
            errors.append(exc)

    attempt("name", lambda: normalise_name(form.get("name", "")))
    attempt("doc_type", lambda: _choice(form, "doc_type", set(DocType), "Choose a document type"))
    attempt("sex", lambda: _choice(form, "sex", {"M", "F"}, "Choose male or female"))
    attempt("birth_date", lambda: _date(form, "birth_date"))
    attempt("ethnicity", lambda: _choice(form, "ethnicity", ETHNICITIES, "Choose an ethnicity"))
    attempt("phone", lambda: normalise_phone(form.get("phone", "")))
    attempt(
        "hukou_address",
        lambda: _text(form, "hukou_address", 200, "Enter the household-registration address"),
    )
    attempt("occupation", lambda: _text(form, "occupation", 100, "Enter a work unit or occupation"))
    attempt("relation", lambda: _choice(form, "relation", RELATIONS, "Choose a relation"))
    attempt("move_in_date", lambda: _date(form, "move_in_date"))
    attempt("expected_until", lambda: _date(form, "expected_until"))
    if "doc_type" in values:
        try:
            facts = validate_document(str(values["doc_type"]), form.get("doc_number", ""), today)
            values["doc_number"] = facts.number
            if facts.birth_date and values.get("birth_date") not in (None, facts.birth_date):
                errors.append(FieldError("birth_date", "Does not match the document number"))
            if facts.sex and values.get("sex") not in (None, facts.sex):
                errors.append(FieldError("sex", "Does not match the document number"))
        except FieldError as exc:
            errors.append(exc)
    born = values.get("birth_date")
    if isinstance(born, date) and not date(1900, 1, 1) <= born <= today:
        errors.append(FieldError("birth_date", "The birth date is out of range"))
    move_in, until = values.get("move_in_date"), values.get("expected_until")
    if isinstance(move_in, date) and not today - timedelta(
        days=366
    ) <= move_in <= today + timedelta(days=90):
        errors.append(FieldError("move_in_date", "The move-in date must be within the last year"))
    if isinstance(move_in, date) and isinstance(until, date):
        if until <= move_in:
            errors.append(FieldError("expected_until", "Must be after the move-in date"))
        elif (until - move_in).days > max_stay_days:
            errors.append(
                FieldError(
                    "expected_until", "At most %(days)s days; extend later", days=max_stay_days
                )
            )
    co_residents = _co_residents(form, today, errors)
    if form.get("consent") != "yes":
        errors.append(FieldError("consent", "Registration needs your consent to the notice above"))
    if errors:
        return None, errors
    return TenantForm(co_residents=co_residents, **values), []  # type: ignore[arg-type]


def _co_residents(
    form: Mapping[str, str], today: date, errors: list[FieldError]
) -> tuple[CoResident, ...]:
    people = []
    for i in range(1, MAX_CO_RESIDENTS + 1):
        keys = [f"co{i}_{k}" for k in ("name", "doc_type", "doc_number", "relation")]
        raw = [form.get(k, "") for k in keys]
        if not any(isinstance(v, str) and v.strip() for v in raw):
            continue
        try:
            name = normalise_name(raw[0], keys[0])
            number = validate_document(raw[1], raw[2], today, keys[2]).number
            relation = _choice(form, keys[3], CO_RELATIONS, "Choose a relation")
            people.append(CoResident(name, raw[1], number, relation))
        except FieldError as exc:
            if exc.field == "doc_type":
                exc = FieldError(keys[1], exc.message)
            elif exc.field == "relation":
                exc = FieldError(keys[3], exc.message)
            errors.append(exc)
    return tuple(people)
