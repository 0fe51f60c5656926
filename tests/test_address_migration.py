"""Migration 10 on a box that holds today's data: free-text households, their residents,
vehicles and passes, and the registry's rooms with a tenant registration. Every resident,
vehicle, pass and registration survives with its links; households that name the same flat
become one (the other spellings kept as aliases); labels that do not read are flagged."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from edge.address_labels import parse_flat
from edge.db import connect, schema_version, transaction
from edge.migrations import LATEST_VERSION, MIGRATIONS, TABLE_REBUILDS
from edge.people.addresses import (
    AddressError,
    delete_household,
    delete_room,
    find_flat,
    generate_rooms,
    household_for_label,
    link_household,
    parse_range,
    tree,
)

T = "2026-01-01T00:00:00.000+00:00"


def schema_before_addresses(path) -> sqlite3.Connection:
    """A database at schema 11 (main before the address model), written as the old code wrote it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _title, sql in MIGRATIONS:
        if version > 11:
            break
        if version in TABLE_REBUILDS:
            conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def fill(conn: sqlite3.Connection) -> dict[str, int]:
    """Households in several spellings, residents, vehicles, a face pass, a QR pass, and the
    registry's 3栋1单元402 with a landlord, a token and a registration."""
    ex = conn.execute
    ex(
        "INSERT INTO users (id, username, role, password_hash, created_at)"
        " VALUES (1, 'wang', 'landlord', 'x', ?)",
        (T,),
    )
    ex("INSERT INTO properties (id, name, created_at) VALUES (1, '幸福小区', ?)", (T,))
    ex("INSERT INTO buildings (id, property_id, name) VALUES (1, 1, '3栋')")
    ex("INSERT INTO units (id, building_id, name) VALUES (1, 1, '1单元')")
    ex(
        "INSERT INTO rooms (id, unit_id, number, landlord_id, created_at)"
        " VALUES (1, 1, '402', 1, ?)",
        (T,),
    )
    ex(
        "INSERT INTO room_tokens (token, room_id, created_at) VALUES ('tok-aaaaaaaaaaaa', 1, ?)",
        (T,),
    )
    ex(
        "INSERT INTO registrations (id, room_id, ref_code, doc_type, doc_enc, doc_hash, doc_mask,"
        " phone_enc, phone_hash, phone_mask, hukou_address_enc, relation, move_in_date,"
        " expected_until, consent_at, consent_version, submitted_at, confirm_deadline, updated_at)"
        " VALUES ('R1', 1, 'ABC', 'resident_id', x'00', 'h', 'm', x'00', 'p', 'pm', x'00',"
        " 'tenant', '2026-01-01', '2026-06-01', ?, 'v', ?, ?, ?)",
        (T, T, T, T),
    )
    labels = {
        1: "6-2-301",
        2: "六栋二单元301",  # the same flat as 1
        3: "3-1-402",  # the registry's room (building named 3栋 there)
        4: "物业办公室",  # does not read: flagged, kept
        5: "12幢3单元1801室",
        6: "6/2/301",  # a third spelling of flat 1
    }
    for hid, label in labels.items():
        ex("INSERT INTO households (id, label, created_at) VALUES (?, ?, ?)", (hid, label, T))
    for rid, hid in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (8, None)]:
        ex(
            "INSERT INTO residents (id, household_id, name, created_at) VALUES (?, ?, '', ?)",
            (rid, hid, T),
        )
    ex(
        "INSERT INTO residents (id, household_id, name, kind, host_resident_id, valid_from,"
        " valid_to, created_at) VALUES (9, 2, '', 'visitor', 2, ?, '2027-01-01', ?)",
        (T, T),
    )
    for vid, hid in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 6), (6, None)]:
        ex(
            "INSERT INTO vehicles (id, plate, kind, household_id, created_at)"
            " VALUES (?, ?, 'resident', ?, ?)",
            (vid, f"京A1234{vid}", hid, T),
        )
    ex(
        "INSERT INTO qr_passes (token_hash, label, host_resident_id, valid_from, valid_to,"
        " max_uses, created_at) VALUES ('th', 'guest', 3, ?, '2027-01-01', 1, ?)",
        (T, T),
    )
    ex("UPDATE residents SET access_group = 'cleaners' WHERE id = 5")
    return {
        t: ex(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("residents", "vehicles", "qr_passes", "registrations", "room_tokens")
    }


def test_upgrade_folds_households_into_rooms_without_losing_a_row(tmp_path):
    path = tmp_path / "menwei.db"
    old = schema_before_addresses(path)
    before = fill(old)
    old.close()

    db = connect(path)
    assert schema_version(db) == LATEST_VERSION
    ex = db.conn.execute
    for table, count in before.items():
        assert ex(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == count, table
    assert ex("PRAGMA foreign_key_check").fetchall() == []

    # the three spellings of 6-2-301 are one household in one room, with all their people
    home = ex("SELECT id, room_id FROM households WHERE label = '6-2-301'").fetchone()
    assert home and home[1]
    assert {r for (r,) in ex("SELECT id FROM residents WHERE household_id = ?", (home[0],))} == {
        1,
        2,
        3,
        7,
        9,
    }
    assert {v for (v,) in ex("SELECT id FROM vehicles WHERE household_id = ?", (home[0],))} == {
        1,
        2,
        5,
    }
    aliases = {
        a for (a,) in ex("SELECT label FROM household_aliases WHERE household_id = ?", (home[0],))
    }
    assert aliases == {"六栋二单元301", "6/2/301"}

    # 3-1-402 is the registry's room (its building was called 3栋): the same row, not a new one
    assert ex("SELECT room_id FROM households WHERE label = '3-1-402'").fetchone()[0] == 1
    assert ex("SELECT landlord_id FROM rooms WHERE id = 1").fetchone()[0] == 1
    assert ex("SELECT COUNT(*) FROM buildings WHERE name LIKE '3%'").fetchone()[0] == 1

    # a label that does not read is kept as it was, flagged, with its resident and vehicle
    office = ex("SELECT id, room_id, needs_review FROM households WHERE label = '物业办公室'")
    oid, room_id, flagged = office.fetchone()
    assert room_id is None and flagged == 1
    assert ex("SELECT household_id FROM residents WHERE id = 5").fetchone()[0] == oid

    # 12幢3单元1801室 became room 1801 of 12幢 3单元; its household was relabelled canonically
    assert find_flat(db.conn, "12-3-1801") is not None
    assert (
        ex("SELECT household_id FROM residents WHERE id = 6").fetchone()[0]
        == ex("SELECT id FROM households WHERE label = '12-3-1801'").fetchone()[0]
    )

    # groups in use are named; the form chooses from them
    groups = dict(ex("SELECT name, label FROM access_groups").fetchall())
    assert groups["residents"] == "住户" and groups["visitors"] == "访客"
    assert groups["cleaners"] == "cleaners"
    db.conn.close()


def test_an_empty_database_migrates_and_new_labels_land_in_rooms(db):
    with transaction(db) as conn:
        first = household_for_label(conn, "六栋二单元301", _now())
        second = household_for_label(conn, "6-2-301", _now())
        odd = household_for_label(conn, "门卫室", _now())
    assert first == second and odd != first
    row = db.execute("SELECT label, room_id, needs_review FROM households WHERE id = ?", [first])
    label, room_id, flagged = row.fetchone()
    assert label == "6-2-301" and room_id is not None and flagged == 0
    assert db.execute("SELECT needs_review FROM households WHERE id = ?", [odd]).fetchone()[0] == 1
    names = [b["name"] for b in tree(db.conn)]
    assert names == ["6幢"]


def test_deleting_refuses_what_is_in_use_and_says_why(db):
    now = _now()
    with transaction(db) as conn:
        hid = household_for_label(conn, "1-1-101", now)
        conn.execute(
            "INSERT INTO residents (household_id, name, created_at) VALUES (?, '', ?)", (hid, T)
        )
        empty = household_for_label(conn, "1-1-102", now)
    room_of = lambda h: db.execute("SELECT room_id FROM households WHERE id = ?", [h]).fetchone()[0]  # noqa: E731
    with pytest.raises(AddressError) as refused, transaction(db) as conn:
        delete_room(conn, room_of(hid))
    assert refused.value.code == "in_use" and "1 residents" in str(refused.value)
    with pytest.raises(AddressError), transaction(db) as conn:
        delete_household(conn, hid)
    with transaction(db) as conn:
        delete_room(conn, room_of(empty))
    assert db.execute("SELECT COUNT(*) FROM households WHERE id = ?", [empty]).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 1


def test_a_flagged_household_is_linked_to_its_room(db):
    now = _now()
    with transaction(db) as conn:
        odd = household_for_label(conn, "二号楼东边那户", now)
        conn.execute(
            "INSERT INTO vehicles (plate, kind, household_id, created_at)"
            " VALUES ('京A00001', 'resident', ?, ?)",
            (odd, T),
        )
        real = household_for_label(conn, "2-1-101", now)
        room = db.execute("SELECT room_id FROM households WHERE id = ?", [real]).fetchone()[0]
        kept = link_household(conn, odd, room, now)
    assert kept == real
    assert db.execute("SELECT household_id FROM vehicles").fetchone()[0] == real
    with transaction(db) as conn:
        assert household_for_label(conn, "二号楼东边那户", now) == real


def test_generate_rooms_makes_a_building_once(db):
    now = _now()
    with transaction(db) as conn:
        made = generate_rooms(
            conn,
            "3幢",
            parse_range("1-3", 1, 99, "units"),
            parse_range("1-18", 1, 200, "floors"),
            parse_range("1-4", 1, 99, "rooms"),
            now,
        )
    assert made == {"made": 216, "kept": 0}
    with transaction(db) as conn:
        again = generate_rooms(conn, "三幢", [1], [1, 2], [1], now)
    assert again == {"made": 0, "kept": 2}
    assert find_flat(db.conn, "3幢2单元1804") is not None
    with pytest.raises(AddressError):
        parse_range("3-1", 1, 99, "units")
    with pytest.raises(AddressError):
        parse_range("1-1000", 1, 200, "floors")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("6-2-301", "6-2-301"),
        ("六栋二单元301", "6-2-301"),
        ("3幢1单元402室", "3-1-402"),
        ("十二号楼3单元1801", "12-3-1801"),
        ("６－２－３０１", "6-2-301"),
        ("3-1-402a", "3-1-402A"),
        ("物业", None),
        ("0-1-101", None),
        ("", None),
        ("1-2", None),
    ],
)
def test_labels_read_as_flats(text, label):
    flat = parse_flat(text)
    assert (flat.label if flat else None) == label


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)
