"""What makes a secret acceptable, so that production never runs on a published or weak one.

`Settings.check` calls `problems` at start-up of every process. Malformed values (a Fernet
list with something that is not a Fernet key, a case API key without a known role) are
refused in every environment; outside development a placeholder from `DEV_SECRETS`, an
empty value or one shorter than `MIN_SECRET_CHARS` is refused too, each named in the error.
"""

from __future__ import annotations

import base64
import binascii
from typing import Dict, List, Mapping

# Fernet keys are 32 random bytes, 44 characters of URL-safe base64.
FERNET_LISTS = ("DATA_ENCRYPTION_KEYS", "CASE_DATA_ENCRYPTION_KEYS")
# `role:key` items; the roles the case API knows (cases/auth.py).
ROLE_LISTS = ("CASE_API_KEYS",)
CASE_API_ROLES = ("actions", "gateway", "staff")
# Comma-separated lists of plain secrets (the first in use, the others still accepted).
PLAIN_LISTS = ("CASE_FINGERPRINT_KEYS",)
MIN_SECRET_CHARS = 32
PLACEHOLDER_PREFIX = "change-me"
# The passphrase development used before key lists; the key derived from it is published too.
OLD_PLACEHOLDER = "change-me-data-encryption-key"


def is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32 and len(value) == 44
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return False


def items_of(name: str, value: str) -> List[str]:
    """The secret values a setting holds (a list's items; roles stripped)."""
    if name in FERNET_LISTS or name in ROLE_LISTS or name in PLAIN_LISTS:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if name in ROLE_LISTS:
            items = [item.partition(":")[2].strip() for item in items]
        return items
    return [value]


def placeholders(dev_secrets: Mapping[str, str]) -> set[str]:
    """Every published development value, and the key the old code derived from its placeholder."""
    from common.crypto import legacy_key  # noqa: PLC0415 - crypto imports settings, which imports this

    found = {item for name, value in dev_secrets.items() for item in items_of(name, value)}
    return found | {legacy_key(OLD_PLACEHOLDER)}


def _looks_placeholder(item: str, published: set[str]) -> bool:
    if item in published or item.lower().startswith(PLACEHOLDER_PREFIX):
        return True
    try:
        return base64.urlsafe_b64decode(item.encode("ascii")).startswith(PLACEHOLDER_PREFIX.encode())
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return False


def _malformed(name: str, value: str) -> List[str]:
    found: List[str] = []
    if name in FERNET_LISTS:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            found.append(f"{name} is empty")
        for index, item in enumerate(items, 1):
            if not is_fernet_key(item):
                found.append(f"{name} item {index} is not a Fernet key (44 characters of URL-safe base64)")
    if name in ROLE_LISTS:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            found.append(f"{name} is empty")
        for index, item in enumerate(items, 1):
            role, sep, key = item.partition(":")
            if not sep or role.strip() not in CASE_API_ROLES or not key.strip():
                found.append(f"{name} item {index} must be role:key with a role of {', '.join(CASE_API_ROLES)}")
    return found


def problems(secrets: Mapping[str, str], *, strict: bool) -> List[str]:
    """What is wrong with `secrets` (name → value); `strict` outside development."""
    from common.settings import DEV_SECRETS  # noqa: PLC0415 - settings imports this module lazily

    published = placeholders(DEV_SECRETS)
    found: List[str] = []
    for name, value in secrets.items():
        found += _malformed(name, value or "")
        if not strict:
            continue
        items = items_of(name, value or "")
        if not items or not all(items):
            found.append(f"{name} is empty")
            continue
        for index, item in enumerate(items, 1):
            label = name if len(items) == 1 else f"{name} item {index}"
            if _looks_placeholder(item, published):
                found.append(f"{label} is a published placeholder")
            elif len(item) < MIN_SECRET_CHARS:
                found.append(f"{label} is shorter than {MIN_SECRET_CHARS} characters")
    return found


def role_keys(value: str) -> Dict[str, List[str]]:
    """`CASE_API_KEYS` as role → its keys (malformed items are refused by `problems` first)."""
    keys: Dict[str, List[str]] = {}
    for item in value.split(","):
        role, sep, key = item.strip().partition(":")
        if sep and key.strip():
            keys.setdefault(role.strip(), []).append(key.strip())
    return keys
