"""A stage's time-limit clock: working days used and left, its deadline, and its light.

Staff watch each open case's current stage against its share of the process's time limit
(`stage_limits` in processes.yml), counted in working days of the case API's calendar
(`cases.workdays`, 调休 included): green while on time, amber from 80 % of the limit used,
red once the stage deadline has passed. A stage that waits on the customer (their own works,
`waits_on: customer`) stops the clock: it shows no light but green and raises no warning.

Counting goes through `WorkCalendar`, which keeps a running count of working days per date,
so "working days between two dates" is a subtraction and a queue page of 200 cases, or the
clocks of 10 000 cases, costs microseconds per case. Pure: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Dict, List

from cases.workdays import HolidayFile, is_working_day

GREEN, AMBER, RED = "green", "amber", "red"
LIGHTS = (GREEN, AMBER, RED)
AMBER_SHARE = 0.8
RUNNING, WAITING_ON_RESIDENT = "running", "waiting_on_resident"
_EPOCH = dt.date(2020, 1, 1)
_GROW_DAYS = 366


class WorkCalendar:
    """Working-day arithmetic over a growing running count (from 2020-01-01 on)."""

    def __init__(self, extra: HolidayFile):
        self._extra = extra
        self._cumulative: List[int] = []  # working days in [epoch, epoch + index]
        self._working: List[int] = []  # ordinals (days since epoch) of the working days

    def _grow_to(self, index: int) -> None:
        while len(self._cumulative) <= index:
            start = len(self._cumulative)
            total = self._cumulative[-1] if self._cumulative else 0
            for offset in range(start, start + _GROW_DAYS):
                if is_working_day(_EPOCH + dt.timedelta(days=offset), self._extra)[0]:
                    total += 1
                    self._working.append(offset)
                self._cumulative.append(total)

    def _count_to(self, day: dt.date) -> int:
        index = (day - _EPOCH).days
        if index < 0:
            raise ValueError(f"{day} is before {_EPOCH}, the calendar's first day")
        self._grow_to(index)
        return self._cumulative[index]

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (negative when `end` < `start`)."""
        return self._count_to(end) - self._count_to(start)

    def add(self, start: dt.date, count: int) -> dt.date:
        """The `count`-th working day after `start` (`start` itself for 0)."""
        if count <= 0:
            return start
        target = self._count_to(start) + count  # the target-th working day since the epoch
        while len(self._working) < target:
            self._grow_to(len(self._cumulative) + _GROW_DAYS - 1)
        return _EPOCH + dt.timedelta(days=self._working[target - 1])


@dataclass(frozen=True)
class StageClock:
    """Where a stage stands against its time limit on `today`."""

    stage: str
    waits_on: str
    started_on: dt.date
    time_limit_working_days: int
    stage_deadline: dt.date
    amber_on: dt.date
    working_days_used: int
    today: dt.date

    @property
    def running(self) -> bool:
        return self.waits_on != "customer"

    @property
    def working_days_left(self) -> int:
        return self.time_limit_working_days - self.working_days_used

    @property
    def light(self) -> str:
        return light_of(self.waits_on, self.stage_deadline, self.amber_on, self.today)

    def as_dict(self) -> Dict[str, Any]:
        """The `clock` object of the Case JSON and of the staff queue."""
        return {
            "stage": self.stage,
            "light": self.light,
            "clock": RUNNING if self.running else WAITING_ON_RESIDENT,
            "waits_on": self.waits_on,
            "stage_started_on": self.started_on.isoformat(),
            "time_limit_working_days": self.time_limit_working_days,
            "working_days_used": self.working_days_used,
            "working_days_left": self.working_days_left if self.running else None,
            "stage_deadline": self.stage_deadline.isoformat() if self.running else None,
        }


def amber_count(limit: int) -> int:
    """Working days used at which a stage turns amber: 80 % of its limit, rounded up."""
    return math.ceil(AMBER_SHARE * limit - 1e-9)


def light_of(waits_on: str, stage_deadline: dt.date, amber_on: dt.date, today: dt.date) -> str:
    """The light; the queue computes the same expression in SQL (`cases.clocks.light_expression`)."""
    if waits_on == "customer":
        return GREEN
    if today > stage_deadline:
        return RED
    if today >= amber_on:
        return AMBER
    return GREEN


def stage_clock(
    stage: str, waits_on: str, started_on: dt.date, limit: int, today: dt.date, calendar: WorkCalendar
) -> StageClock:
    """The clock of a stage that began on `started_on` (a date in China) with `limit` working days."""
    return StageClock(
        stage=stage,
        waits_on=waits_on,
        started_on=started_on,
        time_limit_working_days=limit,
        stage_deadline=calendar.add(started_on, limit),
        amber_on=calendar.add(started_on, amber_count(limit)),
        working_days_used=max(0, calendar.between(started_on, today)),
        today=today,
    )
