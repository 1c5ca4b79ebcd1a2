"""GB 11643 ID numbers and mobile numbers (property-based), and address checks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.address import ADDRESS_OUTSIDE, ADDRESS_VAGUE, AddressError, check_address
from common.identity import (
    ID_BIRTH_DATE,
    ID_CHECKSUM,
    ID_FORMAT,
    ID_FUTURE,
    ID_MINOR,
    IdNumberError,
    check_character,
    find_id_number,
    normalize_mobile,
    parse_id_number,
)

TODAY = dt.date(2026, 11, 24)
AREAS = st.sampled_from(["440802", "330702", "440106", "110105", "999999"])
BIRTHS = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2008, 11, 24))
SEQUENCES = st.integers(min_value=0, max_value=999)


def make_id(area: str, birth: dt.date, sequence: int) -> str:
    first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


@given(AREAS, BIRTHS, SEQUENCES)
def test_every_well_formed_adult_id_is_accepted(area: str, birth: dt.date, sequence: int) -> None:
    value = make_id(area, birth, sequence)
    checked = parse_id_number(value, today=TODAY)
    assert checked.value == value and checked.birth_date == birth
    assert checked.male == (sequence % 2 == 1)


@given(AREAS, BIRTHS, SEQUENCES, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_caught(area: str, birth: dt.date, sequence: int, pos: int, delta: int) -> None:
    value = make_id(area, birth, sequence)
    changed = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1:]
    # The weights are all non-zero mod 11, so changing one digit always changes the check.
    with pytest.raises(IdNumberError) as info:
        parse_id_number(changed, today=TODAY)
    assert info.value.problem in {ID_CHECKSUM, ID_BIRTH_DATE, ID_FUTURE, ID_MINOR}


@given(AREAS, BIRTHS, SEQUENCES)
def test_full_width_spaces_and_lowercase_x_are_normalised(area: str, birth: dt.date, sequence: int) -> None:
    value = make_id(area, birth, sequence)
    messy = " ".join([value[:6], value[6:14], value[14:]]).translate(
        str.maketrans("0123456789X", "０１２３４５６７８９x")
    )
    assert parse_id_number(messy, today=TODAY).value == value
    assert find_id_number(f"我的身份证是{messy}，谢谢") == value


def test_known_check_characters() -> None:
    assert check_character("11010519491231002") == "X"
    assert parse_id_number("11010519491231002x", today=TODAY).value == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1101051949123100", ID_FORMAT),
        ("11010519491231002A", ID_FORMAT),
        ("110105194912310021", ID_CHECKSUM),
        (make_id("440802", dt.date(2000, 1, 1), 1)[:10] + "0230" + "0011", ID_BIRTH_DATE),
        (make_id("440802", dt.date(2027, 1, 1), 1), ID_FUTURE),
        (make_id("440802", dt.date(2010, 1, 1), 1), ID_MINOR),
    ],
)
def test_refusals_name_the_reason(value: str, problem: str) -> None:
    if problem == ID_BIRTH_DATE:  # give the impossible date a valid check character
        value = value[:17] + check_character(value[:17])
    with pytest.raises(IdNumberError) as info:
        parse_id_number(value, today=TODAY)
    assert info.value.problem == problem


def test_eighteenth_birthday_is_adult() -> None:
    assert parse_id_number(make_id("440802", dt.date(2008, 11, 24), 1), today=TODAY)
    with pytest.raises(IdNumberError):
        parse_id_number(make_id("440802", dt.date(2008, 11, 25), 1), today=TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("13800138000", "13800138000"), ("+86 138-0013-8000", "13800138000"), ("１３８００１３８０００", "13800138000"),
     ("12800138000", None), ("1380013800", None), ("02012345678", None)],
)
def test_mobile_numbers(text: str, expected) -> None:  # noqa: ANN001
    assert normalize_mobile(text) == expected


def test_addresses_parse_and_check() -> None:
    address = check_address("湛江市赤坎区人民大道中28号", ["广东省"])
    parts = (address.province, address.city, address.district, address.area_code)
    assert parts == ("广东省", "湛江市", "赤坎区", "440802")
    assert address.city_code == "440800"
    assert check_address("霞山区海滨大道5号", ["广东省"]).city == "湛江市"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("我家", ADDRESS_VAGUE), ("湛江市", ADDRESS_VAGUE), ("湛江市赤坎区", ADDRESS_VAGUE),
     ("北京市朝阳区建国路1号", ADDRESS_OUTSIDE), ("", ADDRESS_VAGUE)],
)
def test_address_refusals(text: str, problem: str) -> None:
    with pytest.raises(AddressError) as info:
        check_address(text, ["广东省", "浙江省"])
    assert info.value.problem == problem
