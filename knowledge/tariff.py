"""The residential bill calculator: splits a usage over the tiers of a region's tariff.

Every figure comes from `tariffs.yml`; this module only does arithmetic, so a price change
is an edit of that file. Money is computed in Decimal to avoid binary rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import List, Optional

from knowledge.schema import TariffBook, TariffRegion

CENT = Decimal("0.01")


class TariffUnavailable(LookupError):
    """The knowledge base has no tariff for that region."""


@dataclass(frozen=True)
class TierLine:
    tier: int
    kwh: Decimal
    price: Optional[Decimal]
    amount: Optional[Decimal]


@dataclass(frozen=True)
class Bill:
    province: str
    city: Optional[str]
    period: str  # month | year: how the tariff counts tiers
    season: str
    bounds: tuple[int, int]
    kwh: Decimal
    lines: List[TierLine]
    total: Optional[Decimal]  # None when no price is known for the place
    verified: bool
    source: str
    usage_period: str  # month | year: what the resident gave


def find_region(book: TariffBook, province: str) -> TariffRegion:
    for region in book.regions:
        if region.name == province:
            return region
    raise TariffUnavailable(province)


def split_tiers(kwh: Decimal, bounds: tuple[int, int]) -> List[Decimal]:
    """Splits `kwh` into the parts that fall in tiers 1, 2 and 3 (bounds are inclusive)."""
    first, second = Decimal(bounds[0]), Decimal(bounds[1])
    tier1 = min(kwh, first)
    tier2 = min(max(kwh - first, Decimal(0)), second - first)
    tier3 = max(kwh - second, Decimal(0))
    return [tier1, tier2, tier3]


def compute_bill(
    book: TariffBook,
    *,
    province: str,
    city: Optional[str],
    kwh: float | Decimal,
    month: int,
    usage_period: str = "month",
) -> Bill:
    """Computes the bill for `kwh` used in `month` at a place; prices only where known."""
    region = find_region(book, province)
    season = next(s for s in region.seasons if month in s.months)
    bounds = (season.bounds[0], season.bounds[1])
    usage = Decimal(str(kwh))
    parts = split_tiers(usage, bounds)
    prices: Optional[List[float]] = None
    verified = region.verified
    source = region.source
    if city and city in region.cities:
        prices = region.cities[city].prices
        verified = verified and region.cities[city].verified
        source = region.cities[city].source
    elif region.prices is not None:
        prices = region.prices
    lines: List[TierLine] = []
    total: Optional[Decimal] = Decimal(0) if prices else None
    for i, part in enumerate(parts):
        if part <= 0 and i > 0:
            continue
        price = Decimal(str(prices[i])) if prices else None
        amount = (part * price).quantize(CENT, ROUND_HALF_UP) if price is not None else None
        if amount is not None and total is not None:
            total += amount
        lines.append(TierLine(tier=i + 1, kwh=part, price=price, amount=amount))
    return Bill(
        province=province,
        city=city,
        period=region.period,
        season=season.key,
        bounds=bounds,
        kwh=usage,
        lines=lines,
        total=total.quantize(CENT, ROUND_HALF_UP) if total is not None else None,
        verified=verified,
        source=source,
        usage_period=usage_period,
    )
