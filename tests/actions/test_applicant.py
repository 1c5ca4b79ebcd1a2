"""Reading application values out of messages: several at once, bare replies, refusals."""

from __future__ import annotations

import pytest

from actions.applicant import (
    CAPACITY_ENERGY_UNIT,
    CAPACITY_FORMAT,
    NAME_FORMAT,
    correction_field,
    looks_like_question,
    read_address,
    read_capacity,
    read_customer_type,
    read_id_number,
    read_name,
    read_phone,
    value_after_correction,
    wants_to_cancel,
)

AREA = ("广东省", "浙江省")
ID = "11010519491231002X"


def test_several_values_in_one_message() -> None:
    text = f"我叫张三，身份证{ID.lower()}，电话138 0013 8000，地址是湛江市赤坎区人民大道中28号"
    assert read_name(text, requested=False).value == "张三"
    assert read_id_number(text, requested=False)[0].value == ID
    assert read_phone(text, requested=False).value == "13800138000"
    assert read_address(text, requested=False, service_area=AREA)[0].value == "广东省湛江市赤坎区人民大道中28号"


@pytest.mark.parametrize("text", ["张三", "欧阳娜娜", "阿依古丽·买买提", "John Smith", "陳大文"])
def test_bare_names_when_asked(text: str) -> None:
    assert read_name(text, requested=True).value == text


@pytest.mark.parametrize("text", ["查电费", "好的", "办电要多久", "1234"])
def test_non_names_are_refused(text: str) -> None:
    assert read_name(text, requested=True).problem == NAME_FORMAT


def test_bare_values_count_only_for_the_field_asked() -> None:
    assert not read_name("张三", requested=False).found
    assert not read_capacity("8", requested=False).found
    assert read_capacity("8", requested=True).value == 8.0


def test_id_problems_are_named() -> None:
    assert read_id_number("110105194912310021", requested=True)[0].problem == "id_checksum"
    assert read_id_number("12345678", requested=True)[0].problem == "id_format"
    assert not read_id_number("8千瓦", requested=False)[0].found


def test_phone_is_not_read_inside_an_id_number() -> None:
    assert not read_phone("440802199001011380", requested=False).found


@pytest.mark.parametrize(
    ("text", "kw"), [("8千瓦", 8.0), ("10 kW", 10.0), ("160kVA", 160.0), ("二十千瓦", 20.0), ("大概15KW吧", 15.0)]
)
def test_capacities(text: str, kw: float) -> None:
    assert read_capacity(text, requested=True).value == kw


def test_kwh_is_refused_with_its_reason() -> None:
    assert read_capacity("350度", requested=True).problem == CAPACITY_ENERGY_UNIT
    assert read_capacity("很大", requested=True).problem == CAPACITY_FORMAT


def test_customer_types() -> None:
    assert read_customer_type("居民", requested=True).value == "resident"
    assert read_customer_type("开个小店", requested=True).value == "lv_business"
    assert read_customer_type("工厂要高压", requested=True).value == "hv"
    assert read_customer_type("x", requested=True, entity="hv").value == "hv"


def test_corrections_cancel_and_questions() -> None:
    assert correction_field("地址填错了") == "address"
    assert correction_field("电话写错了") == "phone"
    assert correction_field("身份证号输错了") == "id_number"
    assert correction_field("湛江市赤坎区人民大道中28号") is None
    assert value_after_correction("地址填错了，应该是湛江市霞山区海滨大道5号") == "湛江市霞山区海滨大道5号"
    assert wants_to_cancel("不办了") and wants_to_cancel("算了") and not wants_to_cancel("张三")
    assert looks_like_question("低压报装要多久") and not looks_like_question("湛江市赤坎区人民大道中28号")
