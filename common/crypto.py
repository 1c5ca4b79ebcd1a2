"""Encryption of personal data at rest, and keyed fingerprints for looking it up.

ID numbers and phones are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from
`cryptography`), so a copied database file reveals nothing. Keys come as lists for rotation
(`MultiFernet`): the first key encrypts, every key decrypts, and `tools/rotate_keys.py`
re-encrypts stored data under the first. The assistant (`DATA_ENCRYPTION_KEYS`) and the case
API (`CASE_DATA_ENCRYPTION_KEYS`) have separate keys. Every key must be a real Fernet key
(`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`;
`make run` generates them); nothing is derived from a passphrase any more. Data sealed by the
old code under a passphrase stays readable by listing `legacy_key(passphrase)` after the
current key and running the rotation.

To find a record by ID number without decrypting every row, a keyed fingerprint (HMAC-SHA256)
is stored beside the token, under a separate fingerprint key (`CASE_FINGERPRINT_KEYS`: the
first computes, all match, the rotation recomputes stored ones).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from common.settings import Settings


class DecryptionError(ValueError):
    """A stored token was not made with any of these keys (wrong key, or tampered data)."""


def legacy_key(passphrase: str) -> str:
    """The Fernet key the code before key lists derived from a non-key `DATA_ENCRYPTION_KEY`."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"fernet:" + passphrase.encode()).digest()).decode()


class FieldCipher:
    """Encrypts and decrypts single text fields; fingerprints them for equality look-ups."""

    def __init__(self, keys: Sequence[str], fingerprint_keys: Sequence[str] = ()):
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        self._mac_keys = [hashlib.sha256(b"fingerprint:" + key.encode()).digest() for key in fingerprint_keys]

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise DecryptionError("stored personal data cannot be decrypted with these keys") from exc

    def rotate(self, token: str) -> str:
        """The token re-encrypted under the first key (DecryptionError when no key reads it)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError) as exc:
            raise DecryptionError("stored personal data cannot be decrypted with these keys") from exc

    def fingerprint(self, value: str) -> str:
        """A stable keyed digest of `value` (hex) under the first fingerprint key."""
        return self.fingerprints(value)[0]

    def fingerprints(self, value: str) -> list[str]:
        """`value`'s digest under every fingerprint key, the current one first (for matching)."""
        if not self._mac_keys:
            raise ValueError("no fingerprint key configured")
        return [hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest() for key in self._mac_keys]


def assistant_cipher(settings: Settings) -> FieldCipher:
    """The cipher of the application database, the form's slots and Rasa's tracker store."""
    return FieldCipher(settings.secret_list("DATA_ENCRYPTION_KEYS"))


def case_cipher(settings: Settings) -> FieldCipher:
    """The case API's cipher: its own Fernet keys and fingerprint keys."""
    return FieldCipher(settings.secret_list("CASE_DATA_ENCRYPTION_KEYS"), settings.secret_list("CASE_FINGERPRINT_KEYS"))


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 of `message` under `secret`, hex (webhook signatures, status links)."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret: str, message: str, signature: str) -> bool:
    """Whether `signature` is `sign(secret, message)`, compared in constant time."""
    return hmac.compare_digest(sign(secret, message), signature or "")
