"""Which region a message names, and which answer of an entry fits a region.

Regions are data (`regions.yml`): the cities and provinces residents name, with their other
spellings. Detection is a longest-match scan, so "广州黄埔" finds 广州 and "湛江市" finds 湛江.
"""

from __future__ import annotations

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
    how: str  # exact | province | national | only | general
    unknown_region: Optional[str] = None


class Gazetteer:
    """Finds the first region named in a text."""

    def __init__(self, provinces: dict[str, list[str]], cities: dict[str, tuple[str, list[str]]]):
        self._lookup: dict[str, Region] = {}
        self._display: dict[str, dict[str, str]] = {}
        for name, names in [*provinces.items(), *((c, n) for c, (_, n) in cities.items())]:
            latin = next((n for n in names if n.isascii()), name)
            hant = next((n for n in names if not n.isascii()), name)
            self._display[name] = {"zh_Hans": name, "zh_Hant": hant, "en": latin.title()}
        for province, names in provinces.items():
            for name in [province, f"{province}省", *names]:
                self._lookup[name.lower()] = Region(province)
        for city, (province, names) in cities.items():
            for name in [city, f"{city}市", *names]:
                self._lookup[name.lower()] = Region(province, city)
        alternatives = sorted(self._lookup, key=len, reverse=True)
        self._pattern = re.compile(
            "|".join(
                rf"\b{re.escape(a)}\b" if a.isascii() else re.escape(a) for a in alternatives
            )
        )

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        provinces = {k: v.get("names", []) for k, v in data["provinces"].items()}
        cities = {k: (v["province"], v.get("names", [])) for k, v in data["cities"].items()}
        return cls(provinces, cities)

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
    if len(entry.answers) == 1:
        return Resolution(entry.answers[0], "only")
    return Resolution(None, "general", unknown_region=region.name if region else None)
