"""The assistant's own phrases, from gettext catalogs, and locale-aware formatting with babel.

Code passes a message key and values; the catalogs (`common/locale/<locale>/LC_MESSAGES/
messages.po`, compiled to .mo by `make setup`) hold the wording in zh_Hans, zh_Hant and en.
A key missing from a catalog falls back to zh_Hans, never to the raw key in production
wording; `missing_keys()` lets tests catch that before it ships.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as _format_date
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from common.scripts import EN, LOCALES, ZH_HANS, ZH_HANT

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# The babel locale used for number and date formatting of each of our locales.
BABEL_LOCALES = {ZH_HANS: "zh_Hans_CN", ZH_HANT: "zh_Hant_HK", EN: "en_US"}


class CatalogError(RuntimeError):
    """The compiled catalogs are missing: run `make setup` (pybabel compile)."""


def _check(locale: str) -> str:
    return locale if locale in LOCALES else ZH_HANS


@cache
def _translations(locale: str) -> NullTranslations:
    mo = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.exists():
        raise CatalogError(f"{mo} is missing: run `make setup` to compile the catalogs")
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


def t(key: str, locale: str, **values: Any) -> str:
    """Returns the phrase `key` in `locale`, with `{name}` placeholders filled from `values`."""
    locale = _check(locale)
    text = _translations(locale).gettext(key)
    if text == key and locale != ZH_HANS:
        text = _translations(ZH_HANS).gettext(key)
    return text.format(**values) if values else text


def catalog_keys(locale: str) -> set[str]:
    """Every key with a non-empty translation in the source catalog of `locale`."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    return {m.id for m in catalog if m.id and m.string}


def missing_keys() -> dict[str, set[str]]:
    """Keys present in one catalog but missing in another."""
    keys = {loc: catalog_keys(loc) for loc in LOCALES}
    union = set().union(*keys.values())
    return {loc: union - k for loc, k in keys.items() if union - k}


def babel_locale(locale: str) -> Locale:
    return Locale.parse(BABEL_LOCALES[_check(locale)])


def format_number(value: float | Decimal, locale: str, digits: int | None = None) -> str:
    """A number in the locale's style; `digits` fixes the decimals shown."""
    fmt = None if digits is None else ("#,##0." + "0" * digits if digits else "#,##0")
    return format_decimal(value, format=fmt, locale=babel_locale(locale))


def format_money(amount: float | Decimal, locale: str) -> str:
    """An amount in yuan: ¥213.65 in Chinese, CN¥213.65 in English."""
    return format_currency(amount, "CNY", locale=babel_locale(locale))


def format_day(value: dt.date, locale: str, style: str = "long") -> str:
    """A date in the locale's style ("2026年12月4日" / "December 4, 2026")."""
    return _format_date(value, format=style, locale=babel_locale(locale))
