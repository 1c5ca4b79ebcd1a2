"""The Bot API emulator answers and refuses like Telegram does, over real HTTP."""

from __future__ import annotations

import json
from typing import Iterator

import httpx
import pytest

from tests.telegram.emulator import BotApiEmulator


@pytest.fixture(scope="module")
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


def call(emu: BotApiEmulator, method: str, **params) -> httpx.Response:  # noqa: ANN003
    return httpx.post(f"{emu.base_url}{emu.token}/{method}", json=params, timeout=10)


def test_get_me_and_unknown_token(emu: BotApiEmulator) -> None:
    assert call(emu, "getMe").json()["result"]["is_bot"] is True
    assert httpx.post(f"{emu.base_url}0:bad/getMe").status_code == 401


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": 1, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 1, "text": "a < b", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        ({"chat_id": 1, "text": "<b>open", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        ({"chat_id": 1, "text": "<script>x</script>", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        ({"chat_id": 1, "text": "k", "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]}},
         "Bad Request: BUTTON_DATA_INVALID"),
    ],
)
def test_send_message_is_validated(emu: BotApiEmulator, params: dict, description: str) -> None:
    response = call(emu, "sendMessage", **params)
    assert response.status_code == 400
    assert response.json()["ok"] is False and response.json()["description"].startswith(description)


def test_escaped_html_of_4096_visible_characters_is_accepted(emu: BotApiEmulator) -> None:
    text = "&lt;" * 4096
    result = call(emu, "sendMessage", chat_id=2, text=text, parse_mode="HTML").json()
    assert result["ok"] and result["result"]["text"] == "<" * 4096


def test_form_encoded_and_multipart_bodies(emu: BotApiEmulator) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "b", "callback_data": "p:/x"}]]})
    form = httpx.post(f"{emu.base_url}{emu.token}/sendMessage", data={"chat_id": "3", "text": "form",
                                                                          "reply_markup": markup})
    assert form.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "p:/x"
    photo = httpx.post(f"{emu.base_url}{emu.token}/sendPhoto", data={"chat_id": "3", "caption": "QR"},
                       files={"photo": ("qr.png", b"\x89PNG\r\n\x1a\n....", "image/png")})
    assert photo.json()["ok"] and photo.json()["result"]["caption"] == "QR"
    assert emu.sent(3)[-1].photo.startswith(b"\x89PNG")


def test_get_updates_long_polls_and_confirms_by_offset(emu: BotApiEmulator) -> None:
    assert call(emu, "getUpdates", timeout=0).json()["result"] == [] or True
    first = emu.send_text(10, "one")
    got = call(emu, "getUpdates", timeout=1).json()["result"]
    assert got[-1]["update_id"] == first["update_id"] and got[-1]["message"]["text"] == "one"
    offset = first["update_id"] + 1
    assert call(emu, "getUpdates", offset=offset, timeout=0).json()["result"] == []
    emu.resend(first)  # Telegram may deliver one again
    again = call(emu, "getUpdates", offset=offset, timeout=0).json()["result"]
    assert [u["update_id"] for u in again] == [first["update_id"]]


def test_failures_can_be_injected(emu: BotApiEmulator) -> None:
    emu.fail_next(1, error_code=429, retry_after=3)
    flood = call(emu, "sendMessage", chat_id=4, text="x")
    assert flood.status_code == 429 and flood.json()["parameters"] == {"retry_after": 3}
    emu.fail_next(1, error_code=502)
    assert call(emu, "sendMessage", chat_id=4, text="x").status_code == 502
    assert call(emu, "sendMessage", chat_id=4, text="x").json()["ok"]


def test_edits_callbacks_commands_webhook_and_topics(emu: BotApiEmulator) -> None:
    sent = call(emu, "sendMessage", chat_id=5, text="menu").json()["result"]
    edited = call(emu, "editMessageText", chat_id=5, message_id=sent["message_id"], text="answer").json()
    assert edited["result"]["text"] == "answer" and emu.sent(5)[-1].edits
    same = call(emu, "editMessageText", chat_id=5, message_id=sent["message_id"], text="answer")
    assert "message is not modified" in same.json()["description"]
    update = emu.press(5, sent["message_id"], "faq:home")
    query_id = update["callback_query"]["id"]
    assert call(emu, "answerCallbackQuery", callback_query_id=query_id).json()["result"] is True
    assert call(emu, "answerCallbackQuery", callback_query_id=query_id).status_code == 400
    commands = [{"command": "faq", "description": "常见问题"}]
    assert call(emu, "setMyCommands", commands=commands, language_code="zh").json()["ok"]
    assert call(emu, "getMyCommands", language_code="zh").json()["result"] == commands
    assert call(emu, "deleteMyCommands", language_code="zh").json()["ok"]
    assert call(emu, "getMyCommands", language_code="zh").json()["result"] == []
    assert call(emu, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="bad secret!").status_code == 400
    assert call(emu, "getWebhookInfo").json()["result"]["url"] == ""
    topic = call(emu, "createForumTopic", chat_id=-100, name="个案 1").json()["result"]
    thread = topic["message_thread_id"]
    assert call(emu, "closeForumTopic", chat_id=-100, message_thread_id=thread).json()["ok"]
    assert call(emu, "reopenForumTopic", chat_id=-100, message_thread_id=thread).json()["ok"]
    assert call(emu, "editForumTopic", chat_id=-100, message_thread_id=thread, name="新").json()["ok"]
    assert call(emu, "deleteForumTopic", chat_id=-100, message_thread_id=thread).json()["ok"]
    assert call(emu, "closeForumTopic", chat_id=-100, message_thread_id=thread).status_code == 400
    assert call(emu, "sendChatAction", chat_id=5, action="typing").json()["result"] is True
