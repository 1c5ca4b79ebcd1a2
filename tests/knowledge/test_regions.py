"""Region detection and the choice of a region's answer."""

from knowledge.regions import Region, resolve


def test_find_cities_provinces_and_districts(kb) -> None:
    g = kb.gazetteer
    assert g.find("广州黄埔区报装") == Region("广东", "广州")
    assert g.find("I live in Zhanjiang") == Region("广东", "湛江")
    assert g.find("廣州電價") == Region("广东", "广州")
    assert g.find("浙江的阶梯电价") == Region("浙江")
    assert g.find("电费多少") is None


def test_resolve_prefers_city_then_province_then_general(kb) -> None:
    tariff = kb.by_id["residential_tiered_tariff"]
    assert resolve(tariff, Region("广东", "广州")).answer.region == "广州"
    assert resolve(tariff, Region("广东", "湛江")).answer.region == "广东"
    assert resolve(tariff, Region("浙江", "金华")).answer.region == "浙江"
    general = resolve(tariff, None)
    assert general.answer is None and general.how == "general"


def test_unknown_region_is_reported(kb) -> None:
    result = resolve(kb.by_id["lv_time_limit"], Region("浙江", "杭州"))
    assert result.answer is None and result.unknown_region == "杭州"


def test_single_region_entry_is_said_to_be_that_regions(kb) -> None:
    result = resolve(kb.by_id["remaining_fees"], Region("广东", "广州"))
    assert result.how == "foreign" and not result.applies
    assert result.answer.region == "金华" and result.unknown_region == "广州"
    assert resolve(kb.by_id["remaining_fees"], None).how == "only"
    assert resolve(kb.by_id["remaining_fees"], Region("浙江", "金华")).applies
