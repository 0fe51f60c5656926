"""Migration 9 on a box that already holds registrations: the clear personal fields
(name, sex, birth date, ethnicity, occupation) are encrypted without loss when the web app
starts with the key, the clear copies leave the file, old outbox payloads are re-sealed,
and old co-residents wait for their own consent."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import date

from helpers import Clock, make_id

from edge.db import connect
from edge.migrations import MIGRATIONS, TABLE_REBUILDS
from edge.pii import PiiVault
from edge.web.accounts import create_user
from edge.web.app import create_app
from qr_registry.registrations import open_person
from qr_registry.rooms import add_room

NUMBER = make_id("320102", date(1990, 1, 1), 123)
CO_NUMBER = make_id("320102", date(2019, 3, 3), 42)


def old_database(path, vault: PiiVault) -> str:
    """A database at schema 7 (the one before) with one registration as the old code wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _title, sql in MIGRATIONS:
        if version > 8:
            break
        if version in TABLE_REBUILDS:
            conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        conn.execute("PRAGMA foreign_keys = ON")
    conn.close()
    db = connect(path, apply_migrations=False)
    now = Clock()()
    with db.conn:
        landlord = create_user(db.conn, "wang", "correct-horse-9", "landlord", now).id
        room = add_room(db.conn, "幸福小区", "3幢", "1单元", "401", landlord, now)
    reg = "01JWMKF780AAAAAAAAAAAAAAAA"
    enc = lambda text, field: vault.encrypt_text(text, f"registration.{field}:{reg}")  # noqa: E731
    db.conn.execute(
        "INSERT INTO registrations (id, room_id, status, name, doc_type, doc_enc, doc_hash,"
        " doc_mask, sex, birth_date, ethnicity, phone_enc, phone_hash, phone_mask,"
        " hukou_address_enc, occupation, relation, move_in_date, expected_until, consent_at,"
        " consent_version, submitted_at, confirm_deadline, updated_at) VALUES"
        " (?, ?, 'confirmed', '钱七', 'resident_id', ?, 'h', '3201**********1232', 'M',"
        " '1990-01-01', '汉族', ?, 'p', '137****7000', ?, '旧职业测试', 'tenant', '2025-05-20',"
        " '2026-05-19', 'x', '2025-01', 'x', 'x', 'x')",
        (reg, room.id, enc(NUMBER, "doc"), enc("+8613700137000", "phone"), enc("某路1号", "hukou")),
    )
    db.conn.execute(
        "INSERT INTO co_residents (registration_id, name, doc_type, doc_enc, doc_hash, doc_mask,"
        " relation) VALUES (?, '钱小宝', 'resident_id', ?, 'c', '3201**********0427', 'child')",
        (reg, enc(CO_NUMBER, "co_doc")),
    )
    key = f"{reg}:submitted:01JWMKF780BBBBBBBBBBBBBBBB"
    sealed = vault.encrypt_text(json.dumps({"doc_number": NUMBER}), "outbox.registration:" + key)
    payload = {
        "registration": {
            "id": reg,
            "name": "钱七",
            "birth_date": "1990-01-01",
            "sex": "M",
            "occupation": "旧职业测试",
            "status": "pending",
            "decided_by": None,
        },
        "change": "submitted",
        "personal_sealed": base64.b64encode(sealed).decode(),
    }
    db.conn.execute(
        "INSERT INTO outbox (key, topic, payload, created_at) VALUES (?, 'registration', ?, 'x')",
        (key, json.dumps(payload, ensure_ascii=False)),
    )
    db.conn.close()
    return reg


def file_bytes(path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_old_registrations_are_sealed_without_loss(tmp_path, registry_config) -> None:
    config = registry_config(tmp_path)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    path = config.storage.database_path
    reg = old_database(path, vault)
    assert "旧职业测试".encode() in file_bytes(path)
    app = create_app(config)  # migrates, then seals with the key
    vault = app.extensions["menwei"].vault
    raw = file_bytes(path)
    for clear in ("旧职业测试", "钱小宝", "3201**********1232"):
        assert clear.encode() not in raw, clear
    with sqlite3.connect(path) as conn:
        blob, mask, status = conn.execute(
            "SELECT person_enc, doc_mask, status FROM registrations WHERE id = ?", (reg,)
        ).fetchone()
        person = open_person(vault, reg, blob)
        assert (
            person.name,
            person.sex,
            person.birth_date,
            person.ethnicity,
            person.occupation,
            person.nationality,
        ) == ("钱七", "M", date(1990, 1, 1), "汉族", "旧职业测试", "CHN")
        assert (mask, status) == ("*" * 14 + NUMBER[-4:], "confirmed")
        co = conn.execute("SELECT doc_mask, consent_state, person_enc FROM co_residents").fetchone()
        assert co[0] == "*" * 14 + CO_NUMBER[-4:] and co[1] == "awaiting" and co[2]
        key, payload = conn.execute("SELECT key, payload FROM outbox").fetchone()
        assert conn.execute("SELECT COUNT(*) FROM registry_legacy_plain").fetchone()[0] == 0
    doc = json.loads(payload)
    assert set(doc["registration"]) == {"id", "status"}
    personal = json.loads(
        vault.decrypt_text(base64.b64decode(doc["personal_sealed"]), "outbox.registration:" + key)
    )
    assert personal["name"] == "钱七" and personal["doc_number"] == NUMBER
    assert personal["occupation"] == "旧职业测试"
    # The landlord's page shows the sealed record.
    create_app(config)  # a second start has nothing left to seal
