"""The admin's audit-log page: keyset pages, filters by actor, action, object and local
date, Chinese labels, and the chain's verification in plain words (intact, and after a
row is edited behind the triggers' back); only admins may open it.

Real SQLite file, real app and test client; rows written with edge.audit as every
audited change writes them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from helpers import audit_rows, client_as, csrf_of, db_of

from edge import audit
from edge.db import transaction


@pytest.fixture
def env(tmp_path, console_env):
    env = console_env(tmp_path)
    db = db_of(env)
    base = datetime(2025, 5, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 May in Shanghai
    with transaction(db) as conn:
        for n in range(60):
            audit.append(conn, "user:4", "view", f"registration:R{n:03d}", {"n": n}, base)
        audit.append(conn, "user:1", "create_user", "user:3", {"role": "landlord"},
                     base + timedelta(hours=1))  # 00:30 on 1 June  # fmt: skip
        audit.append(conn, "anonymous", "login_failures", "", {"count": 5}, base)
    return env


def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', html)]


def test_pages_newest_first_without_gaps(env):
    admin = client_as(env, "admin")
    first = admin.get("/admin/audit").text
    shown = seqs(first)
    assert len(shown) == 50 and shown == sorted(shown, reverse=True)
    older = re.search(r'href="([^"]+)" id="audit-older"', first).group(1).replace("&amp;", "&")
    rest = seqs(admin.get(older).text)
    everything = shown + rest
    assert everything == sorted(everything, reverse=True)
    assert len(set(everything)) == len(everything) and min(everything) == 1


def test_labels_in_chinese_and_names_for_accounts(env):
    html = client_as(env, "admin").get("/admin/audit?action=create_user").text
    row = re.search(r'<tr data-seq="\d+">(.*?)</tr>', html, re.S).group(1)
    assert "创建账号" in row and "admin1 (#1)" in row
    assert re.search(r'<td data-label="对象"[^>]*>landlord1 \(#3\)</td>', row)  # by its name
    assert "角色: 房东" in row and "diagnostic" not in row  # details in words
    assert "匿名" in client_as(env, "admin").get("/admin/audit?actor=anonymous").text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=user:1", 2),  # the new account, and this admin's own sign-in
        ("action=view", 50),  # a full page
        ("object=registration&object_id=R007", 1),
        ("object=user", 2),  # the new account, and the sign-in (target user:1)
        ("from=2025-06-01&to=2025-06-01", 1),  # 00:30 on 1 June local; not 23:30 the day before
        ("to=2025-05-31", 50),
    ],
)
def test_filters(env, query, expected):
    html = client_as(env, "admin").get(f"/admin/audit?{query}").text
    assert len(seqs(html)) == expected


@pytest.mark.parametrize(
    "query",
    ["from=2025-13-01", "from=2025-06-02&to=2025-06-01", "action=DROP%20TABLE", "object_id=5",
     "object=user&object_id=%27or1", "before=-1", "before=abc", "actor=" + "x" * 81],
)  # fmt: skip
def test_bad_filters_are_refused_with_a_message(env, query):
    response = client_as(env, "admin").get(f"/admin/audit?{query}")
    assert response.status_code == 400
    assert 'id="audit-error"' in response.text and seqs(response.text) == []


def test_verification_ok_then_broken_in_plain_words(env):
    admin = client_as(env, "admin")
    html = admin.get("/admin/audit").text
    assert 'id="verify-result"' in html and "完整。" in html and "Ed25519" in html
    before = len(audit_rows(db_of(env), "audit_verify"))
    verified = admin.post("/admin/audit/verify", data={"csrf_token": csrf_of(html)})
    assert "已校验并记录" in verified.text
    assert len(audit_rows(db_of(env), "audit_verify")) == before + 1
    db = db_of(env)
    with transaction(db) as conn:  # someone with the database file edits a row
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET target = 'registration:X' WHERE seq = 7")
    assert "完整。" in admin.get("/admin/audit").text  # a check younger than 5 min is reused
    env["clock"].advance(minutes=6)
    broken = admin.get("/admin/audit").text  # ... and an older one is made again
    assert "发现问题。" in broken and "有一条记录在写入后被修改过。" in broken
    assert "第 7 条" in broken
    at_once = admin.post("/admin/audit/verify", data={"csrf_token": csrf_of(broken)}).text
    assert "发现问题。" in at_once and "已校验并记录" in at_once


@pytest.mark.parametrize("role", ["guard", "police", "grid", "landlord"])
def test_only_admins(env, role):
    assert client_as(env, role).get("/admin/audit").status_code == 403


def test_english(env):
    html = client_as(env, "admin").get("/admin/audit?lang=en&action=create_user").text
    assert "Created an account" in html and "Is the log intact?" in html
