"""A confirmed application survives a case API outage: queued, then delivered exactly once
(runs late: it stops and restarts the case API of the shared stack)."""

from __future__ import annotations

import time

import httpx

from common.i18n import t
from tests.e2e.application_helpers import apply, cases_of
from tests.e2e.conftest import Chat, texts


def updates(chat: Chat) -> list:
    return chat.updates(0).json()["messages"]


def test_application_is_queued_while_the_case_api_is_down_and_delivered_once(
    chat: Chat, client: httpx.Client, stack
) -> None:
    apply(chat)
    stack.service("cases").stop()
    try:
        queued = chat.say("确认")
        assert t("form.queued", "zh_Hans") in texts(queued)
        assert queued["meta"]["case_id"] is None
        status = chat.say("我的申请到哪一步了")
        assert t("status.queued", "zh_Hans") in texts(status)
    finally:
        stack.start_service("cases")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not updates(chat):
        time.sleep(0.5)
    time.sleep(3)  # give a duplicate delivery the chance to show
    [case] = cases_of(stack, chat.sender_id)
    pushed = updates(chat)
    receipts = [m for m in pushed if case["case_id"] in m["text"]]
    assert len(receipts) == 1
    assert any(m.get("image_url") for m in pushed)
