"""How a case's stages and deadline read, the same in every place that shows a case.

The receipt and status replies (`actions/receipts.py`), the signed status page
(`bot/status_pages.py`), the status pushes (`bot/notifier.py`) and the staff console
(`bot/staff/cases.py`) all name stages and write deadlines through these functions, so a
stage is called the same and a deadline is dated the same wherever a resident or a staff
member reads it. Stage names come from the case API (`stages[].names`), in the reader's
locale, falling back to Simplified and then to the key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, Optional

from common.i18n import format_day, t
from common.scripts import ZH_HANS

BASIS_ESTIMATED = "weekdays_and_holiday_file"  # cases/workdays.py BASIS_FILE


def stage_name(stage: Dict[str, Any], locale: str) -> str:
    """One stage's name in `locale` (the key itself when the case API gave no name)."""
    names = stage.get("names") or {}
    return str(names.get(locale) or names.get(ZH_HANS) or stage.get("key", ""))


def stage_name_of(stages: Iterable[Dict[str, Any]], key: Optional[str], locale: str) -> str:
    """The name of stage `key` among `stages` (the key when it is not among them)."""
    for stage in stages:
        if stage.get("key") == key:
            names = stage.get("names") or {}
            return str(names.get(locale) or names.get(ZH_HANS) or key)
    return str(key or "")


def stage_names(case: Dict[str, Any], locale: str) -> Dict[str, str]:
    return {str(s.get("key")): stage_name(s, locale) for s in case.get("stages") or []}


def deadline_day(day: dt.date, locale: str) -> str:
    """A deadline as a full date with its weekday: 2026年12月4日星期五."""
    return format_day(day, locale, "full")


def deadline_text(case: Dict[str, Any], locale: str) -> str:
    """The case's deadline as a full date, with a note when it is an estimate; "-" without one."""
    raw = case.get("deadline")
    if not raw:
        return "-"
    text = deadline_day(dt.date.fromisoformat(str(raw)[:10]), locale)
    if case.get("deadline_basis") == BASIS_ESTIMATED:
        text += t("case.deadline_estimated", locale)
    return text
