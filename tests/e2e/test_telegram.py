"""The Telegram bot end to end: the gateway's real python-telegram-bot Application, over real
HTTP, against the Bot API emulator, with Rasa, the actions and the case API running.

Covers FAQ by keyboard and by text, /lang, media refused politely, contact sharing, the
application to the QR photo, a duplicate update, a flood wait, status pushes after a case
transition made through the case API, and a push surviving a gateway restart (with a form
that continues where it was).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Dict

import httpx
import pytest

from common.i18n import t
from tests.e2e.application_helpers import CHEN, sms_code
from tests.telegram.emulator import BotApiEmulator, Sent
from tools.secrets_env import staff_header

_chats = itertools.count(710_000)
TIMEOUT = 60.0


@pytest.fixture()
def tg(telegram_emulator: BotApiEmulator, stack) -> BotApiEmulator:  # noqa: ANN001 - the stack must be up
    telegram_emulator.wait_calls("getUpdates", 1, timeout=TIMEOUT)  # the bot is polling
    return telegram_emulator


def new_chat() -> int:
    return next(_chats)


def say(tg: BotApiEmulator, chat: int, text: str, expect=lambda m: True) -> Sent:  # noqa: ANN001
    """Sends `text` from the resident and waits for the bot's first matching reply after it."""
    since = time.time()
    tg.send_text(chat, text)
    return tg.wait_for(chat, expect, since=since, timeout=TIMEOUT)


def last_reply(tg: BotApiEmulator, chat: int, since: float, settle: float = 1.0) -> Sent:
    """The last message of a turn: waits until the bot has been quiet for `settle` seconds."""
    tg.wait_for(chat, since=since, timeout=TIMEOUT)
    while True:
        sent = tg.sent(chat, since)
        time.sleep(settle)
        if len(tg.sent(chat, since)) == len(sent):
            return sent[-1]


def turn(tg: BotApiEmulator, chat: int, text: str) -> Sent:
    since = time.time()
    tg.send_text(chat, text)
    return last_reply(tg, chat, since)


def press(tg: BotApiEmulator, message: Sent, callback_data: str) -> Sent:
    since = time.time()
    tg.press(message.chat_id, message.message_id, callback_data)
    return last_reply(tg, message.chat_id, since)


def create_case(stack, chat: int, key: str) -> Dict[str, Any]:  # noqa: ANN001
    """A high-voltage case in 湛江: three stages, so two transitions (the last one completes it)."""
    body = {
        "name": CHEN["name"], "id_number": CHEN["id_number"], "phone": CHEN["phone"],
        "address": "广东省" + CHEN["address"], "customer_type": "hv", "capacity_kw": 400,
        "channel": "telegram", "sender_id": f"tg:{chat}", "locale": "zh_Hans",
        "consent": {"registry": True, "esign": True, "confirmed_at": "2026-11-24T10:00:00+08:00"},
    }
    response = httpx.post(f"{stack.case_api_url}/cases", json=body, headers={"Idempotency-Key": key, **staff_header()},
                          timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def transition(stack, case: Dict[str, Any]) -> Dict[str, Any]:  # noqa: ANN001
    """Moves the case to its next stage through the case API, as staff would."""
    current = httpx.get(f"{stack.case_api_url}/cases/{case['case_id']}", headers=staff_header(), timeout=30).json()
    response = httpx.post(
        f"{stack.case_api_url}/cases/{case['case_id']}/transitions",
        json={"to_stage": current["next_stages"][0], "note": None}, headers=staff_header(), timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def stage_name(case: Dict[str, Any], locale: str = "zh_Hans") -> str:
    return next(s["names"][locale] for s in case["stages"] if s["key"] == case["stage"])


def push_text(case: Dict[str, Any]) -> str:
    """The first line of the status update a subscriber gets after the case moved."""
    if case["status"] == "completed":
        return t("notify.completed", "zh_Hans", case_id=case["case_id"])
    return t("notify.stage_changed", "zh_Hans", case_id=case["case_id"], stage=stage_name(case))


def test_faq_by_keyboard_is_the_same_answer_as_the_web(tg: BotApiEmulator, kb) -> None:  # noqa: ANN001
    chat, entry = new_chat(), kb.by_id["sanling"]
    menu = say(tg, chat, "/faq", lambda m: bool(m.buttons))
    assert t(f"category.{entry.category}", "zh_Hans") in [b["text"] for b in menu.buttons]
    tg.press(chat, menu.message_id, f"faq:c:{entry.category}")
    tg.wait_for(chat, lambda m: m.message_id == menu.message_id and f"faq:q:{entry.id}" in str(m.buttons))
    tg.press(chat, menu.message_id, f"faq:q:{entry.id}")
    answer = tg.wait_for(chat, lambda m: m.message_id == menu.message_id and entry.general.zh_Hans in m.text,
                         timeout=TIMEOUT)
    assert answer.parse_mode == "HTML" and len(answer.edits) == 2  # one message, edited in place
    assert len(tg.sent(chat)) == 1
    assert len(tg.callback_answers) >= 2


def test_faq_by_text(tg: BotApiEmulator, kb) -> None:  # noqa: ANN001
    chat = new_chat()
    answer = next(a for a in kb.by_id["lv_time_limit"].answers if a.region == "湛江")
    reply = say(tg, chat, "湛江低压报装要多久？", lambda m: answer.zh_Hans in m.text)
    assert reply.method == "sendMessage"
    english = say(tg, chat, "What is the hotline number for power supply service?",
                  lambda m: kb.by_id["hotlines"].answers[0].en in m.text)
    assert english.parse_mode == "HTML"


def test_lang_changes_the_bots_language(tg: BotApiEmulator) -> None:
    chat = new_chat()
    menu = say(tg, chat, "/lang", lambda m: len(m.buttons) == 3)
    tg.press(chat, menu.message_id, "lang:en")
    tg.wait_for(chat, lambda m: m.text == t("tg.lang.set", "en"), timeout=TIMEOUT)
    say(tg, chat, "/help", lambda m: m.text == t("tg.help", "en"))
    categories = say(tg, chat, "/faq", lambda m: bool(m.buttons))
    assert t("category.tariffs", "en") in [b["text"] for b in categories.buttons]


def test_media_is_refused_politely(tg: BotApiEmulator) -> None:
    chat = new_chat()
    for send in (tg.send_sticker, tg.send_photo, tg.send_location, tg.send_voice, tg.send_document):
        since = time.time()
        send(chat)
        reply = tg.wait_for(chat, since=since, timeout=TIMEOUT)
        assert reply.text == t("tg.media.unsupported", "zh_Hans")
    say(tg, chat, "你好", lambda m: m.text != t("tg.media.unsupported", "zh_Hans"))  # still chatting


def test_application_with_shared_contact_to_qr_photo(tg: BotApiEmulator, stack) -> None:  # noqa: ANN001
    chat = new_chat()
    assert t("form.ask.name", "zh_Hans") in turn(tg, chat, "/apply").text
    turn(tg, chat, CHEN["name"])
    turn(tg, chat, CHEN["id_number"])
    since = time.time()
    turn(tg, chat, CHEN["address"])
    asked = tg.sent(chat, since)
    assert t("form.ask.phone", "zh_Hans") in " ".join(m.text for m in asked)
    contact_button = [b for m in asked for b in m.keyboard]
    assert contact_button and contact_button[0].get("request_contact") is True
    since = time.time()
    tg.send_contact(chat, "+86 139 0013 9000", contact_user_id=chat + 1)  # someone else's card
    refused = last_reply(tg, chat, since)
    assert refused.text == t("tg.contact.not_yours", "zh_Hans")
    since = time.time()
    tg.send_contact(chat, CHEN["phone"], contact_user_id=chat)
    last_reply(tg, chat, since)
    types = next(m for m in tg.sent(chat, since) if any("resident" in b["callback_data"] for b in m.buttons))
    resident = next(b for b in types.buttons if "resident" in b["callback_data"])
    press(tg, types, resident["callback_data"])
    asked = time.time()
    turn(tg, chat, "8千瓦")
    replies = tg.sent(chat, asked)
    joint = next((m for m in replies if 'p:/inform{"linked": "none"}' in str(m.buttons)), None)
    if joint is not None:  # provinces with joint water/gas applications (一次办) offer them first
        asked = time.time()
        press(tg, joint, 'p:/inform{"linked": "none"}')
        replies = tg.sent(chat, asked)
    summary = next((m for m in replies if "p:/affirm" in [b["callback_data"] for b in m.buttons]), None)
    assert summary is not None, [(m.text, m.buttons) for m in replies]
    since = time.time()
    tg.press(chat, summary.message_id, "p:/affirm")
    photo = tg.wait_for(chat, lambda m: m.method == "sendPhoto", since=since, timeout=TIMEOUT)
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    cases = httpx.get(f"{stack.case_api_url}/cases", params={"channel": "telegram", "sender_id": f"tg:{chat}"},
                      headers=staff_header(), timeout=30).json()["cases"]
    assert len(cases) == 1 and cases[0]["case_id"] in " ".join(m.text for m in tg.sent(chat, since))
    assert cases[0]["applicant"]["phone"] == "138****8000"


def test_duplicate_update_is_ignored(tg: BotApiEmulator) -> None:
    chat = new_chat()
    since = time.time()
    update = tg.send_text(chat, "三零服务是什么意思")
    first = last_reply(tg, chat, since)
    count = len(tg.sent(chat))
    tg.resend(update)
    reply = say(tg, chat, "/help", lambda m: m.text == t("tg.help", "zh_Hans"))
    assert len(tg.sent(chat)) == count + 1 and reply.message_id > first.message_id


def test_flood_wait_is_retried_not_dropped(tg: BotApiEmulator) -> None:
    chat = new_chat()
    tg.fail_next(2, error_code=429, retry_after=1, methods={"sendMessage"})
    reply = say(tg, chat, "/help", lambda m: m.text == t("tg.help", "zh_Hans"))
    refused = [c for c in tg.calls_of("sendMessage", chat) if c.error == 429]
    assert len(refused) == 2 and reply.at - refused[0].at >= 1.0


def test_status_push_after_a_transition(tg: BotApiEmulator, stack) -> None:  # noqa: ANN001
    applicant, linked = new_chat(), new_chat()
    case = create_case(stack, applicant, f"tg-push-{applicant}")
    # A second chat follows the case by deep link, after the code texted to the case's phone.
    say(tg, linked, f"/start case_{case['case_id']}", lambda m: case["case_id"] in m.text)
    code = sms_code(stack, case["case_id"])
    say(tg, linked, "000000" if code != "000000" else "111111", lambda m: m.text == t("tg.link.failed", "zh_Hans"))
    say(tg, linked, f"/start case_{case['case_id']}", lambda m: case["case_id"] in m.text)
    code = sms_code(stack, case["case_id"])
    say(tg, linked, code, lambda m: m.text == t("tg.link.done", "zh_Hans", case_id=case["case_id"]))
    time.sleep(1.0)  # the notifier has seen the creation (which sends nothing)
    assert not any(case["case_id"] in m.text for m in tg.sent(applicant))
    since = time.time()
    moved = transition(stack, case)
    assert moved["status"] == "open"
    expected = push_text(moved)
    next_stage = next(s for s in moved["stages"] if s["key"] == moved["next_stages"][0])
    for chat in (applicant, linked):
        push = tg.wait_for(chat, lambda m: expected in m.text, since=since, timeout=TIMEOUT)
        assert push.at - since < 5.0
        assert t("notify.next", "zh_Hans", stage=next_stage["names"]["zh_Hans"]) in push.text
        assert "星期" in push.text  # the deadline, with its weekday
        assert [b["callback_data"] for b in push.buttons] == ["p:/ask_status"]
    time.sleep(1.0)
    assert [m.text for m in tg.sent(applicant, since)].count(push.text) == 1


def test_push_survives_a_gateway_restart_once(tg: BotApiEmulator, stack) -> None:  # noqa: ANN001
    applicant, former = new_chat(), new_chat()
    case = create_case(stack, applicant, f"tg-restart-{applicant}")
    first = push_text(transition(stack, case))
    tg.wait_for(applicant, lambda m: first in m.text, timeout=TIMEOUT)
    assert t("form.ask.name", "zh_Hans") in turn(tg, former, "/apply").text  # a form under way

    stack.service("gateway").stop()
    stopped = time.time()
    second = push_text(transition(stack, case))  # happens while the gateway is down
    stack.start_service("gateway")
    tg.wait_for(applicant, lambda m: second in m.text, since=stopped, timeout=TIMEOUT)
    time.sleep(2.0)  # anything sent twice would have arrived by now
    texts = [m.text for m in tg.sent(applicant)]
    assert sum(first in x for x in texts) == 1 and sum(second in x for x in texts) == 1
    # The conversation lives in Rasa's tracker store: the form continues where it was.
    assert t("form.ask.id_number", "zh_Hans") in turn(tg, former, CHEN["name"]).text
