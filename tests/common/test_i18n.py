"""The catalogs are complete and formatting follows the locale."""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from common.i18n import catalog_keys, format_day, format_money, missing_keys, t
from common.settings import ROOT


def test_every_key_is_translated_in_every_locale() -> None:
    assert missing_keys() == {}


def test_every_key_used_in_code_exists() -> None:
    used = set()
    for folder in ("actions", "bot", "common"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"""\bt\(\s*f?["']([a-z_]+\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    keys = catalog_keys("zh_Hans")
    assert used, "no keys found: the pattern is wrong"
    assert used - keys == set()


def test_placeholders_are_filled() -> None:
    assert t("faq.source", "en", source="S", date="D") == "Source: S (valid from D)"
    assert "{" not in t("faq.unknown_region", "zh_Hant", region="杭州")


def test_money_and_dates_follow_the_locale() -> None:
    assert format_money(Decimal("213.65"), "zh_Hans") == "¥213.65"
    assert format_money(Decimal("213.65"), "en") == "CN¥213.65"
    assert format_day(dt.date(2026, 12, 4), "zh_Hans") == "2026年12月4日"
    assert format_day(dt.date(2026, 12, 4), "en") == "December 4, 2026"


def test_unknown_locale_falls_back_to_simplified() -> None:
    assert t("button.human", "fr") == t("button.human", "zh_Hans")


def test_compiled_catalogs_exist() -> None:
    for locale in ("zh_Hans", "zh_Hant", "en"):
        assert Path(ROOT / "common" / "locale" / locale / "LC_MESSAGES" / "messages.mo").exists()
