"""Building replies: answer texts with their source line, region choices, buttons.

Every phrase comes from the gettext catalogs (`common.i18n.t`); these helpers only compose.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Dict, List, Optional

from actions.constants import APPLY_PAYLOAD, HUMAN_PAYLOAD
from common.i18n import format_day, t
from common.scripts import ZH_HANT, to_traditional
from knowledge.regions import Gazetteer
from knowledge.schema import Answer, Entry, Sourced

Button = Dict[str, str]


def source_text(source: str, locale: str) -> str:
    return to_traditional(source) if locale == ZH_HANT else source


def source_line(source: str, valid_from: Optional[dt.date], locale: str) -> str:
    """"来源：…（2020年12月11日起）", or "（发布日期不详）" when the source gives no date."""
    source = source_text(source, locale)
    if valid_from is None:
        return t("faq.source_undated", locale, source=source)
    return t("faq.source", locale, source=source, date=format_day(valid_from, locale))


def status_line(answer: Sourced, locale: str) -> str:
    """Whether the answer is a rule in force, a target with its deadline, or a past period."""
    if answer.status == "target":
        if answer.deadline is None:
            return t("faq.status_target_undated", locale)
        return t("faq.status_target", locale, deadline=format_day(answer.deadline, locale))
    if answer.status == "past" and answer.period is not None:
        return t("faq.status_past", locale, period=answer.period.get(locale))
    return t("faq.status_in_force", locale)


def answer_text(answer: Sourced, locale: str, body: Optional[str] = None) -> str:
    """The answer in `locale` (or `body`), what it states, its source and date, and the 95598
    note when unverified."""
    parts = [body if body is not None else answer.get(locale), status_line(answer, locale)]
    parts.append(source_line(answer.source, answer.valid_from, locale))
    if not answer.verified:
        parts.append(t("faq.unverified", locale))
    return "\n".join(parts)


def _without_region_prefix(text: str, names: List[str]) -> str:
    """"湛江：…" → "…": the phrase around it names the region already."""
    for name in names:
        match = re.match(rf"^{re.escape(name)}\s*[：:]\s*", text)
        if match:
            return text[match.end():]
    return text


def only_region_text(answer: Answer, gazetteer: Gazetteer, locale: str, asked: Optional[str]) -> str:
    """An answer that is one region's only, said to be that region's ("这一项我只有湛江的规定：…"),
    and, when the resident asked about another region, that theirs is for 95598 to answer."""
    region = gazetteer.display(answer.region, locale)
    body = _without_region_prefix(answer.get(locale), [region, answer.region])
    if asked:
        text = t("faq.only_region", locale, region=region, answer=body, asked=gazetteer.display(asked, locale))
    else:
        text = t("faq.only_region_unasked", locale, region=region, answer=body)
    return answer_text(answer, locale, body=text)


def faq_payload(entry: Entry, region: Optional[str] = None) -> str:
    """A button payload that selects `entry` (for `region`) when posted back as text."""
    if region:
        return f"/{entry.intent}" + json.dumps({"region": region}, ensure_ascii=False)
    return f"/{entry.intent}"


def region_payload(region: str) -> str:
    return "/inform_region" + json.dumps({"region": region}, ensure_ascii=False)


def region_buttons(entry: Entry, gazetteer: Gazetteer, locale: str) -> List[Button]:
    """One button per region the entry has an answer for."""
    return [
        {"title": gazetteer.display(a.region, locale), "payload": faq_payload(entry, a.region)}
        for a in entry.answers
    ]


def apply_button(locale: str) -> Button:
    return {"title": t("button.apply", locale), "payload": APPLY_PAYLOAD}


def human_button(locale: str) -> Button:
    return {"title": t("button.human", locale), "payload": HUMAN_PAYLOAD}
