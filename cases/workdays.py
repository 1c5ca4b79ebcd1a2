"""Working days by the Chinese statutory calendar, for case deadlines.

Time limits in the seeds are in working days (工作日), which in China are not simply Monday to
Friday: public holidays are bridged with make-up working days on weekends (调休).
`chinese_calendar` knows the published arrangements, but only up to the last year it ships
data for (2026 in version 1.11) and raises `NotImplementedError` after that. Deadlines of
cases created in late 2026 run into 2027, so beyond the library's data we count weekdays,
minus the holidays and plus the make-up days of an operator-maintained YAML file
(`HOLIDAYS_FILE`, default `cases/holidays.yml`), and say so in the deadline's basis.

Everything here is pure: the holiday file is loaded once and passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, FrozenSet, Iterable, Iterator, NamedTuple, Optional, Tuple

import chinese_calendar
import yaml

BASIS_STATUTORY = "statutory_calendar"
BASIS_FILE = "weekdays_and_holiday_file"


class HolidayFileError(ValueError):
    """The holiday file is unreadable or an entry is malformed (the message names both)."""


@dataclass(frozen=True)
class HolidayFile:
    """Holidays and make-up working days for the days chinese_calendar does not cover."""

    holidays: FrozenSet[dt.date] = field(default_factory=frozenset)
    workdays: FrozenSet[dt.date] = field(default_factory=frozenset)
    source: str = "<none>"


class Deadline(NamedTuple):
    """The last day of a time limit and how it was counted."""

    day: dt.date
    basis: str


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise HolidayFileError(f"{where}: {value!r} is not a YYYY-MM-DD date") from exc


def _entry_days(entry: Any, where: str) -> Iterator[dt.date]:
    """The days of one entry: `{date: D}` or `{from: D1, to: D2}` (inclusive)."""
    if not isinstance(entry, dict):
        raise HolidayFileError(f"{where}: expected a mapping with `date` or `from`/`to`")
    if "date" in entry:
        yield _as_date(entry["date"], f"{where}.date")
        return
    if "from" not in entry or "to" not in entry:
        raise HolidayFileError(f"{where}: needs `date`, or both `from` and `to`")
    start, end = _as_date(entry["from"], f"{where}.from"), _as_date(entry["to"], f"{where}.to")
    if end < start or (end - start).days > 31:
        raise HolidayFileError(f"{where}: `to` must be on or after `from`, at most 31 days later")
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def _collect(entries: Any, name: str, source: str) -> FrozenSet[dt.date]:
    if entries is None:
        return frozenset()
    if not isinstance(entries, list):
        raise HolidayFileError(f"{source}: `{name}` must be a list")
    days: set[dt.date] = set()
    for index, entry in enumerate(entries):
        days.update(_entry_days(entry, f"{source}: {name}[{index}]"))
    return frozenset(days)


def parse_holiday_data(data: Any, source: str = "<data>") -> HolidayFile:
    """Builds a `HolidayFile` from the YAML structure (`holidays:` and `workdays:` lists)."""
    if data is None:
        return HolidayFile(source=source)
    if not isinstance(data, dict):
        raise HolidayFileError(f"{source}: expected a mapping with `holidays` and `workdays`")
    holidays = _collect(data.get("holidays"), "holidays", source)
    workdays = _collect(data.get("workdays"), "workdays", source)
    both = holidays & workdays
    if both:
        raise HolidayFileError(f"{source}: {min(both)} is listed both as a holiday and as a working day")
    return HolidayFile(holidays=holidays, workdays=workdays, source=source)


def load_holiday_file(path: Optional[Path]) -> HolidayFile:
    """Reads the holiday file; a missing path gives an empty file (weekdays only)."""
    if path is None or not Path(path).exists():
        return HolidayFile(source=str(path))
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HolidayFileError(f"{path}: cannot read: {exc}") from exc
    return parse_holiday_data(data, str(path))


def is_working_day(day: dt.date, extra: HolidayFile) -> Tuple[bool, bool]:
    """Whether `day` is a working day, and whether the answer came from the holiday file."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        pass
    if day in extra.workdays:
        return True, True
    if day in extra.holidays:
        return False, True
    return day.weekday() < 5, True


def working_days_after(start: dt.date, extra: HolidayFile) -> Iterator[Tuple[dt.date, bool]]:
    """The working days after `start`, in order, each with whether the file decided it."""
    day = start
    from_file = False
    while True:
        day += dt.timedelta(days=1)
        working, decided_by_file = is_working_day(day, extra)
        from_file = from_file or decided_by_file
        if working:
            yield day, from_file


def add_working_days(start: dt.date, count: int, extra: HolidayFile) -> Deadline:
    """The `count`-th working day after `start` (the day after `start` is the first candidate).

    The basis is `weekdays_and_holiday_file` when any day counted or skipped on the way was
    beyond chinese_calendar's data, else `statutory_calendar`. `count` 0 gives `start` itself.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if count == 0:
        _, from_file = is_working_day(start, extra)
        return Deadline(start, BASIS_FILE if from_file else BASIS_STATUTORY)
    for index, (day, from_file) in enumerate(working_days_after(start, extra), start=1):
        if index == count:
            return Deadline(day, BASIS_FILE if from_file else BASIS_STATUTORY)
    raise AssertionError("unreachable")  # pragma: no cover - the generator never ends


def working_days(days: Iterable[dt.date], extra: HolidayFile) -> int:
    """How many of `days` are working days (a helper for reports and tests)."""
    return sum(1 for day in days if is_working_day(day, extra)[0])
