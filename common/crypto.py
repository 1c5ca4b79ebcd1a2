"""Encryption of personal data at rest, and keyed fingerprints for looking it up.

ID numbers and phones are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from
`cryptography`) under `DATA_ENCRYPTION_KEY`, so a copied database file reveals nothing. To find
a record by ID number without decrypting every row, a keyed fingerprint (HMAC-SHA256 with a
key derived from the same secret) is stored beside the token.

`DATA_ENCRYPTION_KEY` is a Fernet key (`python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`). In development a placeholder is accepted and turned
into a key by hashing, so `make run` needs no set-up; `Settings.check` refuses it elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class DecryptionError(ValueError):
    """A stored token was not made with this key (wrong key, or tampered data)."""


def _fernet_key(secret: str) -> bytes:
    """The secret itself when it is a Fernet key, else a key derived from it (development)."""
    raw = secret.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(b"fernet:" + raw).digest())


class FieldCipher:
    """Encrypts and decrypts single text fields; fingerprints them for equality look-ups."""

    def __init__(self, secret: str):
        key = _fernet_key(secret)
        self._fernet = Fernet(key)
        self._mac_key = hashlib.sha256(b"fingerprint:" + key).digest()

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise DecryptionError("stored personal data cannot be decrypted with this key") from exc

    def fingerprint(self, value: str) -> str:
        """A stable keyed digest of `value` (hex): equal values give equal fingerprints."""
        return hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 of `message` under `secret`, hex (webhook signatures, status links)."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret: str, message: str, signature: str) -> bool:
    """Whether `signature` is `sign(secret, message)`, compared in constant time."""
    return hmac.compare_digest(sign(secret, message), signature or "")
