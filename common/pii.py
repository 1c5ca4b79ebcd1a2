"""Personal-data masking: the one place that knows how ID numbers and phones are hidden.

`mask_text` is applied to every log record by `PiiFilter`, installed in every process by
`common.logs.configure_logging`, so a message text that slips into a log is still masked.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Iterator, Tuple

# The shapes the form accepts (common/identity.py): ASCII or full-width digits, the digits
# grouped by spaces (ideographic ones too) or dashes, e.g. `440802 19800312 0310`,
# `４４０８０２…`, `138-0013-8000`, `+86 138 0013 8000`. Every repetition is bounded, so a
# long run of digits costs linear time.
_D = "[0-9\uff10-\uff19]"
_SEP = "[ \t\u3000\\-\uff0d\u2010-\u2014]{0,2}"
# An 18-character resident ID (the last may be X), or the old 15-digit form.
_ID_RE = re.compile(
    f"(?<!{_D}){_D}(?:{_SEP}{_D}){{16}}{_SEP}[0-9Xx\uff10-\uff19\uff38\uff58](?!{_D})"
    f"|(?<!{_D}){_D}(?:{_SEP}{_D}){{14}}(?!{_D})"
)
_PHONE_RE = re.compile(
    f"(?<!{_D})(?:[+\uff0b]?(?:86|\uff18\uff16){_SEP})?[1\uff11]{_SEP}[3-9\uff13-\uff19](?:{_SEP}{_D}){{9}}(?!{_D})"
)


def _compact(value: str) -> str:
    """The value's digits (and X) in ASCII, separators gone."""
    return re.sub(r"[^0-9X]", "", unicodedata.normalize("NFKC", value).upper())


_CASE_NUMBER_SHAPE = re.compile(r"\d{6}-\d{8}-\d{4}")


def _is_case_number(raw: str) -> bool:
    """A case number (`440800-20261124-0001`) has an ID's shape; it is told apart by the check
    character it lacks (a dashed 6-8-4 run whose check character is right counts as an ID)."""
    from common.identity import check_character

    plain = unicodedata.normalize("NFKC", raw)
    if not _CASE_NUMBER_SHAPE.fullmatch(plain):
        return False
    digits = plain.replace("-", "")
    return check_character(digits[:17]) != digits[17]


def find_ids(text: str) -> Iterator[Tuple[int, int, str]]:
    """(start, end, compact value) of each ID number in `text`, in any accepted form."""
    for match in _ID_RE.finditer(text):
        if not _is_case_number(match.group(0)):
            yield match.start(), match.end(), _compact(match.group(0))


def find_phones(text: str) -> Iterator[Tuple[int, int, str]]:
    """(start, end, 11-digit number) of each mainland mobile number in `text`."""
    for match in _PHONE_RE.finditer(text):
        yield match.start(), match.end(), _compact(match.group(0))[-11:]


def mask_id(value: str) -> str:
    """Masks a resident ID number, keeping the first 4 and last 4 characters: 4408**********0027."""
    value = _compact(value) or value.strip()
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """Masks a mobile number, keeping the first 3 and last 4 digits: 138****5678."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))[-11:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    """Masks every ID number and mobile number found in free text."""
    if not text:
        return text

    def _id(match: re.Match[str]) -> str:
        return match.group(0) if _is_case_number(match.group(0)) else mask_id(match.group(0))

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
