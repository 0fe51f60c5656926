"""The tenant's registration form, parsed and validated as a pure function.

Minimum necessary fields (the common set of local rental-registration rules): name,
document, sex, birth date, nationality, ethnicity, phone, household-registration address,
work unit or occupation, move-in date and expected stay, relation to the landlord,
co-residents. No religion, politics, blood type or the like. Consent to processing personal
data (PIPL art. 14/29) is a separate, explicit tick box, recorded with its text version.

The document decides the rest (server-side; the page's script only helps):
- an 18-digit number carries the birth date and sex: those are taken from it, whatever
  the form says, and the form shows them filled and locked;
- nationality is asked for a passport or a foreign permanent-residence card (and checked
  against the card number, which encodes it); Chinese documents are nationality CHN;
- 民族 is asked only of Chinese citizens (resident ID, HK/Macau/Taiwan permit, Chinese
  passport), with no default; a foreigner's record has none.

A co-resident aged 14 or more consents for themselves after the registration (a link of
their own, or in person before the landlord); for a child under 14 the tenant may consent
here as the child's parent or guardian (PIPL art. 31), otherwise the landlord records a
guardian's consent.

Every problem is collected (the tenant fixes them all in one go) as a FieldError whose
message is a gettext msgid; nothing is stored unless the whole form is valid.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from qr_registry import nationality
from qr_registry.documents import (
    CHINESE_DOCS,
    DocType,
    FieldError,
    normalise_name,
    validate_document,
)
from qr_registry.masking import normalise_phone
from qr_registry.text import clean, problem

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
)
CHILD_AGE = 14  # PIPL art. 28/31: a child's information needs a guardian's consent
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


@dataclass(frozen=True)
class CoResident:
    name: str
    doc_type: str
    doc_number: str
    birth_date: date
    relation: str
    minor: bool  # under 14 today
    guardian_consent: bool  # the tenant consents as this child's parent or guardian


@dataclass(frozen=True)
class TenantForm:
    name: str
    doc_type: str
    doc_number: str
    sex: str
    birth_date: date
    nationality: str  # ISO alpha-3
    ethnicity: str  # '' unless a Chinese citizen's document
    phone: str  # E.164
    hukou_address: str
    occupation: str
    relation: str
    move_in_date: date
    expected_until: date
    co_residents: tuple[CoResident, ...]


def is_child(born: date, today: date) -> bool:
    """Under 14 on ``today`` (a birthday on 29 February counts from 1 March)."""
    try:
        fourteenth = born.replace(year=born.year + CHILD_AGE)
    except ValueError:
        fourteenth = date(born.year + CHILD_AGE, 3, 1)
    return today < fourteenth


def _text(form: Mapping[str, str], field: str, limit: int, message: str) -> str:
    value = form.get(field, "")
    value = clean(value) if isinstance(value, str) else ""
    if not value:
        raise FieldError(field, message)
    if len(value) > limit:
        raise FieldError(field, "At most %(limit)s characters", limit=limit)
    why = problem(value)
    if why:
        raise FieldError(field, why)
    return value


def _date(form: Mapping[str, str], field: str) -> date:
    value = form.get(field, "")
    try:
        if not isinstance(value, str) or len(value) != 10 or not value.isascii():
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, "Enter a date like 2025-03-01") from None


def _choice(form: Mapping[str, str], field: str, allowed: Container[str], message: str) -> str:
    value = form.get(field, "")
    if not isinstance(value, str) or value not in allowed:
        raise FieldError(field, message)
    return value


def _nationality(form: Mapping[str, str], kind: DocType, code: str | None) -> str:
    """ISO alpha-3 for the document's holder; ``code`` is what a foreigner card encodes."""
    if kind in CHINESE_DOCS:
        return nationality.CHINA
    found = nationality.find(form.get("nationality", ""))
    if found is None:
        raise FieldError("nationality", "Choose a nationality from the list")
    if kind is DocType.FOREIGNER_PR:
        if found.alpha3 == nationality.CHINA:
            raise FieldError("nationality", "A permanent-residence card is for foreign nationals")
        if code is not None and code not in (found.alpha3, found.numeric):
            raise FieldError("nationality", "Does not match the nationality in the card number")
    return found.alpha3


def _holder(form: Mapping[str, str], today: date, errors: list[FieldError]) -> dict[str, object]:
    """Document, nationality, sex, birth date and ethnicity: what the document decides."""
    values: dict[str, object] = {}
    try:
        kind = DocType(_choice(form, "doc_type", set(DocType), "Choose a document type"))
        facts = validate_document(kind, form.get("doc_number", ""), today)
    except FieldError as exc:
        errors.append(exc)
        kind, facts = None, None
    if facts is not None and kind is not None:
        values.update(doc_type=str(kind), doc_number=facts.number)
        try:
            values["nationality"] = _nationality(form, kind, facts.nationality_code)
        except FieldError as exc:
            errors.append(exc)
    if facts is not None and facts.birth_date is not None:
        values.update(birth_date=facts.birth_date, sex=facts.sex)
    else:
        for field, parse in (
            ("sex", lambda: _choice(form, "sex", {"M", "F"}, "Choose male or female")),
            ("birth_date", lambda: _date(form, "birth_date")),
        ):
            try:
                values[field] = parse()
            except FieldError as exc:
                errors.append(exc)
    citizen = kind in CHINESE_DOCS or values.get("nationality") == nationality.CHINA
    if kind is not None and citizen:
        try:
            values["ethnicity"] = _choice(form, "ethnicity", ETHNICITIES, "Choose an ethnicity")
        except FieldError as exc:
            errors.append(exc)
    else:
        values["ethnicity"] = ""
    return values


def parse_tenant_form(
    form: Mapping[str, str], today: date, max_stay_days: int
) -> tuple[TenantForm | None, list[FieldError]]:
    """Return the validated form, or None and every problem found."""
    errors: list[FieldError] = []
    values: dict[str, object] = {}

    def attempt(field: str, func) -> None:
        try:
            values[field] = func()
        except FieldError as exc:
            errors.append(exc)

    attempt("name", lambda: normalise_name(form.get("name", "")))
    values.update(_holder(form, today, errors))
    attempt("phone", lambda: normalise_phone(form.get("phone", "")))
    attempt(
        "hukou_address",
        lambda: _text(form, "hukou_address", 200, "Enter the household-registration address"),
    )
    attempt("occupation", lambda: _text(form, "occupation", 100, "Enter a work unit or occupation"))
    attempt("relation", lambda: _choice(form, "relation", RELATIONS, "Choose a relation"))
    attempt("move_in_date", lambda: _date(form, "move_in_date"))
    attempt("expected_until", lambda: _date(form, "expected_until"))
    born = values.get("birth_date")
    if isinstance(born, date) and not date(1900, 1, 1) <= born <= today:
        errors.append(FieldError("birth_date", "The birth date is out of range"))
    elif isinstance(born, date) and is_child(born, today):
        errors.append(
            FieldError(
                "birth_date",
                "A child under 14 is registered by a parent or guardian, as a co-resident",
            )
        )
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
    co_residents = _co_residents(form, today, errors, str(values.get("doc_number", "")))
    if form.get("consent") != "yes":
        errors.append(FieldError("consent", "Registration needs your consent to the notice above"))
    if errors:
        return None, errors
    return TenantForm(co_residents=co_residents, **values), []  # type: ignore[arg-type]


def _co_resident(form: Mapping[str, str], i: int, today: date) -> CoResident:
    prefix = f"co{i}_"
    name = normalise_name(form.get(prefix + "name", ""), prefix + "name")
    kind = _choice(form, prefix + "doc_type", set(DocType), "Choose a document type")
    number = form.get(prefix + "doc_number", "")
    facts = validate_document(kind, number, today, prefix + "doc_number")
    born = facts.birth_date or _date(form, prefix + "birth_date")
    if not date(1900, 1, 1) <= born <= today:
        raise FieldError(prefix + "birth_date", "The birth date is out of range")
    relation = _choice(form, prefix + "relation", CO_RELATIONS, "Choose a relation")
    minor = is_child(born, today)
    guardian = minor and form.get(prefix + "guardian") == "yes"
    return CoResident(name, kind, facts.number, born, relation, minor, guardian)


def _co_residents(
    form: Mapping[str, str], today: date, errors: list[FieldError], tenant_doc: str
) -> tuple[CoResident, ...]:
    people = []
    seen: set[str] = {tenant_doc}
    for i in range(1, MAX_CO_RESIDENTS + 1):
        keys = [f"co{i}_{k}" for k in ("name", "doc_type", "doc_number", "birth_date", "relation")]
        if not any(isinstance(form.get(k), str) and form.get(k, "").strip() for k in keys):
            continue
        try:
            person = _co_resident(form, i, today)
        except FieldError as exc:
            field = exc.field if exc.field.startswith(f"co{i}_") else f"co{i}_{exc.field}"
            errors.append(FieldError(field, exc.message, **exc.params))
            continue
        if person.doc_number in seen:
            errors.append(FieldError(f"co{i}_doc_number", "This person is already on the form"))
            continue
        seen.add(person.doc_number)
        people.append(person)
    return tuple(people)
