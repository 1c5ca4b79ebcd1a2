"""Everything the case service's functions need besides a session, built once per app.

`build_app` makes one `CaseContext` from settings; routes hand it to the data functions, and
tests build it with their own clock, registry or holiday file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Optional

from cases.processes import Catalog
from cases.registry import Registry
from cases.sms import SmsSender
from cases.timelimits import WorkCalendar
from cases.workdays import HolidayFile
from common.crypto import FieldCipher
from common.settings import Settings

# China keeps one time zone and no daylight saving: case numbers and deadlines use its date.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CaseContext:
    settings: Settings
    cipher: FieldCipher
    catalog: Catalog
    holidays: HolidayFile
    registry: Registry
    # Texts the status check's one-time codes (cases/sms.py); None when none may be used.
    sms: Optional[SmsSender] = None
    clock: Callable[[], dt.datetime] = utc_now
    # Called after a commit that queued webhook deliveries (wakes the dispatcher early).
    on_events: Callable[[], None] = field(default=lambda: None)
    _calendar: Optional[WorkCalendar] = field(default=None, repr=False)

    @property
    def calendar(self) -> WorkCalendar:
        """Working-day arithmetic over `holidays` (built on first use, then kept)."""
        if self._calendar is None:
            self._calendar = WorkCalendar(self.holidays)
        return self._calendar

    def now(self) -> dt.datetime:
        """Now, aware, in UTC."""
        return self.clock().astimezone(dt.timezone.utc)

    def now_naive(self) -> dt.datetime:
        """Now in UTC without tzinfo, as stored."""
        return self.now().replace(tzinfo=None)

    def today_in_china(self) -> dt.date:
        return self.now().astimezone(CHINA_TZ).date()
