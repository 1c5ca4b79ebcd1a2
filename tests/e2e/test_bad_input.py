"""Bad input gets a clear 4xx or a polite reply, never a 500."""

from __future__ import annotations

import httpx
import pytest

from common.i18n import t
from tests.e2e.conftest import Chat, texts


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"text": "hi"}',
        b'{"sender_id": "a"}',
        b'{"sender_id": "a", "text": 5}',
        b'{"sender_id": "bad id with spaces", "text": "hi"}',
        b'{"sender_id": "a", "text": "hi", "locale": "klingon"}',
        b'{"sender_id": "", "text": "hi"}',
    ],
)
def test_malformed_bodies_get_422_with_a_reason(client: httpx.Client, body: bytes) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    data = response.json()
    assert data["error"] == "invalid request" and data["problems"]


def test_wrong_method_and_path(client: httpx.Client) -> None:
    assert client.get("/api/chat").status_code == 405
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"]


def test_oversized_body_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"sender_id": "a", "text": "电" * 300_000})
    assert response.status_code in (413, 422)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_message_gets_a_polite_reply(chat: Chat, text: str) -> None:
    reply = chat.say(text)
    assert texts(reply) == t("input.empty", "zh_Hans") and reply["meta"]["fallback"] is True


def test_emoji_only_message(chat: Chat) -> None:
    assert texts(chat.say("😀👍🎉")) == t("input.no_text", "zh_Hans")


def test_control_characters_are_dropped(chat: Chat) -> None:
    reply = chat.say("\x00\x07三零服务\u200b是什么意思\x1b")
    assert reply["meta"]["answer_id"] == "sanling"


def test_very_long_message_is_cut_with_a_notice(chat: Chat) -> None:
    reply = chat.say("三零服务是什么意思" + "啊" * 5000)
    assert reply["messages"][0]["text"] == t("input.truncated", "zh_Hans", limit=4096)
    assert len(reply["messages"]) >= 2


def test_updates_validate_their_parameters(chat: Chat) -> None:
    assert chat.updates(-1).status_code == 422
    assert chat.updates("x").status_code == 422  # type: ignore[arg-type]
    assert chat.updates().json() == {"messages": [], "last_seq": 0}
