"""Typed models of the knowledge files; a bad file fails naming the file and the field."""

from __future__ import annotations

import datetime as dt
import re
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
# How far one answer reaches: the region it names is a city, a province, or the whole country.
COVERS = ("city", "province", "national")
# What an answer states: a rule or practice in force, a target (目标) with its deadline, or a
# past period (穗岁康 2023年度, whose enrolment has ended).
STATUSES = ("in_force", "target", "past")
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
    """An answer text with where it comes from, since when it holds, and what it states.

    `valid_from` is a date the source itself gives, or absent (shown as 发布日期不详); never
    a guessed first of January. A `target` carries its `deadline` where the source gives one
    and must read as a target in every locale; a `past` answer names its `period`.
    """

    source: str = Field(..., min_length=2)
    source_ref: str = Field(..., regex=r"^(seed-00[0-4]|secondary|[a-z0-9-]+)$")
    valid_from: Optional[dt.date] = None
    verified: bool
    status: str
    deadline: Optional[dt.date] = None
    period: Optional[LocalizedText] = None

    @validator("status")
    def _known_status(cls, value: str) -> str:
        if value not in STATUSES:
            raise ValueError(f"unknown status {value!r}; one of {', '.join(STATUSES)}")
        return value

    @root_validator(skip_on_failure=True)
    def _status_reads_as_stated(cls, values: dict) -> dict:
        status = values["status"]
        if values.get("deadline") is not None and status != "target":
            raise ValueError("deadline: only a target has one")
        if status == "past" and values.get("period") is None:
            raise ValueError("period: a past answer names the period it was about")
        if status == "target":
            missing = [
                locale
                for locale, word in (("zh_Hans", "目标"), ("zh_Hant", "目標"), ("en", "target"))
                if word not in values[locale].lower()
            ]
            if missing:
                raise ValueError(
                    f"status: a target must read as a target (目标/目標/target) in {', '.join(missing)}"
                )
        if status == "in_force" and re.search(r"\d{4}年底前|年底前(?:实现|压减)", values["zh_Hans"]):
            raise ValueError("status: a deadline (…年底前) is a target: set status: target and its deadline")
        return values


class Answer(Sourced):
    """The answer for one region (a city, a province, or 全国)."""

    region: str = Field(..., min_length=2)
    covers: str

    @validator("covers")
    def _known_cover(cls, value: str) -> str:
        if value not in COVERS:
            raise ValueError(f"unknown covers {value!r}; one of {', '.join(COVERS)}")
        return value

    @root_validator(skip_on_failure=True)
    def _national_is_national(cls, values: dict) -> dict:
        if (values["region"] == NATIONAL) != (values["covers"] == "national"):
            raise ValueError(f"covers: {NATIONAL} and only {NATIONAL} covers national")
        return values


def _general_is_general(general: Sourced, answers: List[Answer]) -> None:
    """Refuses a general answer that is really one region's: it opens with a region's name
    ("湛江：…"), repeats one region's answer, or names only one region while the entry has no
    nationwide answer."""
    regions = [a.region for a in answers if a.region != NATIONAL]
    opening = re.match(r"^([^：:，,。]{2,8})[：:]", general.zh_Hans)
    if opening and opening.group(1) in regions:
        raise ValueError(f"general: opens as {opening.group(1)}'s answer ({opening.group(0)}…)")
    if any(general.zh_Hans == a.zh_Hans for a in answers if a.region != NATIONAL):
        raise ValueError("general: repeats one region's answer")
    named = [r for r in regions if r in general.zh_Hans]
    if len(regions) > 1 and len(named) == 1 and NATIONAL not in [a.region for a in answers]:
        raise ValueError(f"general: names only {named[0]}; a general answer is the rule every region shares")


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
        general = values.get("general")
        if general is not None:
            _general_is_general(general, values["answers"])
        for answer in values["answers"]:
            if answer.covers != "city":
                prefix = re.match(r"^([^：:，,。]{2,8})[：:]", answer.zh_Hans)
                others = {a.region for a in values["answers"]} - {answer.region}
                if prefix and prefix.group(1) not in (answer.region, NATIONAL) and prefix.group(1) not in others:
                    raise ValueError(
                        f"answers: the {answer.covers} answer for {answer.region} is written as "
                        f"{prefix.group(1)}'s ({prefix.group(0)}…)"
                    )
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
    valid_from: Optional[dt.date] = None  # a date the source gives, else absent (发布日期不详)
    verified: bool
    status: str = Field(..., regex="^(in_force|target|past)$")
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
