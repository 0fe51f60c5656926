"""Finding 13.9 (registry inputs): digits of other scripts, invisible format characters,
stacked accents, landlines, ``'²'.isdigit()`` — each reproduced through the tenant page
and refused or folded to one canonical value."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from helpers import PASSWORD, Clock, csrf_of, make_id, tenant_form

from edge.web.app import create_app
from qr_registry.documents import FieldError, check_char, normalise_name, validate_document
from qr_registry.form import parse_tenant_form
from qr_registry.masking import normalise_phone
from qr_registry.text import fold, is_ascii_digits, problem

TODAY = date(2025, 6, 1)
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def env(tmp_path_factory, registry_config, seed_registry):
    tmp = tmp_path_factory.mktemp("inputs")
    config = registry_config(tmp, public_submissions_per_minute=100_000)
    app = create_app(config, clock=Clock())
    ids = seed_registry(config, Clock()())
    return {"app": app, "ids": ids, "db_path": config.storage.database_path}


def post_form(env, **overrides):
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a2'].token}"
    data = {**tenant_form(), **overrides, "csrf_token": csrf_of(client.get(url).text)}
    return client.post(url, data=data)


def rows(env) -> int:
    with sqlite3.connect(env["db_path"]) as conn:
        return conn.execute("SELECT COUNT(*) FROM registrations").fetchone()[0]


def test_one_card_in_three_scripts_is_one_number_and_police_find_all(env) -> None:
    """Was: the foreigner card regex ``\\d`` took Arabic-Indic and full-width digits, the
    same card was stored three times under three hashes, police exact search found one."""
    card = "USA110068050101"
    spellings = [
        card,
        "USA" + card[3:].translate(ARABIC_INDIC),
        "USA" + card[3:].translate(FULL_WIDTH),
    ]
    assert {validate_document("foreigner_pr", s, TODAY).number for s in spellings} == {card}
    for i, spelling in enumerate(spellings):
        form = tenant_form(seq=10 + i, phone=f"1390013{9100 + i}", name="John Smith")
        form.pop("ethnicity")
        response = post_form(
            env,
            **{
                **form,
                "doc_type": "foreigner_pr",
                "doc_number": spelling,
                "nationality": "USA",
                "sex": "M",
                "birth_date": "1968-05-01",
            },
        )
        assert response.status_code == 303, response.text
    police = env["app"].test_client()
    csrf = csrf_of(police.get("/login").text)
    police.post("/login", data={"csrf_token": csrf, "username": "police", "password": PASSWORD})
    for spelling in spellings:
        form = {"doc_number": spelling, "csrf_token": csrf_of(police.get("/police/").text)}
        found = police.post("/police/", data=form).text
        assert found.split('id="results"')[1].count("/police/registrations/") == 3
    landlord = env["app"].test_client()
    csrf = csrf_of(landlord.get("/login").text)
    landlord.post(
        "/login", data={"csrf_token": csrf, "username": "landlord_a", "password": PASSWORD}
    )
    listing = landlord.get("/landlord/").text
    first = listing.split("/landlord/registrations/")[1][:26]
    assert 'id="duplicate"' in landlord.get(f"/landlord/registrations/{first}").text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occupation", "工程师\u202emoc.live"),  # right-to-left override
        ("occupation", "工程师\u200b"),  # zero-width space
        ("hukou_address", "某路\u20661号\u2069"),  # isolates
        ("name", "张\u200d三"),  # zero-width joiner
        ("occupation", "Z\u0336\u0353\u0330\u0324\u0359alg\u0336o"),  # zalgo
        ("name", "Ann\u0301\u0301\u0301\u0301a"),
        ("phone", "010 6552 9988"),  # a Beijing landline
        ("phone", "+86 10 6552 9988"),
        ("doc_number", "3201021990010112\u00b2" + "3"),  # superscript two, then more digits
    ],
)
def test_hostile_characters_are_refused_and_store_nothing(env, field, value) -> None:
    before = rows(env)
    response = post_form(env, **{field: value})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert rows(env) == before


def test_text_rules() -> None:
    assert problem("软件工程师") is None and problem("Nguyễn Văn An") is None
    assert problem("Ş̧ahin") is None  # two marks are fine
    assert problem("a\u0301\u0302\u0303") is not None
    assert fold("１２٣") == "123" and fold("Ｅ１２") == "E12"
    assert is_ascii_digits("123") and not is_ascii_digits("²") and not is_ascii_digits("٣")
    with pytest.raises(ValueError):
        check_char("1101051949123100²")  # '²'.isdigit() is True; int('²') would raise later
    # NFKC folds ² to 2: a number typed with it is the ASCII number, not a crash
    number = make_id("110105", date(1949, 12, 31), 2)
    assert validate_document("resident_id", number.replace("2", "²"), TODAY).number == number
    assert normalise_name("买买提．艾力") == "买买提·艾力"  # full-width stop folds and maps
    with pytest.raises(FieldError):
        normalise_name("\u202e张三")
    assert normalise_phone("１３８ ００１３ ８０００") == "+8613800138000"
    assert normalise_phone("+1 206 555 0100") == "+12065550100"  # US: fixed line or mobile


def test_form_nationality_and_ethnicity_follow_the_document() -> None:
    base = {**tenant_form(), "consent": "yes"}
    passport = {
        **base,
        "doc_type": "passport",
        "doc_number": "C01X00T47",
        "sex": "F",
        "birth_date": "1985-05-17",
        "ethnicity": "",
        "nationality": "德国 Germany (DEU)",
    }
    form, errors = parse_tenant_form(passport, TODAY, 1000)
    assert errors == [] and form is not None
    assert (form.nationality, form.ethnicity) == ("DEU", "")
    # a German passport holder's 汉族 (the old default) is not stored
    form, _ = parse_tenant_form({**passport, "ethnicity": "汉族"}, TODAY, 1000)
    assert form is not None and form.ethnicity == ""
    form, errors = parse_tenant_form({**passport, "nationality": ""}, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"nationality"}
    form, errors = parse_tenant_form({**passport, "nationality": "德国"}, TODAY, 1000)
    assert form is not None and form.nationality == "DEU"
    chinese = {**passport, "doc_number": "E12345678", "nationality": "CHN"}
    form, errors = parse_tenant_form(chinese, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"ethnicity"}  # citizens: 民族, no default
    resident = {**base, "ethnicity": ""}
    form, errors = parse_tenant_form(resident, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"ethnicity"}
    # the 2023 card encodes the nationality: it must agree with the one chosen
    first17 = f"931276{date(1985, 5, 17):%Y%m%d}021"
    card = first17 + check_char(first17)
    fpr = {**passport, "doc_type": "foreigner_pr", "doc_number": card}
    assert parse_tenant_form(fpr, TODAY, 1000)[1] == []
    form, errors = parse_tenant_form({**fpr, "nationality": "FRA"}, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"nationality"}
    form, errors = parse_tenant_form({**fpr, "nationality": "CHN"}, TODAY, 1000)
    assert form is None and {e.field for e in errors} == {"nationality"}
