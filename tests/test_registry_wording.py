"""Registry pages word a registration for the one who reads it: the landlord reads about
themself in the second person ("待您确认", "您的亲属"), the police, the grid worker and the
tenant read "房东" (the landlord) — never a landlord told to wait for the landlord."""

from __future__ import annotations

import pytest
from helpers import PASSWORD, Clock, csrf_of, reg_id_by_name, tenant_form

from edge.web.app import create_app
from edge.web.registry.common import labels


@pytest.fixture
def env(tmp_path, registry_config, seed_registry):
    config = registry_config(tmp_path)
    app = create_app(config, clock=Clock())
    ids = seed_registry(config, Clock()())
    client = app.test_client()
    url = f"/r/{ids['room_a1'].token}"
    form = {**tenant_form(name="李四"), "relation": "relative"}
    sent = client.post(url, data={**form, "csrf_token": csrf_of(client.get(url).text)})
    assert sent.status_code == 303, sent.text
    reg_id = reg_id_by_name(app, config.storage.database_path, "李四")
    return {"app": app, "reg_id": reg_id}


def login(env, username: str):
    client = env["app"].test_client()
    csrf = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"csrf_token": csrf, "username": username, "password": PASSWORD}
    )
    assert answer.status_code == 302
    return client


def test_the_landlord_is_asked_not_told_to_wait_for_the_landlord(env) -> None:
    landlord = login(env, "landlord_a")
    for url in ("/landlord/", f"/landlord/registrations/{env['reg_id']}"):
        page = landlord.get(url).text
        assert "待您确认" in page and "待房东确认" not in page, url
    detail = landlord.get(f"/landlord/registrations/{env['reg_id']}").text
    assert "您的亲属" in detail and "房东亲属" not in detail
    assert "与您的关系" in detail and "与房东关系" not in detail
    for role in ("police", "grid"):
        page = login(env, role).get(f"/police/registrations/{env['reg_id']}").text
        assert "待房东确认" in page and "待您确认" not in page, role
        assert role == "grid" or "房东亲属" in page  # the grid worker never sees the relation
    search = login(env, "police").get("/police/").text
    assert "待房东确认" in search and "待您确认" not in search


@pytest.mark.parametrize("viewer", ["landlord", "police", "grid", "tenant"])
def test_every_label_is_worded_for_its_reader(env, viewer) -> None:
    """The whole label set, not one word: the landlord's never names "房东" (they are the
    landlord), everyone else's never says "您" about the landlord."""
    with env["app"].test_request_context("/?lang=zh"):
        words = labels(viewer)
    texts = [
        text
        for group in words.values()
        if isinstance(group, dict | str)
        for text in (group.values() if isinstance(group, dict) else [group])
    ]
    assert texts and all(isinstance(text, str) for text in texts)
    if viewer == "landlord":
        assert [t for t in texts if "房东" in t] == []
    else:
        assert [t for t in texts if "您" in t] == []
