"""Outages and restarts (runs last: it stops and restarts services of the shared stack)."""

from __future__ import annotations

from common.i18n import t
from tests.e2e.conftest import Chat, texts


def test_conversation_survives_a_rasa_restart(chat: Chat, stack, kb) -> None:
    chat.say("我在湛江")
    stack.service("rasa").stop()
    stack.start_service("rasa")
    reply = chat.say("低压报装要多久")
    answer = next(a for a in kb.by_id["lv_time_limit"].answers if a.region == "湛江")
    assert answer.zh_Hans in texts(reply)


def test_action_server_outage_gets_a_clear_reply(chat: Chat, stack) -> None:
    stack.service("actions").stop()
    try:
        reply = chat.say("三零服务是什么意思")
        assert texts(reply) == t("service.unavailable", "zh_Hans")
        assert reply["meta"]["fallback"] is True
    finally:
        stack.start_service("actions")
    assert chat.say("三零服务是什么意思")["meta"]["answer_id"] == "sanling"


def test_rasa_outage_gets_a_clear_reply(chat: Chat, stack) -> None:
    stack.service("rasa").stop()
    try:
        reply = chat.say("三零服務係咩意思")
        assert texts(reply) == t("service.unavailable", "zh_Hant")
    finally:
        stack.start_service("rasa")
