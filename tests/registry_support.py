"""Shared builders for the registry tests: a configured app on a real SQLite file."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from edge.config import MenweiConfig, parse_config
from edge.db import connect, transaction
from edge.web.accounts import create_user
from qr_registry.documents import check_char
from qr_registry.registrations import open_person
from qr_registry.rooms import add_room

PASSWORD = "correct-horse-9"


@dataclass
class Clock:
    moment: datetime = field(default_factory=lambda: datetime(2025, 6, 1, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


def make_config(tmp: Path, **registry: object) -> MenweiConfig:
    return parse_config(
        {
            "storage": {"data_dir": str(tmp / "data")},
            "security": {"pii_key_file": str(tmp / "keys" / "pii.key")},
            "web": {"secure_cookies": False},
            "registry": {"base_url": "http://127.0.0.1:8080", **registry},
        }
    )


def seed(config: MenweiConfig, now: datetime) -> dict:
    """Accounts of every role, two landlords with rooms in one building."""
    db = connect(config.storage.database_path)
    ids: dict = {}
    with transaction(db) as conn:
        for name, role in [
            ("admin", "admin"), ("landlord_a", "landlord"), ("landlord_b", "landlord"),
            ("police", "police"), ("grid", "grid"),
        ]:  # fmt: skip
            ids[name] = create_user(conn, name, PASSWORD, role, now).id
        ids["room_a1"] = add_room(conn, "幸福小区", "3幢", "1单元", "401", ids["landlord_a"], now)
        ids["room_a2"] = add_room(conn, "幸福小区", "3幢", "1单元", "402", ids["landlord_a"], now)
        ids["room_b"] = add_room(conn, "幸福小区", "3幢", "2单元", "101", ids["landlord_b"], now)
    db.conn.close()
    return ids


def make_id(prefix6: str, born: date, seq: int) -> str:
    first17 = f"{prefix6}{born:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def tenant_form(seq: int = 123, phone: str = "13800138000", name: str = "张三") -> dict[str, str]:
    return {
        "name": name,
        "doc_type": "resident_id",
        "doc_number": make_id("320102", date(1990, 1, 1), seq),
        "sex": "M" if seq % 2 else "F",
        "birth_date": "1990-01-01",
        "ethnicity": "汉族",
        "phone": phone,
        "hukou_address": "江苏省南京市玄武区某路1号",
        "occupation": "软件工程师",
        "relation": "tenant",
        "move_in_date": "2025-05-20",
        "expected_until": "2026-05-19",
        "consent": "yes",
    }


def reg_id_by_name(app, db_path: Path, name: str) -> str:  # type: ignore[no-untyped-def]
    """The newest registration of ``name`` (names are encrypted: decrypt with the app's key)."""
    vault = app.extensions["menwei"].vault
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT id, person_enc FROM registrations ORDER BY id DESC").fetchall()
    for reg_id, blob in rows:
        if open_person(vault, reg_id, blob).name == name:
            return reg_id
    raise LookupError(name)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)
