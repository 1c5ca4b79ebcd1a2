"""Reading amounts, months and periods from messages."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.parsing import parse_chinese_number, parse_kwh, parse_month, parse_usage_period

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我家这个月用了350度电费多少", Decimal(350)),
        ("用电两百八十度要交多少钱", Decimal(280)),
        ("上个月用了520.5度", Decimal("520.5")),
        ("how much is 300 kWh", Decimal(300)),
        ("一年用了3000千瓦时", Decimal(3000)),
        ("用了一千二百度", Decimal(1200)),
        ("电费多少", None),
        ("用了0度", None),
    ],
)
def test_parse_kwh(text: str, expected) -> None:
    assert parse_kwh(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("三百五十", 350), ("两千零八十", 2080), ("十五", 15), ("一万二", 12000), ("一百零五", 105), ("abc", None)],
)
def test_parse_chinese_number(text: str, expected) -> None:
    assert parse_chinese_number(text) == expected


@given(st.integers(min_value=1, max_value=99999))
def test_digits_round_trip(value: int) -> None:
    assert parse_kwh(f"用了{value}度") == Decimal(value)


def test_parse_month() -> None:
    assert parse_month("这个月用了300度", TODAY) == 11
    assert parse_month("上个月用了300度", TODAY) == 10
    assert parse_month("8月份用了600度", TODAY) == 8
    assert parse_month("七月用了600度", TODAY) == 7
    assert parse_month("I used 300 kWh in August", TODAY) == 8
    assert parse_month("上个月", dt.date(2026, 1, 5)) == 12


def test_parse_usage_period() -> None:
    assert parse_usage_period("一年用了3000度") == "year"
    assert parse_usage_period("I use 3000 kWh a year") == "year"
    assert parse_usage_period("这个月用了300度") == "month"
