"""Script detection and the NLU form of a message."""

import pytest

from common.scripts import EN, ZH_HANS, ZH_HANT, detect_locale, normalize_for_nlu, normalize_locale


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("低压报装要多久", None, ZH_HANS),
        ("低壓報裝要幾耐", None, ZH_HANT),
        ("點樣申請用電", ZH_HANS, ZH_HANT),
        ("你好", ZH_HANT, ZH_HANT),  # shared characters defer to the conversation's script
        ("How long does it take?", None, EN),
        ("What does 三零 mean for small businesses?", None, EN),
        ("😀😀", None, None),
        ("12345", ZH_HANT, ZH_HANT),
    ],
)
def test_detect_locale(text: str, hint, expected) -> None:
    assert detect_locale(text, hint) == expected


def test_cantonese_is_rewritten_for_nlu() -> None:
    assert normalize_for_nlu("電費點樣計") == "电费怎样计"
    assert normalize_for_nlu("要幾多錢") == "要多少钱"
    assert normalize_for_nlu("三零係咩") == "三零是什么"
    assert normalize_for_nlu("ＡＢＣ１２３") == "ABC123"  # full width folded


@pytest.mark.parametrize(
    ("value", "expected"),
    [("zh-CN", ZH_HANS), ("zh_TW", ZH_HANT), ("zh-Hant-HK", ZH_HANT), ("en-US", EN), ("fr", None), (None, None)],
)
def test_normalize_locale(value, expected) -> None:
    assert normalize_locale(value) == expected
