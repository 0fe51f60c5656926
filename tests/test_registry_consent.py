"""Finding 13.7: co-residents (a 5-year-old among them) were stored and sent on one
tenant's single consent box. Now each person aged 14+ consents through their own link or
in person before the landlord; a child under 14 through a guardian (PIPL art. 28, 31);
nothing about a co-resident reaches the district before that consent is recorded."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from datetime import date

import pytest
from helpers import PASSWORD, Clock, csrf_of, make_id, reg_id_by_name, tenant_form

from edge.db import connect
from edge.web.app import create_app
from qr_registry import registrations

ADULT = make_id("320102", date(1992, 4, 4), 31)
CHILD_WITH_PARENT = make_id("320102", date(2020, 2, 2), 42)  # five years old
CHILD_OF_OTHERS = make_id("320102", date(2016, 6, 6), 51)


@pytest.fixture()
def env(tmp_path, registry_config, seed_registry):
    clock = Clock()
    config = registry_config(tmp_path, public_submissions_per_minute=100_000)
    app = create_app(config, clock=clock)
    ids = seed_registry(config, clock())
    return {"app": app, "ids": ids, "db_path": config.storage.database_path}


def login(env, username: str):
    client = env["app"].test_client()
    csrf = csrf_of(client.get("/login").text)
    client.post("/login", data={"csrf_token": csrf, "username": username, "password": PASSWORD})
    return client


def family_form() -> dict[str, str]:
    return {
        **tenant_form(seq=11, name="王大明", phone="13800138011"),
        "co1_name": "李小红",
        "co1_doc_type": "resident_id",
        "co1_doc_number": ADULT,
        "co1_relation": "spouse",
        "co2_name": "王小宝",
        "co2_doc_type": "resident_id",
        "co2_doc_number": CHILD_WITH_PARENT,
        "co2_relation": "child",
        "co2_guardian": "yes",
        "co3_name": "赵小明",
        "co3_doc_type": "resident_id",
        "co3_doc_number": CHILD_OF_OTHERS,
        "co3_relation": "relative",
    }


def sent_people(env, reg_id: str) -> list[list[str]]:
    """The co-residents' document numbers in each outbox row of ``reg_id``, in order."""
    vault = env["app"].extensions["menwei"].vault
    with sqlite3.connect(env["db_path"]) as conn:
        rows = conn.execute(
            "SELECT key, payload FROM outbox WHERE key LIKE ? ORDER BY seq", (reg_id + ":%",)
        ).fetchall()
    out = []
    for key, payload in rows:
        sealed = base64.b64decode(json.loads(payload)["personal_sealed"])
        personal = json.loads(vault.decrypt_text(sealed, "outbox.registration:" + key))
        out.append([p["doc_number"] for p in personal["co_residents"]])
    return out


def test_each_person_consents_and_only_then_is_sent(env) -> None:
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a1'].token}"
    response = client.post(url, data={**family_form(), "csrf_token": csrf_of(client.get(url).text)})
    assert response.status_code == 303
    done = client.get(response.headers["Location"])
    links = re.findall(r'value="(http://127\.0\.0\.1:8080/r/consent/[\w-]+)"', done.text)
    assert len(links) == 1  # the adult gets a link; children consent through a guardian
    assert 'src="data:image/png;base64,' in done.text and "李*" in done.text
    assert "李小红" not in done.text  # the confirmation shows masked names
    reg_id = reg_id_by_name(env["app"], env["db_path"], "王大明")
    assert sent_people(env, reg_id) == []  # pending: nothing sent at all

    landlord = login(env, "landlord_a")
    page = landlord.get(f"/landlord/registrations/{reg_id}").text
    assert page.count("等待本人同意") == 2 and "监护人已同意" in page
    csrf = csrf_of(page)
    landlord.post(
        f"/landlord/registrations/{reg_id}/decide", data={"decision": "confirm", "csrf_token": csrf}
    )
    assert sent_people(env, reg_id) == [[CHILD_WITH_PARENT]]

    path = links[0].removeprefix("http://127.0.0.1:8080")
    consent_page = client.get(path)
    assert consent_page.status_code == 200 and "李*" in consent_page.text
    agreed = client.post(path, data={"answer": "agree", "csrf_token": csrf_of(consent_page.text)})
    assert agreed.status_code == 200 and 'id="consent-done"' in agreed.text
    assert client.get(path).status_code == 404  # a link works once
    assert sent_people(env, reg_id) == [[CHILD_WITH_PARENT], [ADULT]]

    # The other child: the landlord records their guardian's consent, with who and how.
    co_id = int(
        re.findall(r"/co/(\d+)/consent", landlord.get(f"/landlord/registrations/{reg_id}").text)[0]
    )
    short = landlord.post(
        f"/landlord/registrations/{reg_id}/co/{co_id}/consent",
        data={"guardian": "yes", "note": "", "csrf_token": csrf},
    )
    assert short.status_code == 422
    ok = landlord.post(
        f"/landlord/registrations/{reg_id}/co/{co_id}/consent",
        data={"guardian": "yes", "note": "母亲赵女士当面同意", "csrf_token": csrf},
    )
    assert ok.status_code == 303
    assert sent_people(env, reg_id) == [[CHILD_WITH_PARENT], [ADULT], [CHILD_OF_OTHERS]]
    # Another landlord cannot record consent for this person.
    other = login(env, "landlord_b")
    assert (
        other.post(
            f"/landlord/registrations/{reg_id}/co/{co_id}/consent",
            data={
                "guardian": "yes",
                "note": "伪造同意记录",
                "csrf_token": csrf_of(other.get("/landlord/").text),
            },
        ).status_code
        == 404
    )


def test_a_child_cannot_be_consented_as_an_adult_and_refusal_deletes(env) -> None:
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a1'].token}"
    form = {**family_form(), "co2_guardian": ""}
    response = client.post(url, data={**form, "csrf_token": csrf_of(client.get(url).text)})
    link = re.findall(r"/r/consent/[\w-]+", client.get(response.headers["Location"]).text)[0]
    reg_id = reg_id_by_name(env["app"], env["db_path"], "王大明")
    with sqlite3.connect(env["db_path"]) as conn:
        minors = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM co_residents WHERE registration_id = ? AND minor = 1", (reg_id,)
            )
        ]
    db = connect(env["db_path"])
    vault = env["app"].extensions["menwei"].vault
    with pytest.raises(registrations.RegistrationError):
        registrations.record_consent_in_person(
            db, vault, minors[0], env["ids"]["landlord_a"], False, "本人当面同意", Clock()()
        )
    page = client.get(link)
    refused = client.post(link, data={"answer": "refuse", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 200
    with sqlite3.connect(env["db_path"]) as conn:
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM co_residents WHERE registration_id = ?", (reg_id,)
            ).fetchone()[0]
            == 2
        )  # the adult who refused is gone
    db.conn.close()


def test_the_tenant_must_be_fourteen(env) -> None:
    client = env["app"].test_client()
    url = f"/r/{env['ids']['room_a1'].token}"
    child = {**tenant_form(), "doc_number": CHILD_WITH_PARENT}
    response = client.post(url, data={**child, "csrf_token": csrf_of(client.get(url).text)})
    assert response.status_code == 422 and 'id="birth_date-error"' in response.text
