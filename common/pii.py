"""Personal-data masking: the one place that knows how ID numbers and phones are hidden.

`mask_text` is applied to every log record by `PiiFilter`, installed in every process by
`common.logs.configure_logging`, so a message text that slips into a log is still masked.
"""

from __future__ import annotations

import logging
import re

# An 18-character resident ID (the last may be X), or the old 15-digit form.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")


def mask_id(value: str) -> str:
    """Masks a resident ID number, keeping the first 4 and last 4 characters: 4408**********0027."""
    value = value.strip()
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """Masks a mobile number, keeping the first 3 and last 4 digits: 138****5678."""
    digits = re.sub(r"\D", "", value)[-11:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    """Masks every ID number and mobile number found in free text."""
    if not text:
        return text

    def _id(match: re.Match[str]) -> str:
        return mask_id(match.group(0))

    def _phone(match: re.Match[str]) -> str:
        return mask_phone(match.group(0))

    text = _ID_RE.sub(_id, text)
    return _PHONE_RE.sub(_phone, text)


class PiiFilter(logging.Filter):
    """Rewrites each record's message with ID numbers and phones masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
