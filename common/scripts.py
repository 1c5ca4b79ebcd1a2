"""Script and language handling: which locale a message is written in, and its NLU form.

Residents write Simplified Chinese, Traditional Chinese (often Cantonese), or English. The
NLU model is trained on Simplified text, so Traditional input is converted with OpenCC (t2s)
and common Cantonese words are rewritten to their Mandarin equivalents; the reply goes back
in the script the question was written in.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

ZH_HANS = "zh_Hans"
ZH_HANT = "zh_Hant"
EN = "en"
LOCALES = (ZH_HANS, ZH_HANT, EN)

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")

# Cantonese words (already in Simplified characters) and their Mandarin equivalents, longest first
# so that 点样 is rewritten before 点.
_CANTONESE = {
    "系咪": "是不是",
    "系咩": "是什么",
    "系唔系": "是不是",
    "点样": "怎样",
    "点解": "为什么",
    "几多钱": "多少钱",
    "几多": "多少",
    "几耐": "多久",
    "几时": "什么时候",
    "边度": "哪里",
    "边个": "哪个",
    "乜嘢": "什么",
    "咩嘢": "什么",
    "唔该": "谢谢",
    "多谢": "谢谢",
    "唔使": "不用",
    "唔系": "不是",
    "唔知": "不知道",
    "冇": "没有",
    "唔": "不",
    "咩": "什么",
    "嘅": "的",
    "喺": "在",
    "佢哋": "他们",
    "佢": "他",
    "俾": "给",
    "畀": "给",
    "啲": "些",
    "咗": "了",
    "嚟": "来",
    "睇": "看",
    "搞掂": "办好",
    "要几耐": "要多久",
}
_CANTONESE_RE = re.compile("|".join(sorted(map(re.escape, _CANTONESE), key=len, reverse=True)))
_CANTONESE_MARKERS = re.compile("[咩嘅喺冇唔佢啲咗嚟睇畀]|点样|几多|系咩|几耐")
# Sentence-final particles that carry tone, not meaning (㗎 is outside the BMP's main block).
_PARTICLES_RE = re.compile("[㗎喎噃啩囉嘞]")
# Enumeration commas join items written as one word elsewhere: 水、电、气 → 水电气.
_ENUM_COMMA_RE = re.compile(r"(?<=\S)、(?=\S)")
# Punctuation becomes a word break; ASCII brackets stay (Rasa's entity annotation uses them),
# and so do . and , between digits (amounts such as 520.5).
_PUNCT_RE = re.compile(r"[，。？！；：“”‘’「」『』《》【】（）…～~?!;]+|(?<!\d)[.,](?!\d)")


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t() -> OpenCC:
    return OpenCC("s2hk")


def to_simplified(text: str) -> str:
    """Converts Traditional characters to Simplified (OpenCC t2s)."""
    return _t2s().convert(text)


def to_traditional(text: str) -> str:
    """Converts Simplified characters to Traditional, Hong Kong usage (OpenCC s2hk)."""
    return _s2t().convert(text)


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def detect_locale(text: str, hint: str | None = None) -> str | None:
    """Returns the locale a message is written in, or `hint` when the text does not decide.

    Traditional wins when any character changes under t2s; Simplified CJK text defers to a
    Traditional hint because most characters are shared by both scripts; Latin words without
    CJK mean English. Digits, emoji and punctuation alone decide nothing.
    """
    cjk = len(_CJK_RE.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD_RE.findall(text))
    if cjk and latin > 3 * cjk and len(_LATIN_WORD_RE.findall(text)) >= 3:
        return EN  # an English question quoting a Chinese term: "What does 三零 mean?"
    if cjk:
        if to_simplified(text) != text:
            return ZH_HANT
        return ZH_HANT if hint == ZH_HANT else ZH_HANS
    if _LATIN_WORD_RE.search(text):
        return EN
    return hint


def normalize_for_nlu(text: str) -> str:
    """The text the NLU model sees: Simplified script, Cantonese words in Mandarin, NFKC width."""
    text = unicodedata.normalize("NFKC", text)
    simplified = to_simplified(text)
    if _CANTONESE_MARKERS.search(simplified):
        simplified = _CANTONESE_RE.sub(lambda m: _CANTONESE[m.group(0)], simplified)
    simplified = _PARTICLES_RE.sub("", simplified)
    simplified = _ENUM_COMMA_RE.sub("", simplified)
    simplified = _PUNCT_RE.sub(" ", simplified)
    return " ".join(simplified.split())


def normalize_locale(value: str | None) -> str | None:
    """Maps the many spellings of a locale (zh-CN, zh_TW, zh-Hant-HK, en-US…) to ours."""
    if not value:
        return None
    v = value.replace("-", "_").lower()
    if v.startswith("en"):
        return EN
    if v.startswith("zh"):
        if "hant" in v or v.endswith(("_tw", "_hk", "_mo")):
            return ZH_HANT
        return ZH_HANS
    return None
