"""The bill calculator splits usage over the tiers of the knowledge file."""

from decimal import Decimal

import pytest

from knowledge.tariff import TariffUnavailable, compute_bill, split_tiers


def test_split_tiers_bounds_are_inclusive() -> None:
    assert split_tiers(Decimal(200), (200, 400)) == [200, 0, 0]
    assert split_tiers(Decimal(401), (200, 400)) == [200, 200, 1]
    assert split_tiers(Decimal(0), (200, 400)) == [0, 0, 0]


def test_guangzhou_350_kwh_in_november(kb) -> None:
    bill = compute_bill(kb.tariffs, province="广东", city="广州", kwh=350, month=11)
    assert bill.season == "other" and bill.bounds == (200, 400)
    assert [(line.tier, line.kwh, line.amount) for line in bill.lines] == [
        (1, 200, Decimal("117.80")),
        (2, 150, Decimal("95.85")),
    ]
    assert bill.total == Decimal("213.65")
    assert bill.verified is False  # the Guangzhou price is marked ⚠


def test_summer_tiers_are_wider(kb) -> None:
    bill = compute_bill(kb.tariffs, province="广东", city="深圳", kwh=700, month=7)
    assert bill.bounds == (260, 600)
    assert [line.kwh for line in bill.lines] == [260, 340, 100]
    expected = Decimal("260") * Decimal("0.6629") + 340 * Decimal("0.7129") + 100 * Decimal("0.9629")
    assert abs(bill.total - expected) < Decimal("0.02")


def test_city_without_a_price_gets_kwh_only(kb) -> None:
    bill = compute_bill(kb.tariffs, province="广东", city="湛江", kwh=300, month=1)
    assert bill.total is None and all(line.price is None for line in bill.lines)


def test_zhejiang_counts_over_the_year(kb) -> None:
    bill = compute_bill(kb.tariffs, province="浙江", city="杭州", kwh=3000, month=7, usage_period="year")
    assert bill.period == "year" and bill.total == Decimal("1626.00")


def test_unknown_province(kb) -> None:
    with pytest.raises(TariffUnavailable):
        compute_bill(kb.tariffs, province="北京", city=None, kwh=100, month=1)
