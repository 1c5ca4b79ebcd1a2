"""Pure helpers of the Telegram front end: splitting, escaping, locale mapping, callback tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram import store
from bot.telegram.render import (
    MAX_TEXT,
    chat_of,
    escape,
    locale_of_language_code,
    sender_of,
    split_text,
    utf16_len,
)
from common.db import create_all, make_engine, make_session_factory, session_scope
from tests.telegram.emulator import parse_html


def test_short_text_is_one_chunk() -> None:
    assert split_text("你好。") == ["你好。"]
    assert split_text("") == [""]


def test_split_prefers_sentence_ends() -> None:
    text = "第一句话。" * 10 + "第二段！" * 10
    chunks = split_text(text, limit=23)
    assert all(utf16_len(c) <= 23 for c in chunks)
    assert all(c.endswith(("。", "！")) for c in chunks)
    assert "".join(chunks) == text


def test_split_keeps_decimals_and_breaks_at_newlines() -> None:
    text = "电价0.5元每度 还有更多的内容\n第二行内容在这里"
    chunks = split_text(text, limit=20)
    assert chunks[0] == "电价0.5元每度 还有更多的内容"
    assert chunks[1] == "第二行内容在这里"


def test_one_sentence_longer_than_the_limit_is_cut_hard() -> None:
    chunks = split_text("长" * 5000)
    assert [len(c) for c in chunks] == [MAX_TEXT, 5000 - MAX_TEXT]


def test_split_counts_utf16_units() -> None:
    chunks = split_text("😀" * 3000)  # 2 units each
    assert all(utf16_len(c) <= MAX_TEXT for c in chunks) and "".join(chunks) == "😀" * 3000


@given(st.text(alphabet=st.sampled_from(list("电费。！？.!? \nab1😀")), max_size=3000), st.integers(10, 200))
def test_split_never_exceeds_the_limit_or_loses_words(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(utf16_len(c) <= limit for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


@pytest.mark.parametrize("text", ["<b>粗体</b> & 1 < 2 > 0", 'a "quoted" \'x\'', "&amp; literally", "</i>"])
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse_html(escape(text)) == text


@pytest.mark.parametrize(
    ("code", "locale"),
    [("zh-hans", "zh_Hans"), ("zh-CN", "zh_Hans"), ("zh", "zh_Hans"), ("zh-hant", "zh_Hant"), ("zh-HK", "zh_Hant"),
     ("zh-TW", "zh_Hant"), ("en", "en"), ("en-GB", "en"), ("ru", None), (None, None)],
)
def test_language_codes(code: str, locale: str) -> None:
    assert locale_of_language_code(code) == locale


def test_sender_ids() -> None:
    assert sender_of(42) == "tg:42" and chat_of("tg:42") == 42
    assert chat_of("web-1") is None and chat_of("tg:x") is None


def test_callback_tokens(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    sessions = make_session_factory(engine)
    long_payload = '/inform{"region": "' + "湛江" * 20 + '"}'
    with session_scope(sessions) as session:
        short = store.callback_data("/faq_fees", session=session)
        token = store.callback_data(long_payload, session=session)
    assert short == "p:/faq_fees"
    assert token.startswith("t:") and len(token.encode()) <= 64
    with session_scope(sessions) as session:
        assert store.payload_of(short, session=session) == "/faq_fees"
        assert store.payload_of(token, session=session) == long_payload
        assert store.payload_of("t:unknown", session=session) is None
        assert store.payload_of("faq:home", session=session) is None


def test_seen_updates_survive_a_new_session(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        assert store.first_sighting(7, session=session)
    with session_scope(sessions) as session:
        assert not store.first_sighting(7, session=session)
        assert store.first_sighting(8, session=session)
