"""Which region a message names, and which answer of an entry fits a region.

Regions are data: `places.csv`, the kept gazetteer of every prefecture-level city of Guangdong
and Zhejiang with its districts and counties (written from cpca's division codes by
`tools.gazetteer`), and `regions.yml`, the other spellings residents use (Traditional,
English). Detection is a longest-match scan, so "广州黄埔" finds 广州, "义乌" finds 金华 and
"湛江市" finds 湛江.

An answer written for one region is never given to another as if it applied there: `resolve`
says how the answer was chosen, and `foreign` means "this is only X's rule".
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from knowledge.schema import NATIONAL, Answer, Entry


@dataclass(frozen=True)
class Region:
    """A place: a city with its province, or a province alone (city is None)."""

    province: str
    city: Optional[str] = None

    @property
    def name(self) -> str:
        return self.city or self.province


@dataclass(frozen=True)
class Resolution:
    """The answer chosen for a region, and how it was chosen."""

    answer: Optional[Answer]
    # exact | province | national: the answer applies to the region asked about;
    # only: no region asked, the entry's one answer is given as that region's;
    # foreign: another region was asked, the answer is given as "only X's rule";
    # general: the general rule (and a question for the city, or the unknown region named).
    how: str
    unknown_region: Optional[str] = None

    @property
    def applies(self) -> bool:
        """Whether the answer given is the rule of the region asked about (or of everywhere)."""
        return self.how in ("exact", "province", "national")


class Gazetteer:
    """Finds the first region named in a text."""

    def __init__(
        self,
        provinces: dict[str, list[str]],
        cities: dict[str, tuple[str, list[str]]],
        districts: Optional[dict[str, str]] = None,
    ):
        self._lookup: dict[str, Region] = {}
        self._display: dict[str, dict[str, str]] = {}
        for name, names in [*provinces.items(), *((c, n) for c, (_, n) in cities.items())]:
            latin = next((n for n in names if n.isascii()), name)
            hant = next((n for n in names if not n.isascii()), name)
            self._display[name] = {"zh_Hans": name, "zh_Hant": hant, "en": latin.title()}
        for province, names in provinces.items():
            for name in [province, f"{province}省", *names]:
                self._lookup[name.lower()] = Region(province)
        for district, city in (districts or {}).items():
            self._lookup[district.lower()] = Region(cities[city][0], city)
        for city, (province, names) in cities.items():
            for name in [city, f"{city}市", *names]:
                self._lookup[name.lower()] = Region(province, city)
        self._cities = {c: p for c, (p, _) in cities.items()}
        alternatives = sorted(self._lookup, key=len, reverse=True)
        self._pattern = re.compile(
            "|".join(
                rf"\b{re.escape(a)}\b" if a.isascii() else re.escape(a) for a in alternatives
            )
        )

    @classmethod
    def from_file(cls, path: Path, places: Optional[Path] = None) -> Gazetteer:
        """`regions.yml` (spellings) and the kept gazetteer beside it (`places.csv`)."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        provinces = {k: v.get("names", []) for k, v in data["provinces"].items()}
        cities = {k: (v["province"], v.get("names", [])) for k, v in data["cities"].items()}
        districts: dict[str, str] = {}
        places = places or path.with_name("places.csv")
        with places.open(encoding="utf-8") as handle:
            rows = csv.DictReader(line for line in handle if not line.startswith("#"))
            for row in rows:
                if row["level"] == "city":
                    cities.setdefault(row["city"], (row["province"], []))
                else:
                    districts[row["name"]] = row["city"]
                    if row["short"]:
                        districts[row["short"]] = row["city"]
        return cls(provinces, cities, districts)

    def find(self, text: str) -> Optional[Region]:
        """Returns the first region named in `text` (city before province when both appear)."""
        found = [self._lookup[m.group(0).lower()] for m in self._pattern.finditer(text.lower())]
        cities = [r for r in found if r.city]
        if cities:
            return cities[0]
        return found[0] if found else None

    def strip(self, text: str) -> str:
        """Removes place names, so that lexical matching compares what is asked, not where."""
        return self._pattern.sub(" ", text)

    def display(self, name: str, locale: str) -> str:
        """A region's name for buttons: Simplified, Traditional or its English spelling."""
        return self._display.get(name, {}).get(locale, name)

    def get(self, name: str) -> Optional[Region]:
        """Returns the region for an exact name (a button payload, a stored slot)."""
        return self._lookup.get(name.strip().lower()) if name else None

    @property
    def names(self) -> set[str]:
        return {r.name for r in self._lookup.values()}

    def level(self, name: str) -> Optional[str]:
        """How far a region name reaches: national (全国), province, city; None if unknown."""
        if name == NATIONAL:
            return "national"
        region = self._lookup.get(name.lower())
        if region is None or region.name != name:
            return None
        return "city" if region.city else "province"

    def cities(self, province: Optional[str] = None) -> list[str]:
        """Every prefecture-level city the gazetteer knows (of `province`)."""
        return sorted(c for c, p in self._cities.items() if province in (None, p))


def covers(answer: Answer, region: Region) -> bool:
    """Whether `answer` is the rule of `region`: its city, its province, or nationwide."""
    return answer.region in (NATIONAL, region.province, region.city)


def resolve(entry: Entry, region: Optional[Region]) -> Resolution:
    """Picks the entry's answer for `region`: city, then province, then national, else general."""
    by_region = {a.region: a for a in entry.answers}
    if region is not None:
        if region.city and region.city in by_region:
            return Resolution(by_region[region.city], "exact")
        if region.province in by_region:
            return Resolution(by_region[region.province], "province")
    if NATIONAL in by_region:
        return Resolution(by_region[NATIONAL], "national")
    if entry.general is not None or len(entry.answers) > 1:
        return Resolution(None, "general", unknown_region=region.name if region else None)
    # One region's answer and no general rule: said to be that region's, never another's.
    if region is None:
        return Resolution(entry.answers[0], "only")
    return Resolution(entry.answers[0], "foreign", unknown_region=region.name)
