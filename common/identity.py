"""Resident ID numbers (GB 11643-1999) and mainland mobile numbers: normalise and check.

Shared by the chat form (which re-asks with the reason) and the case API (which refuses a bad
value with 422), so both apply the same rules. The check character is computed here rather
than with `stdnum.cn.ric`, which raises `KeyError` on some inputs and refuses area codes it
does not know (DESIGN.md, runtime facts).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
ADULT_AGE = 18

# Why an ID number was refused; the form turns each into a catalog key `form.id.<problem>`.
ID_FORMAT = "format"
ID_CHECKSUM = "checksum"
ID_BIRTH_DATE = "birth_date"
ID_FUTURE = "future"
ID_MINOR = "minor"

_SEPARATORS = re.compile(r"[\s\-_.·]")
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d[\d \-]{15,21}[\dXx])(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s\-]?)?(1[3-9]\d(?:[\s\-]?\d){8})(?!\d)")


@dataclass(frozen=True)
class IdNumber:
    """A checked resident ID number."""

    value: str
    area_code: str
    birth_date: dt.date
    male: bool

    @property
    def last4(self) -> str:
        return self.value[-4:]


class IdNumberError(ValueError):
    """An ID number failed a check; `problem` is one of the ID_* constants."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def halfwidth(text: str) -> str:
    """Full-width digits and letters to ASCII (１２３ＡＢ → 123AB), via NFKC."""
    return unicodedata.normalize("NFKC", text)


def normalize_id(text: str) -> str:
    """Removes spaces and separators, makes digits half-width and a final x upper-case."""
    return _SEPARATORS.sub("", halfwidth(text)).upper()


def check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def _age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def parse_id_number(text: str, today: Optional[dt.date] = None, adult_age: int = ADULT_AGE) -> IdNumber:
    """Checks an ID number: shape, check character, real birth date, not future, adult.

    Raises `IdNumberError` naming the first check that failed.
    """
    today = today or dt.date.today()
    value = normalize_id(text)
    if not _ID_SHAPE.match(value):
        raise IdNumberError(ID_FORMAT)
    if check_character(value[:17]) != value[17]:
        raise IdNumberError(ID_CHECKSUM)
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise IdNumberError(ID_BIRTH_DATE) from exc
    if birth.year < 1900:
        raise IdNumberError(ID_BIRTH_DATE)
    if birth > today:
        raise IdNumberError(ID_FUTURE)
    if _age_on(birth, today) < adult_age:
        raise IdNumberError(ID_MINOR)
    return IdNumber(value=value, area_code=value[:6], birth_date=birth, male=int(value[16]) % 2 == 1)


def find_id_number(text: str) -> Optional[str]:
    """The first run in free text shaped like an ID number (18 characters once separators go)."""
    for match in _ID_IN_TEXT.finditer(halfwidth(text)):
        candidate = normalize_id(match.group(1))
        if len(candidate) == 18:
            return candidate
    return None


def normalize_mobile(text: str) -> Optional[str]:
    """An 11-digit mainland mobile number from `text` (+86, spaces and dashes allowed), else None."""
    value = re.sub(r"[\s\-()]", "", halfwidth(text))
    value = re.sub(r"^(?:\+?86|0086)(?=1\d{10}$)", "", value)
    return value if re.fullmatch(r"1[3-9]\d{9}", value) else None


def find_mobile(text: str) -> Optional[str]:
    """The first mainland mobile number in free text, normalised."""
    match = _MOBILE_IN_TEXT.search(halfwidth(text))
    return normalize_mobile(match.group(1)) if match else None
