"""Building replies: answer texts with their source line, region choices, buttons.

Every phrase comes from the gettext catalogs (`common.i18n.t`); these helpers only compose.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional

from actions.constants import APPLY_PAYLOAD, HUMAN_PAYLOAD
from common.i18n import format_day, t
from common.scripts import ZH_HANT, to_traditional
from knowledge.regions import Gazetteer
from knowledge.schema import Entry, Sourced

Button = Dict[str, str]


def answer_text(answer: Sourced, locale: str) -> str:
    """The answer in `locale`, its source and date, and the 95598 note when unverified."""
    parts = [answer.get(locale)]
    source = to_traditional(answer.source) if locale == ZH_HANT else answer.source
    parts.append(t("faq.source", locale, source=source, date=format_day(answer.valid_from, locale)))
    if not answer.verified:
        parts.append(t("faq.unverified", locale))
    return "\n".join(parts)


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
