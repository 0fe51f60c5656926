"""PII vault: round trips, purpose binding, tamper detection, key-file hygiene."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.pii import PiiDecryptError, PiiKeyError, PiiVault, create_key_file, load_key_file

VAULT = PiiVault(bytes(range(32)))


@given(st.text(max_size=200))
def test_text_round_trip_and_ciphertext_hides_the_value(text):
    sealed = VAULT.encrypt_text(text, "registration.phone")
    assert VAULT.decrypt_text(sealed, "registration.phone") == text
    if len(text) >= 4:
        assert text.encode() not in sealed


def test_same_value_encrypts_differently_but_hashes_equally():
    a = VAULT.encrypt_text("13800138000", "phone")
    b = VAULT.encrypt_text("13800138000", "phone")
    assert a != b
    assert VAULT.search_hash("13800138000", "phone") == VAULT.search_hash("13800138000", "phone")
    assert VAULT.search_hash("13800138000", "phone") != VAULT.search_hash("13800138000", "id")


def test_wrong_purpose_wrong_key_and_tampering_are_refused():
    sealed = VAULT.encrypt_text("320102199001011234", "id_number")
    with pytest.raises(PiiDecryptError):
        VAULT.decrypt_text(sealed, "phone")
    with pytest.raises(PiiDecryptError):
        PiiVault(bytes(32)).decrypt_text(sealed, "id_number")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(PiiDecryptError):
        VAULT.decrypt_text(flipped, "id_number")
    with pytest.raises(PiiDecryptError):
        VAULT.decrypt(b"short", "id_number")


def test_key_file_is_created_private_and_never_replaced(tmp_path):
    path = tmp_path / "keys" / "pii.key"
    first = load_key_file(path, create=True)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_key_file(path) == first
    with pytest.raises(PiiKeyError, match="refusing"):
        create_key_file(path)


def test_bad_key_files_are_refused(tmp_path):
    with pytest.raises(PiiKeyError, match="cannot read"):
        load_key_file(tmp_path / "missing.key")
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 5)
    os.chmod(short, 0o600)
    with pytest.raises(PiiKeyError, match="exactly 32"):
        load_key_file(short)
    open_key = tmp_path / "open.key"
    open_key.write_bytes(b"x" * 32)
    os.chmod(open_key, 0o644)
    with pytest.raises(PiiKeyError, match="chmod 600"):
        load_key_file(open_key)
