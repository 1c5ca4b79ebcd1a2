"""Working days: the statutory calendar with 调休, and the holiday file beyond its data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict

import pytest

from cases.app import build_app
from cases.workdays import (
    BASIS_FILE,
    BASIS_STATUTORY,
    HolidayFile,
    HolidayFileError,
    add_working_days,
    is_working_day,
    load_holiday_file,
    parse_holiday_data,
)
from common.settings import ROOT
from tests.cases.conftest import CHEN, Clock, application, make_settings, new_key, staff_client

D = dt.date
SHIPPED = load_holiday_file(ROOT / "cases" / "holidays.yml")
EMPTY = HolidayFile()


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Mid-Autumn 9-25..27 and National Day 10-1..7 of 2026; Sunday 9-20 and Saturday 10-10 are working days.
        (D(2026, 9, 19), 1, D(2026, 9, 20)),  # Saturday → the make-up Sunday
        (D(2026, 9, 24), 1, D(2026, 9, 28)),  # across Mid-Autumn
        (D(2026, 9, 30), 1, D(2026, 10, 8)),  # across National Day
        (D(2026, 9, 30), 3, D(2026, 10, 10)),  # the make-up Saturday counts
        (D(2026, 9, 30), 4, D(2026, 10, 12)),  # Sunday 10-11 does not
        (D(2026, 9, 28), 8, D(2026, 10, 14)),  # 9-29, 9-30, 10-8, 10-9, 10-10, 10-12, 10-13, 10-14
        (D(2026, 11, 24), 8, D(2026, 12, 4)),
        (D(2026, 12, 29), 2, D(2026, 12, 31)),
    ],
)
def test_statutory_calendar(start: dt.date, count: int, expected: dt.date) -> None:
    assert add_working_days(start, count, SHIPPED) == (expected, BASIS_STATUTORY)


def test_across_the_end_of_the_calendar_data() -> None:
    # 2026-12-31 is the last day chinese_calendar knows; 2027-01-01..03 come from the file.
    deadline = add_working_days(D(2026, 12, 30), 2, SHIPPED)
    assert deadline.day == D(2027, 1, 4)
    assert deadline.basis == BASIS_FILE
    # The basis says so even when the day only had to be skipped: Friday 1 January is a holiday.
    assert add_working_days(D(2026, 12, 30), 8, SHIPPED) == (D(2027, 1, 12), BASIS_FILE)


def test_without_a_holiday_file_weekdays_are_counted() -> None:
    assert add_working_days(D(2026, 12, 30), 2, EMPTY) == (D(2027, 1, 1), BASIS_FILE)
    assert add_working_days(D(2027, 2, 4), 1, EMPTY) == (D(2027, 2, 5), BASIS_FILE)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (D(2027, 1, 29), 1, D(2027, 1, 31)),  # estimated Spring Festival make-up Sunday
        (D(2027, 2, 4), 1, D(2027, 2, 15)),  # Spring Festival 2-5..13, Sunday 2-14
        (D(2027, 2, 19), 1, D(2027, 2, 20)),  # make-up Saturday
        (D(2027, 9, 30), 1, D(2027, 10, 8)),  # National Day 2027
        (D(2027, 9, 25), 1, D(2027, 9, 26)),  # make-up Sunday before it
        (D(2027, 6, 8), 1, D(2027, 6, 10)),  # Dragon Boat Wednesday
    ],
)
def test_2027_from_the_holiday_file(start: dt.date, count: int, expected: dt.date) -> None:
    assert add_working_days(start, count, SHIPPED) == (expected, BASIS_FILE)


def test_the_shipped_file_has_every_2027_statutory_day() -> None:
    statutory = [
        D(2027, 1, 1), D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8), D(2027, 4, 5),
        D(2027, 5, 1), D(2027, 5, 2), D(2027, 6, 9), D(2027, 9, 15), D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3),
    ]
    assert all(day in SHIPPED.holidays for day in statutory)
    assert all(day.weekday() >= 5 for day in SHIPPED.workdays)  # make-up days are weekend days


def test_the_library_wins_where_it_has_data() -> None:
    # A file claiming 2026-10-01 is a working day is ignored: chinese_calendar knows 2026.
    extra = parse_holiday_data({"workdays": [{"date": "2026-10-01"}]})
    assert is_working_day(D(2026, 10, 1), extra) == (False, False)


def test_zero_days_is_the_start_day() -> None:
    assert add_working_days(D(2026, 11, 24), 0, SHIPPED) == (D(2026, 11, 24), BASIS_STATUTORY)
    with pytest.raises(ValueError):
        add_working_days(D(2026, 11, 24), -1, SHIPPED)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"holidays": [{"date": "2027-13-01"}]}, r"holidays\[0\].date"),
        ({"holidays": [{"from": "2027-02-05"}]}, r"holidays\[0\]: needs"),
        ({"holidays": [{"from": "2027-02-05", "to": "2027-02-01"}]}, r"holidays\[0\]"),
        ({"holidays": "2027-01-01"}, "must be a list"),
        ({"holidays": [{"date": "2027-01-31"}], "workdays": [{"date": "2027-01-31"}]}, "both"),
    ],
)
def test_a_bad_holiday_file_names_the_entry(data: Dict[str, Any], message: str) -> None:
    with pytest.raises(HolidayFileError, match=message):
        parse_holiday_data(data, "holidays.yml")


def test_the_holiday_file_is_read_from_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "h.yml"
    path.write_text("holidays:\n  - {date: 2027-03-03, name: test}\n", encoding="utf-8")
    assert load_holiday_file(path).holidays == frozenset({D(2027, 3, 3)})
    assert load_holiday_file(tmp_path / "missing.yml") == HolidayFile(source=str(tmp_path / "missing.yml"))


def test_a_case_created_late_in_2026_says_where_its_deadline_came_from(tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2026, 12, 28, 2, 0, tzinfo=dt.timezone.utc))
    with staff_client(build_app(make_settings(tmp_path), clock=clock)) as client:
        case = client.post("/cases", json=application(CHEN), headers=new_key()).json()
    # 12-29, 12-30, 12-31, (1-1..1-3 holidays), 1-4, 1-5, 1-6, 1-7, 1-8.
    assert (case["deadline"], case["deadline_basis"]) == ("2027-01-08", BASIS_FILE)


def test_an_operator_holiday_file_moves_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yml"
    path.write_text("holidays:\n  - {from: 2027-01-04, to: 2027-01-08}\n", encoding="utf-8")
    clock = Clock(dt.datetime(2026, 12, 28, 2, 0, tzinfo=dt.timezone.utc))
    settings = make_settings(tmp_path, holidays_file=path, case_database_url=f"sqlite:///{tmp_path / 'other.db'}")
    with staff_client(build_app(settings, clock=clock)) as client:
        case = client.post("/cases", json=application(CHEN), headers=new_key()).json()
    # Only this file counts beyond 2026: 1-1 is a working Friday, 1-4..1-8 are off.
    # 12-29, 12-30, 12-31, 1-1, 1-11, 1-12, 1-13, 1-14.
    assert case["deadline"] == "2027-01-14"
