"""ID, name and phone validation, masks, and the pure tenant-form parser."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qr_registry.documents import (
    MAINLAND_PROVINCES,
    FieldError,
    check_char,
    normalise_name,
    validate_document,
)
from qr_registry.form import parse_tenant_form
from qr_registry.masking import mask_document, mask_phone, normalise_phone

TODAY = date(2025, 6, 1)


def make_id(prefix6: str, born: date, seq: int) -> str:
    first17 = f"{prefix6}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def test_known_check_digits() -> None:
    # GB 11643-1999 appendix example and a widely published sample with X.
    assert check_char("34052419800101001") == "X"
    assert check_char("11010519491231002") == "X"
    assert validate_document("resident_id", "11010519491231002x", TODAY).number.endswith("X")


regions = st.sampled_from(sorted(MAINLAND_PROVINCES)).map(lambda p: f"{p:02d}0102")
births = st.dates(date(1900, 1, 1), TODAY)


@given(regions, births, st.integers(0, 999))
def test_valid_ids_accepted_with_birth_and_sex(prefix: str, born: date, seq: int) -> None:
    facts = validate_document("resident_id", make_id(prefix, born, seq), TODAY)
    assert facts.birth_date == born
    assert facts.sex == ("M" if seq % 2 else "F")


@given(regions, births, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(
    prefix: str, born: date, seq: int, position: int, delta: int
) -> None:
    number = make_id(prefix, born, seq)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    # MOD 11-2 detects every single-digit substitution; other checks may fire first.
    with pytest.raises(FieldError):
        validate_document("resident_id", changed, TODAY)


@given(st.sampled_from(["810000", "820000", "830000"]), births, st.integers(0, 999))
def test_hk_macau_taiwan_permits(prefix: str, born: date, seq: int) -> None:
    number = make_id(prefix, born, seq)
    assert validate_document("hmt_permit", number, TODAY).number == number
    with pytest.raises(FieldError):
        validate_document("resident_id", number, TODAY)  # not a mainland region


@given(st.sampled_from(sorted(MAINLAND_PROVINCES)), st.integers(1, 999), births)
def test_2023_permanent_residence_card(province: int, country: int, born: date) -> None:
    first17 = f"9{province:02d}{country:03d}{born:%Y%m%d}001"
    number = first17 + check_char(first17)
    assert validate_document("foreigner_pr", number, TODAY).birth_date == born
    assert validate_document("foreigner_pr", "USA110068050101", TODAY).number == "USA110068050101"


@pytest.mark.parametrize(
    ("doc_type", "number"),
    [
        ("resident_id", "11010519491231002"),  # 17 chars
        ("resident_id", "1101051949123100\u200b2X"),  # zero-width space (Cf)
        ("resident_id", "1101051949123100\u202e2X"),  # bidi override (Cf)
        ("resident_id", make_id("110105", date(2030, 1, 1), 1)),  # born in the future
        ("resident_id", "110105194902300011"),  # 30 Feb
        ("resident_id", make_id("990105", date(1990, 1, 1), 1)),  # no province 99
        ("hmt_permit", make_id("840000", date(1990, 1, 1), 1)),
        ("foreigner_pr", make_id("110105", date(1990, 1, 1), 1)),
        ("passport", "E12"),
        ("passport", "E1234<script>"),
        ("drivers_licence", "E12345678"),
        ("resident_id", ""),
    ],
)
def test_bad_documents_rejected(doc_type: str, number: str) -> None:
    with pytest.raises(FieldError):
        validate_document(doc_type, number, TODAY)


def test_names_allow_rare_characters_and_middle_dot() -> None:
    assert normalise_name("  买买提•艾力 ") == "买买提·艾力"
    assert normalise_name("王𠮷") == "王𠮷"  # extension-B character
    assert normalise_name("Anna-Lena O'Brien") == "Anna-Lena O'Brien"
    for bad in [
        "",
        "张三1",
        "<b>李</b>",
        "·张",
        "张··三",
        "x" * 65,
        "张\x00三",
        "DROP TABLE"[:4] + ";",
    ]:
        with pytest.raises(FieldError):
            normalise_name(bad)


def test_phones_and_masks() -> None:
    assert normalise_phone("138 0013 8000") == "+8613800138000"
    assert normalise_phone("+852 6123 4567") == "+85261234567"
    assert mask_phone("+8613800138000") == "138****8000"
    assert mask_document("resident_id", "32010219900101123X") == "*" * 14 + "123X"
    assert mask_document("passport", "E12345678") == "********78"
    assert mask_document("passport", "E12345") == "********"  # too short to show a tail
    for bad in ["", "12345", "+86 138", "phone", "1" * 40, "010 6552 9988"]:
        with pytest.raises(FieldError):
            normalise_phone(bad)


def good_form() -> dict[str, str]:
    return {
        "name": "张三",
        "doc_type": "resident_id",
        "doc_number": make_id("320102", date(1990, 1, 1), 123),
        "sex": "M",
        "birth_date": "1990-01-01",
        "ethnicity": "汉族",
        "phone": "13800138000",
        "hukou_address": "江苏省南京市玄武区某路1号",
        "occupation": "软件工程师",
        "relation": "tenant",
        "move_in_date": "2025-05-20",
        "expected_until": "2026-05-19",
        "co1_name": "李四",
        "co1_doc_type": "passport",
        "co1_doc_number": "E12345678",
        "co1_birth_date": "1991-02-03",
        "co1_relation": "spouse",
        "consent": "yes",
    }


def test_form_parses_and_cross_checks_document() -> None:
    form, errors = parse_tenant_form(good_form(), TODAY, 1000)
    assert errors == [] and form is not None
    assert form.phone == "+8613800138000" and form.co_residents[0].name == "李四"
    # Sex and birth date come from an 18-digit number whatever the form says.
    typed = {**good_form(), "sex": "F", "birth_date": "1991-01-01"}
    form, errors = parse_tenant_form(typed, TODAY, 1000)
    assert errors == [] and form is not None
    assert (form.sex, form.birth_date) == ("M", date(1990, 1, 1))
    form, errors = parse_tenant_form({**good_form(), "consent": ""}, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"consent"}


@settings(max_examples=150)
@given(st.dictionaries(st.sampled_from(sorted(good_form())), st.text(max_size=300)))
def test_form_never_raises_on_hostile_input(overrides: dict[str, str]) -> None:
    form, errors = parse_tenant_form({**good_form(), **overrides}, TODAY, 1000)
    assert (form is None) == bool(errors)
    assert all(isinstance(e, FieldError) and e.message for e in errors)
