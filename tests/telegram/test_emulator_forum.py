"""The emulator's staff supergroup: forum topics, rights, topic messages, limits, staff updates.

Checked over real HTTP, and once through python-telegram-bot's own classes (so every field
the emulator sends parses as the library expects from Telegram).
"""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import httpx
import pytest
from telegram import Bot, ChatMemberAdministrator, Update
from telegram.error import BadRequest, RetryAfter

from tests.telegram.emulator import BOT_USER, BotApiEmulator

STAFF = -1001234


@pytest.fixture()
def emu() -> Iterator[BotApiEmulator]:
    with BotApiEmulator(group_limit=5, group_window_s=2.0) as running:
        running.add_group(STAFF, title="客服组")
        running.add_member(STAFF, 901, "小王")
        running.add_member(STAFF, 902, "小李", status="administrator")
        yield running


def call(emu: BotApiEmulator, method: str, **params) -> httpx.Response:  # noqa: ANN003
    return httpx.post(f"{emu.base_url}{emu.token}/{method}", json=params, timeout=10)


def topic(emu: BotApiEmulator, name: str = "#1 转人工") -> int:
    response = call(emu, "createForumTopic", chat_id=STAFF, name=name)
    assert response.status_code == 200, response.text
    return response.json()["result"]["message_thread_id"]


def test_creating_a_topic_needs_a_forum_and_can_manage_topics(emu: BotApiEmulator) -> None:
    emu.add_group(-1002, is_forum=False)
    assert call(emu, "createForumTopic", chat_id=-1002, name="x").json()["description"] == \
        "Bad Request: the chat is not a forum"
    assert call(emu, "createForumTopic", chat_id=77, name="x").json()["description"] == \
        "Bad Request: the chat is not a forum"
    emu.set_bot_rights(STAFF, can_manage_topics=False)
    refused = call(emu, "createForumTopic", chat_id=STAFF, name="x")
    assert refused.status_code == 400
    assert refused.json()["description"] == "Bad Request: not enough rights to create a topic"
    emu.set_bot_rights(STAFF, status="member")
    assert call(emu, "createForumTopic", chat_id=STAFF, name="x").status_code == 400
    emu.set_bot_rights(STAFF, status="administrator", can_manage_topics=True)
    assert call(emu, "createForumTopic", chat_id=STAFF, name="").json()["description"] == \
        "Bad Request: title must be non-empty"
    assert call(emu, "createForumTopic", chat_id=STAFF, name="x" * 129).status_code == 400
    created = call(emu, "createForumTopic", chat_id=STAFF, name="#2 投诉").json()["result"]
    assert created["name"] == "#2 投诉" and created["icon_color"] == 7322096
    # The topic's id is the id of its creation service message: ids are shared with messages.
    after = call(emu, "sendMessage", chat_id=STAFF, text="general").json()["result"]
    assert after["message_id"] == created["message_thread_id"] + 1


def test_rights_are_reported_like_telegram(emu: BotApiEmulator) -> None:
    bot = call(emu, "getChatMember", chat_id=STAFF, user_id=BOT_USER["id"]).json()["result"]
    assert bot["status"] == "administrator" and bot["can_manage_topics"] is True
    emu.set_bot_rights(STAFF, can_manage_topics=False)
    assert call(emu, "getChatMember", chat_id=STAFF, user_id=BOT_USER["id"]).json()["result"][
        "can_manage_topics"] is False
    assert call(emu, "getChatMember", chat_id=STAFF, user_id=901).json()["result"]["status"] == "member"
    assert call(emu, "getChatMember", chat_id=STAFF, user_id=555).json()["result"]["status"] == "left"
    admins = call(emu, "getChatAdministrators", chat_id=STAFF).json()["result"]
    assert {a["user"]["id"] for a in admins} == {902, BOT_USER["id"]}
    chat = call(emu, "getChat", chat_id=STAFF).json()["result"]
    assert chat["is_forum"] is True and chat["type"] == "supergroup"


def test_messages_into_topics_and_their_errors(emu: BotApiEmulator) -> None:
    thread = topic(emu)
    sent = call(emu, "sendMessage", chat_id=STAFF, text="记录", message_thread_id=thread).json()["result"]
    assert sent["message_thread_id"] == thread and sent["is_topic_message"] is True
    assert sent["reply_to_message"]["forum_topic_created"]["name"] == "#1 转人工"
    general = call(emu, "sendMessage", chat_id=STAFF, text="队列").json()["result"]
    assert "message_thread_id" not in general and "is_topic_message" not in general
    assert call(emu, "sendMessage", chat_id=STAFF, text="x", message_thread_id=1).json()["description"] == \
        "Bad Request: message thread not found"
    # Never a thread id on a send to a resident's private chat.
    assert call(emu, "sendMessage", chat_id=42, text="x", message_thread_id=thread).json()["description"] == \
        "Bad Request: message thread not found"
    assert call(emu, "closeForumTopic", chat_id=STAFF, message_thread_id=thread).json()["ok"]
    assert call(emu, "closeForumTopic", chat_id=STAFF, message_thread_id=thread).json()["description"] == \
        "Bad Request: TOPIC_NOT_MODIFIED"
    closed = call(emu, "sendMessage", chat_id=STAFF, text="x", message_thread_id=thread)
    assert closed.status_code == 400 and closed.json()["description"] == "Bad Request: TOPIC_CLOSED"
    assert call(emu, "sendPhoto", chat_id=STAFF, photo="https://x/y.png",
                message_thread_id=thread).json()["description"] == "Bad Request: TOPIC_CLOSED"
    assert call(emu, "reopenForumTopic", chat_id=STAFF, message_thread_id=thread).json()["ok"]
    photo = httpx.post(f"{emu.base_url}{emu.token}/sendPhoto",
                       data={"chat_id": str(STAFF), "message_thread_id": str(thread), "caption": "现场"},
                       files={"photo": ("p.png", b"\x89PNG\r\n\x1a\n....", "image/png")}).json()
    assert photo["ok"] and photo["result"]["message_thread_id"] == thread
    assert emu.sent(STAFF, thread=thread)[-1].photo.startswith(b"\x89PNG")
    emu.staff_delete_topic(STAFF, thread)
    assert emu.topic(STAFF, thread) is None
    gone = call(emu, "sendMessage", chat_id=STAFF, text="x", message_thread_id=thread)
    assert gone.json()["description"] == "Bad Request: message thread not found"
    assert call(emu, "deleteForumTopic", chat_id=STAFF, message_thread_id=thread).json()["description"] == \
        "Bad Request: TOPIC_ID_INVALID"


def test_topics_staff_made_need_rights_to_manage(emu: BotApiEmulator) -> None:
    thread = emu.staff_create_topic(STAFF, 902, "手工话题")
    emu.set_bot_rights(STAFF, can_manage_topics=False, can_delete_messages=False)
    assert call(emu, "closeForumTopic", chat_id=STAFF, message_thread_id=thread).json()["description"] == \
        "Bad Request: not enough rights to close or open the topic"
    assert call(emu, "deleteForumTopic", chat_id=STAFF, message_thread_id=thread).json()["description"] == \
        "Bad Request: not enough rights to delete the topic"
    emu.set_bot_rights(STAFF, can_manage_topics=True)
    own = topic(emu)
    emu.set_bot_rights(STAFF, can_manage_topics=False)  # the bot manages the topics it made
    assert call(emu, "closeForumTopic", chat_id=STAFF, message_thread_id=own).json()["ok"]
    assert call(emu, "deleteForumTopic", chat_id=STAFF, message_thread_id=own).json()["ok"]


def test_a_group_takes_a_limited_number_of_messages_a_window(emu: BotApiEmulator) -> None:
    thread = topic(emu)
    for index in range(5):  # the limit is shared by the topics and General
        kwargs = {"message_thread_id": thread} if index % 2 else {}
        assert call(emu, "sendMessage", chat_id=STAFF, text=f"m{index}", **kwargs).json()["ok"]
    flood = call(emu, "sendMessage", chat_id=STAFF, text="one too many", message_thread_id=thread)
    assert flood.status_code == 429
    body = flood.json()
    assert body["description"].startswith("Too Many Requests: retry after ")
    assert 1 <= body["parameters"]["retry_after"] <= 2
    assert call(emu, "sendMessage", chat_id=7, text="a resident is not held up").json()["ok"]
    time.sleep(body["parameters"]["retry_after"] + 0.1)
    assert call(emu, "sendMessage", chat_id=STAFF, text="later", message_thread_id=thread).json()["ok"]


def test_staff_updates_are_shaped_like_telegram(emu: BotApiEmulator) -> None:
    thread = topic(emu)
    in_topic = emu.staff_text(STAFF, 901, "您好，我来处理", thread=thread)["message"]
    assert in_topic["message_thread_id"] == thread and in_topic["is_topic_message"] is True
    assert in_topic["reply_to_message"]["message_id"] == thread
    assert in_topic["from"]["first_name"] == "小王" and in_topic["chat"]["is_forum"] is True
    general = emu.staff_text(STAFF, 901, "/queue")["message"]
    assert "message_thread_id" not in general and general["entities"][0]["type"] == "bot_command"
    reply_in_general = emu.staff_text(STAFF, 901, "回复", reply_to=general["message_id"])["message"]
    assert reply_in_general["message_thread_id"] == general["message_id"]
    assert "is_topic_message" not in reply_in_general
    closed = emu.staff_close_topic(STAFF, 902, thread)["message"]
    assert closed["forum_topic_closed"] == {} and closed["message_thread_id"] == thread
    assert emu.topic(STAFF, thread)["closed"] is True
    assert emu.staff_reopen_topic(STAFF, 902, thread)["message"]["forum_topic_reopened"] == {}
    made = emu.staff_create_topic(STAFF, 902, "新话题")
    photo = emu.staff_photo(STAFF, 901, thread, caption="看这里")["message"]
    assert photo["photo"][-1]["width"] == 800 and photo["caption"] == "看这里"
    card = call(emu, "sendMessage", chat_id=STAFF, text="认领？", message_thread_id=thread,
                reply_markup={"inline_keyboard": [[{"text": "认领", "callback_data": "ho:claim:1"}]]}).json()
    press = emu.press(STAFF, card["result"]["message_id"], "ho:claim:1", user_id=902)["callback_query"]
    assert press["from"]["id"] == 902 and press["message"]["message_thread_id"] == thread
    with pytest.raises(ValueError):
        emu.press(STAFF, card["result"]["message_id"], "ho:claim:1")
    updates = call(emu, "getUpdates", timeout=0).json()["result"]
    kinds = [next(k for k in ("forum_topic_closed", "forum_topic_reopened", "forum_topic_created", "text", "photo")
                  if k in u.get("message", {})) if "message" in u else "callback" for u in updates]
    assert kinds == ["text", "text", "text", "forum_topic_closed", "forum_topic_reopened", "forum_topic_created",
                     "photo", "callback"]
    assert updates[5]["message"]["message_id"] == made


def test_python_telegram_bot_reads_it_all(emu: BotApiEmulator) -> None:
    async def scenario() -> None:
        async with Bot(emu.token, base_url=emu.base_url) as bot:
            member = await bot.get_chat_member(STAFF, BOT_USER["id"])
            assert isinstance(member, ChatMemberAdministrator) and member.can_manage_topics
            chat = await bot.get_chat(STAFF)
            assert chat.is_forum
            created = await bot.create_forum_topic(STAFF, "#3 停电")
            message = await bot.send_message(STAFF, "hi", message_thread_id=created.message_thread_id)
            assert message.is_topic_message and message.message_thread_id == created.message_thread_id
            assert message.reply_to_message.forum_topic_created.name == "#3 停电"
            await bot.close_forum_topic(STAFF, created.message_thread_id)
            with pytest.raises(BadRequest, match="Topic_closed"):
                await bot.send_message(STAFF, "x", message_thread_id=created.message_thread_id)
            emu.staff_reopen_topic(STAFF, 901, created.message_thread_id)
            emu.staff_text(STAFF, 901, "/note 内部", thread=created.message_thread_id)
            updates = await bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES)
            assert updates[0].message.forum_topic_reopened is not None
            assert updates[1].message.is_topic_message and updates[1].message.text == "/note 内部"
            for _ in range(4):  # "hi" was the first of five
                await bot.send_message(STAFF, "fill")
            with pytest.raises(RetryAfter):
                await bot.send_message(STAFF, "over")

    asyncio.run(scenario())
