"""Typed models of the knowledge files; a bad file fails naming the file and the field."""

from __future__ import annotations

import datetime as dt
from typing import List, Optional

from pydantic import BaseModel, Field, root_validator, validator

CATEGORIES = (
    "process",
    "documents",
    "time_limits",
    "costs",
    "services",
    "reliability",
    "tariffs",
    "account",
    "contact",
    "insurance",
)
SCOPES = ("national", "province", "city")
NATIONAL = "全国"
MIN_ZH_QUESTIONS = 8
MIN_EN_QUESTIONS = 3


class _Strict(BaseModel):
    class Config:
        extra = "forbid"
        allow_population_by_field_name = True
        anystr_strip_whitespace = True


class LocalizedText(_Strict):
    """A text in the three locales the assistant speaks."""

    zh_Hans: str = Field(..., alias="zh-Hans", min_length=1)
    zh_Hant: str = Field(..., alias="zh-Hant", min_length=1)
    en: str = Field(..., min_length=1)

    def get(self, locale: str) -> str:
        return {"zh_Hans": self.zh_Hans, "zh_Hant": self.zh_Hant, "en": self.en}.get(
            locale, self.zh_Hans
        )


class Questions(_Strict):
    """How residents ask about a topic; the NLU examples are generated from these."""

    zh_Hans: List[str] = Field(..., alias="zh-Hans")
    en: List[str] = Field(...)

    @validator("zh_Hans")
    def _enough_zh(cls, value: List[str]) -> List[str]:
        if len(set(value)) < MIN_ZH_QUESTIONS:
            raise ValueError(f"needs at least {MIN_ZH_QUESTIONS} distinct zh-Hans questions")
        return value

    @validator("en")
    def _enough_en(cls, value: List[str]) -> List[str]:
        if len(set(value)) < MIN_EN_QUESTIONS:
            raise ValueError(f"needs at least {MIN_EN_QUESTIONS} distinct en questions")
        return value


class Sourced(LocalizedText):
    """An answer text with where it comes from and since when it holds."""

    source: str = Field(..., min_length=2)
    source_ref: str = Field(..., regex=r"^(seed-00[0-4]|secondary|[a-z0-9-]+)$")
    valid_from: dt.date
    verified: bool


class Answer(Sourced):
    """The answer for one region (a city, a province, or 全国)."""

    region: str = Field(..., min_length=2)


class Entry(_Strict):
    """One topic of the knowledge base."""

    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    category: str
    scope: str
    title: LocalizedText
    questions: Questions
    answers: List[Answer] = Field(..., min_items=1)
    general: Optional[Sourced] = None

    @validator("category")
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
        return value

    @validator("scope")
    def _known_scope(cls, value: str) -> str:
        if value not in SCOPES:
            raise ValueError(f"unknown scope {value!r}; one of {', '.join(SCOPES)}")
        return value

    @root_validator(skip_on_failure=True)
    def _general_when_regional(cls, values: dict) -> dict:
        regions = [a.region for a in values["answers"]]
        if len(set(regions)) != len(regions):
            raise ValueError("answers: a region appears twice")
        if len(regions) > 1 and values.get("general") is None:
            raise ValueError("general: required when answers cover more than one region")
        return values

    @property
    def intent(self) -> str:
        return f"faq_{self.id}"

    @property
    def regions(self) -> List[str]:
        return [a.region for a in self.answers]


class Season(_Strict):
    """Months that share tier bounds; `bounds` are the inclusive upper kWh of tiers 1 and 2."""

    key: str
    months: List[int] = Field(..., min_items=1)
    bounds: List[int] = Field(..., min_items=2, max_items=2)


class CityPrices(_Strict):
    """Per-kWh prices of tiers 1-3 where a city's price differs or is the only one known."""

    prices: List[float] = Field(..., min_items=3, max_items=3)
    verified: bool
    source: str


class TariffRegion(_Strict):
    """A province's residential tiered tariff, as the bill calculator uses it."""

    name: str
    period: str = Field(..., regex="^(month|year)$")
    source: str
    source_ref: str
    valid_from: dt.date
    verified: bool
    seasons: List[Season] = Field(..., min_items=1)
    prices: Optional[List[float]] = Field(None, min_items=3, max_items=3)
    cities: dict[str, CityPrices] = Field(default_factory=dict)

    @root_validator(skip_on_failure=True)
    def _every_month_once(cls, values: dict) -> dict:
        months = sorted(m for season in values["seasons"] for m in season.months)
        if months != list(range(1, 13)):
            raise ValueError("seasons: every month 1-12 must appear exactly once")
        return values


class TariffBook(_Strict):
    """The whole `tariffs.yml`."""

    regions: List[TariffRegion] = Field(..., min_items=1)
