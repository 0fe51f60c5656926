"""Personal data at rest: AES-GCM encryption and a keyed hash for exact search.

ID numbers, phones and face templates are stored only as ciphertext. The key lives in a
file *outside* the database (a copied or leaked database alone reveals nothing), created
0600 by the installer or on first use. One 32-byte master key is split by HKDF into a
separate encryption key and search-hash key, so a leaked search hash can't help decrypt.

Ciphertexts are bound to what they are (``purpose``, e.g. ``"registration.id_number"``,
``"face_template"``) through AES-GCM's associated data: a value moved to another column
or row kind fails to decrypt instead of being silently misread.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.errors import MenweiError, UserError
from edge.files import fsync_dir

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"  # ciphertext format: version byte | nonce | AES-GCM ciphertext+tag


class PiiKeyError(UserError):
    """The key file is missing, unreadable, the wrong size, or readable by others."""

    code = "pii_key"


class PiiDecryptError(MenweiError, ValueError):
    """A ciphertext did not decrypt: wrong key, wrong purpose, or tampered data."""


def create_key_file(path: Path) -> None:
    """Write a new random key, readable by the owner only; refuses to overwrite a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PiiKeyError(
            "%(path)s already exists; refusing to replace a key (data would be lost)",
            {"path": path},
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(path.parent)  # the key's name survives a power cut with its bytes


def load_key_file(path: Path, create: bool = False) -> bytes:
    """Read the master key; with ``create``, make one if the file does not exist yet."""
    if create and not path.exists():
        create_key_file(path)
    try:
        info = path.stat()
        key = path.read_bytes()
    except OSError as exc:
        raise PiiKeyError(
            "cannot read the key file %(path)s: %(error)s", {"path": path, "error": exc.strerror}
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PiiKeyError(
            "key file %(path)s is accessible to other users; chmod 600 it", {"path": path}
        )
    if len(key) != KEY_BYTES:
        raise PiiKeyError(
            "key file %(path)s must hold exactly %(n)s bytes", {"path": path, "n": KEY_BYTES}
        )
    return key


def derive_subkey(master: bytes, label: bytes) -> bytes:
    """A 32-byte key for one purpose (HKDF-SHA256 with ``label``) from a master key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


class PiiVault:
    """Encrypts, decrypts and search-hashes personal data with one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise PiiKeyError("master key must be %(n)s bytes", {"n": KEY_BYTES})
        self._aead = AESGCM(derive_subkey(master_key, b"menwei pii encryption v1"))
        self._search_key = derive_subkey(master_key, b"menwei pii search hash v1")

    @classmethod
    def from_key_file(cls, path: Path, create: bool = False) -> PiiVault:
        return cls(load_key_file(path, create))

    def encrypt(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return _VERSION + nonce + sealed

    def decrypt(self, ciphertext: bytes, purpose: str) -> bytes:
        if len(ciphertext) < 1 + NONCE_BYTES + 16 or ciphertext[:1] != _VERSION:
            raise PiiDecryptError("not a Menwei PII ciphertext")
        nonce, sealed = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, purpose.encode())
        except InvalidTag:
            raise PiiDecryptError(f"cannot decrypt {purpose}: wrong key or tampered data") from None

    def encrypt_text(self, text: str, purpose: str) -> bytes:
        return self.encrypt(text.encode("utf-8"), purpose)

    def decrypt_text(self, ciphertext: bytes, purpose: str) -> str:
        return self.decrypt(ciphertext, purpose).decode("utf-8")

    def search_hash(self, normalised_value: str, purpose: str) -> str:
        """Keyed hash for exact-match lookup (``WHERE id_hash = ?``) without decrypting.

        Callers normalise first (upper-case ID numbers, E.164 phones) so equal values hash
        equally; keyed, so the hash of a guessed ID number can't be computed without the key.
        """
        message = purpose.encode() + b"\x00" + normalised_value.encode("utf-8")
        return hmac.new(self._search_key, message, hashlib.sha256).hexdigest()
