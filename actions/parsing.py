"""Pure helpers that read amounts, months and periods out of a resident's message.

The NLU model does not see digit runs (CountVectorsFeaturizer rewrites them to __NUMBER__),
so quantities are read here with regular expressions and a small Chinese-numeral parser.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Optional

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
# Digit runs are bounded and must start where the run starts (the look-behinds), so a long run
# of digits is scanned once, not once per position (a 10 000-digit message costs microseconds).
_CN_CHARS = "零〇一二两三四五六七八九十百千万"
_CN_NUMBER = f"(?<![{_CN_CHARS}])[{_CN_CHARS}]{{1,12}}"
_DECIMAL = r"(?<![\d.,])\d{1,12}(?:[.,]\d{1,6})?"
_KWH_UNIT = r"(?:度电|度|千瓦时|千瓦小时|kwh|kw·h|kw h|kilowatt[- ]?hours?|units?|degrees?)"
_KWH_RE = re.compile(rf"({_DECIMAL}|{_CN_NUMBER})\s{{0,3}}{_KWH_UNIT}", re.IGNORECASE)
_BARE_NUMBER_RE = re.compile(r"(?<![\d.])(\d{1,12}(?:\.\d{1,6})?)")
_MONTH_RE = re.compile(rf"((?<!\d)\d{{1,2}}|{_CN_NUMBER})\s{{0,3}}月")
_EN_YEAR = r"\b(a|per|one|this|last) year\b|\byearly\b|\bannual"
_EN_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}


def parse_chinese_number(text: str) -> Optional[int]:
    """Parses 三百五十, 两千零八十, 一万二 and plain digit strings; None if it is not a number."""
    if text.isdigit():
        return int(text) if len(text) <= 18 else None
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10000:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (1 if digit is None else digit) * unit
                digit = None
        else:
            return None
    result = total + section + (digit or 0)
    # 一万二 means 12000: a trailing digit after 万 counts in thousands.
    if text.endswith(tuple(_DIGITS)) and "万" in text and not text.endswith("零" + text[-1]):
        tail = text.split("万", 1)[1]
        if len(tail) == 1:
            result = total + _DIGITS[tail] * 1000
    return result


def parse_kwh(text: str) -> Optional[Decimal]:
    """The amount of energy a message names, in kWh (350度, 三百五十度, 300 kWh)."""
    match = _KWH_RE.search(text)
    raw = match.group(1) if match else None
    if raw is None:
        return None
    raw = raw.replace(",", ".") if raw.count(",") == 1 and len(raw.split(",")[1]) != 3 else raw.replace(",", "")
    try:
        value = Decimal(raw) if raw[0].isdigit() else Decimal(parse_chinese_number(raw) or 0)
    except InvalidOperation:
        return None
    return value if value > 0 else None


def parse_month(text: str, today: dt.date) -> int:
    """The month a usage belongs to: 这个月, 上个月, 8月, August; this month by default."""
    lowered = text.lower()
    if any(w in text for w in ("上个月", "上月")) or "last month" in lowered:
        return 12 if today.month == 1 else today.month - 1
    match = _MONTH_RE.search(text)
    if match:
        value = parse_chinese_number(match.group(1))
        if value and 1 <= value <= 12:
            return value
    for name, number in _EN_MONTHS.items():
        if re.search(rf"\b{name}[a-z]*\b", lowered):
            return number
    if any(w in text for w in ("夏天", "夏季")) or "summer" in lowered:
        return 7
    if any(w in text for w in ("冬天", "冬季")) or "winter" in lowered:
        return 1
    return today.month


def parse_usage_period(text: str) -> str:
    """`year` when the usage is for a whole year (一年用了…, 全年), else `month`."""
    lowered = text.lower()
    if re.search(r"(一年|全年|今年|去年|年用电|每年|一整年)", text) or re.search(_EN_YEAR, lowered):
        return "year"
    return "month"
