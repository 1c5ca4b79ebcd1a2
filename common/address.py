"""Chinese addresses: parsed into province, city, district and detail with cpca, then checked.

Shared by the chat form (re-asks a vague address with an example) and the case API (stores
the normalised address with its area code). cpca resolves a district named without its city
(霞山区 → 广东省湛江市霞山区) and gives the 6-digit area code (adcode).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Dict, Iterable, Optional

from common.scripts import to_simplified

# Why an address was refused; the form turns each into a catalog key `form.address.<problem>`.
ADDRESS_VAGUE = "vague"
ADDRESS_OUTSIDE = "outside_area"

# A detail must name a street, road, village, building or number to find the place.
_DETAIL_MARKERS = re.compile(r"[0-9０-９路街道巷弄村镇乡号栋幢楼室组社区里坊院园苑庄屯]")
# Cities directly under the central government: cpca reports 市辖区 as their city.
_MUNICIPAL = "市辖区"


@dataclass(frozen=True)
class Address:
    """A normalised address."""

    province: str
    city: str
    district: str
    detail: str
    area_code: str
    text: str

    @property
    def city_code(self) -> str:
        """The city's area code (the district code with its last two digits 00)."""
        return self.area_code[:4] + "00" if self.area_code else ""

    @property
    def city_name(self) -> str:
        """The city without its 市 suffix (湛江市 → 湛江), the way residents name it."""
        return self.city.removesuffix("市")

    def display(self) -> str:
        city = "" if self.city in (_MUNICIPAL, self.province) else self.city
        return f"{self.province}{city}{self.district}{self.detail}"

    def as_dict(self) -> Dict[str, str]:
        return asdict(self)


class AddressError(ValueError):
    """An address failed a check; `problem` is ADDRESS_VAGUE or ADDRESS_OUTSIDE."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


@lru_cache(maxsize=1)
def _cpca():  # type: ignore[no-untyped-def]
    import cpca  # loads its data tables (pandas) on first use, not on import of this module

    return cpca


def _clean(value: object) -> str:
    return "" if value is None or value != value else str(value).strip()  # NaN != NaN


MAX_ADDRESS_READ = 300


def parse_address(text: str) -> Optional[Address]:
    """The address cpca reads in `text`, or None when it finds no province or city."""
    # Mainland addresses are registered in Simplified script: 湛江市赤坎區 reads as 湛江市赤坎区.
    # An address is at most 200 characters (the case API's limit); the rest is not read.
    text = to_simplified(re.sub(r"\s+", "", unicodedata.normalize("NFKC", (text or "")[:MAX_ADDRESS_READ])))
    if not text:
        return None
    frame = _cpca().transform([text])
    row = frame.iloc[0]
    province, city = _clean(row["省"]), _clean(row["市"])
    if not province or not city:
        return None
    return Address(
        province=province,
        city=city,
        district=_clean(row["区"]),
        detail=_clean(row["地址"]),
        area_code=_clean(row["adcode"]),
        text=text,
    )


def check_address(text: str, service_area: Iterable[str]) -> Address:
    """Parses and checks an address: precise enough to find, and inside the service area.

    Raises `AddressError(ADDRESS_VAGUE)` when the province, city, district or a street-level
    detail is missing, `AddressError(ADDRESS_OUTSIDE)` when the province is not served.
    """
    address = parse_address(text)
    if address is None:
        raise AddressError(ADDRESS_VAGUE)
    if address.province not in set(service_area):
        raise AddressError(ADDRESS_OUTSIDE)
    if not address.district or len(address.detail) < 2 or not _DETAIL_MARKERS.search(address.detail):
        raise AddressError(ADDRESS_VAGUE)
    return address
