"""Every answer as the resident reads it: no invented date, status stated, whose rule it is."""

from __future__ import annotations

import re

from actions import replies
from common.i18n import t
from knowledge.regions import Region, resolve

LOCALES = ("zh_Hans", "zh_Hant", "en")
INVENTED = ("2020年1月1日", "2021年1月1日", "2022年1月1日", "January 1, 2021", "January 1, 2020", "January 1, 2022")


def test_no_answer_shows_an_invented_date(kb) -> None:
    for entry in kb.entries:
        for answer in [*entry.answers, *([entry.general] if entry.general else [])]:
            for locale in LOCALES:
                text = replies.answer_text(answer, locale)
                assert not any(day in text for day in INVENTED), (entry.id, text)
                if answer.valid_from is None:
                    assert t("faq.source_undated", locale, source=replies.source_text(answer.source, locale)) in text


def test_every_target_reads_as_a_target_in_every_locale(kb) -> None:
    for entry in kb.entries:
        for answer in [*entry.answers, *([entry.general] if entry.general else [])]:
            for locale in LOCALES:
                status = replies.status_line(answer, locale)
                if answer.status == "target":
                    assert re.search(r"目标|目標|target", status), (entry.id, locale)
                else:
                    assert not re.search(r"目标|目標|target", status)


def test_every_foreign_answer_names_whose_rule_it_is(kb) -> None:
    """Every entry asked from every city: another region's answer always says so."""
    g = kb.gazetteer
    for entry in kb.entries:
        for province in ("广东", "浙江"):
            for city in g.cities(province):
                result = resolve(entry, Region(province, city))
                if result.answer is None or result.applies:
                    continue
                text = replies.only_region_text(result.answer, g, "zh_Hans", result.unknown_region)
                assert text.startswith(f"这一项我只有{result.answer.region}的规定：")
                assert f"{city}请以95598答复为准" in text
