"""Staff hours (`STAFF_HOURS`): when a person can answer a hand-off.

The default is round the clock (95598 is staffed day and night). An operator may set
`HH:MM-HH:MM` (every day) or `workdays HH:MM-HH:MM` (working days by the statutory calendar,
holidays and make-up days (调休) included, from `cases/workdays.py` and `HOLIDAYS_FILE`).
Times are China Standard Time. Outside the hours a hand-off waits in the queue, the resident
is told when someone will answer, and the bot keeps helping meanwhile.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

from cases.workdays import HolidayFile, is_working_day, load_holiday_file

CHINA = ZoneInfo("Asia/Shanghai")
_SPEC = re.compile(r"^\s*(?:(workdays)\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
ALWAYS = ("", "always", "24/7", "24x7")


class StaffHoursError(ValueError):
    """STAFF_HOURS is not `HH:MM-HH:MM` or `workdays HH:MM-HH:MM`."""


@dataclass(frozen=True)
class StaffHours:
    start: Optional[dt.time] = None  # None: round the clock
    end: Optional[dt.time] = None
    workdays_only: bool = False
    holidays: HolidayFile = field(default_factory=HolidayFile)

    @classmethod
    def parse(cls, spec: str, holidays_file: Optional[Path] = None) -> StaffHours:
        if spec.strip().lower() in ALWAYS:
            return cls()
        match = _SPEC.match(spec)
        if not match:
            raise StaffHoursError(f"STAFF_HOURS must be HH:MM-HH:MM or 'workdays HH:MM-HH:MM', got {spec!r}")
        workdays, h1, m1, h2, m2 = match.groups()
        try:
            start, end = dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2))
        except ValueError as exc:
            raise StaffHoursError(f"STAFF_HOURS has an impossible time: {spec!r}") from exc
        if start >= end:
            raise StaffHoursError(f"STAFF_HOURS must start before it ends: {spec!r}")
        holidays = load_holiday_file(holidays_file) if workdays and holidays_file else HolidayFile()
        return cls(start, end, bool(workdays), holidays)

    @property
    def round_the_clock(self) -> bool:
        return self.start is None

    def _day_open(self, day: dt.date) -> bool:
        return not self.workdays_only or is_working_day(day, self.holidays)[0]

    def is_open(self, now: dt.datetime) -> bool:
        if self.start is None or self.end is None:
            return True
        local = now.astimezone(CHINA)
        return self._day_open(local.date()) and self.start <= local.time() < self.end

    def next_open(self, now: dt.datetime) -> dt.datetime:
        """When staff are next on duty (now, if they are)."""
        if self.start is None or self.is_open(now):
            return now
        local = now.astimezone(CHINA)
        day = local.date()
        if local.time() >= self.start:  # today's hours are over (or today is a day off)
            day += dt.timedelta(days=1)
        for _ in range(60):  # the longest run of days off (Spring Festival) is far shorter
            if self._day_open(day):
                return dt.datetime.combine(day, self.start, CHINA)
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, self.start, CHINA)
