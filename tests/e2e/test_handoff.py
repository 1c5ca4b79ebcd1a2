"""Hand-off to staff on the web, end to end: the real gateway, Rasa, action server and case API.

Resident asks for a person → queue → a staff member claims → the reply reaches `/updates`
with its seq → an internal note does not → the resident's next message reaches the transcript
while Rasa is paused and never consulted → close → Rasa resumed, rating buttons → rating
stored. An emergency gets safety advice and jumps the queue. Access control is refused.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator

import httpx
import pytest

from common.i18n import t
from tests.e2e.conftest import Chat, texts
from tests.e2e.staff_helpers import StaffClient, add_staff
from tools.services import Stack


@pytest.fixture(scope="module")
def staff(stack: Stack) -> Iterator[Dict[str, StaffClient]]:
    add_staff(stack, "agent.li")
    add_staff(stack, "agent.wang")
    clients = {name: StaffClient(stack.gateway_url, name) for name in ("agent.li", "agent.wang")}
    yield clients
    for client in clients.values():
        client.close()


def rasa_tracker(stack: Stack, sender_id: str) -> Dict[str, Any]:
    response = httpx.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker",
                         params={"token": stack.rasa_token, "include_events": "ALL"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Listener work (Rasa's pause, the transcript's history) runs in the background: wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def user_texts(tracker: Dict[str, Any]) -> list[str]:
    return [str((e.get("metadata") or {}).get("text") or e.get("text")) for e in tracker["events"]
            if e.get("event") == "user"]


def test_web_handoff_end_to_end(chat: Chat, client: httpx.Client, stack: Stack,
                                staff: Dict[str, StaffClient]) -> None:
    li, wang = staff["agent.li"], staff["agent.wang"]
    before = chat.say("怎么申请新装用电")
    assert before["meta"]["handoff"] is False
    asked = chat.say("我要转人工")
    assert asked["meta"]["handoff"] is True and "排在第" in texts(asked)
    assert eventually(lambda: rasa_tracker(stack, chat.sender_id)["paused"] is True)

    handoff = li.handoff_of(chat.sender_id)
    assert handoff["priority"] == "normal" and handoff["channel"] == "web" and handoff["reason"] == "asked"
    assert eventually(lambda: ("resident", "怎么申请新装用电") in [
        (m["role"], m["text"]) for m in li.get(f"/handoffs/{handoff['id']}")["transcript"]])

    assert li.post(f"/handoffs/{handoff['id']}/claim").status_code == 200
    assert wang.post(f"/handoffs/{handoff['id']}/claim").status_code == 409  # the first claim won
    assert li.post(f"/handoffs/{handoff['id']}/messages", {"text": "您好，请问地址在哪里？", "internal": False}
                   ).status_code == 200
    assert li.post(f"/handoffs/{handoff['id']}/messages", {"text": "疑似重复报装", "internal": True}).status_code == 200
    updates = chat.updates(0)
    relayed = [m["text"] for m in updates["messages"]]
    assert t("handoff.staff_says", "zh_Hans", text="您好，请问地址在哪里？") in relayed
    assert all("重复报装" not in text for text in relayed)
    assert updates["last_seq"] == updates["messages"][-1]["seq"]

    silent = chat.say("广州市天河区体育西路1号，电话13812345678")
    assert silent["meta"]["handoff"] is True and silent["messages"] == []
    assert all("体育西路" not in text for text in user_texts(rasa_tracker(stack, chat.sender_id)))  # not consulted
    transcript = li.get(f"/handoffs/{handoff['id']}")["transcript"]
    assert ("resident", "广州市天河区体育西路1号，电话138****5678") in [(m["role"], m["text"]) for m in transcript]

    assert li.post(f"/handoffs/{handoff['id']}/close").status_code == 200
    assert eventually(lambda: rasa_tracker(stack, chat.sender_id)["paused"] is False)  # resumed
    after = chat.updates(updates["last_seq"])["messages"]
    assert [m["text"] for m in after] == [t("handoff.closed", "zh_Hans"), t("handoff.rate.ask", "zh_Hans")]
    score = after[-1]["buttons"][4]["payload"]
    rated = chat.say(score)
    assert rated["meta"]["handoff"] is False and texts(rated).startswith(t("handoff.rate.comment", "zh_Hans"))
    assert texts(chat.say("/handoff_rate_solved")) == t("handoff.rate.thanks", "zh_Hans")
    ratings = li.get("/ratings")
    assert ratings["count"] >= 1 and ratings["distribution"]["5"] >= 1
    back = chat.say("电费怎么交")  # the bot answers again
    assert back["meta"]["handoff"] is False and back["messages"]


def test_emergency_advice_and_queue_jump(client: httpx.Client, sender: str, staff: Dict[str, StaffClient]) -> None:
    li = staff["agent.li"]
    waiting = Chat(client, f"{sender}-waiting")
    assert waiting.say("人工服务")["meta"]["handoff"] is True
    danger = Chat(client, f"{sender}-danger")
    reply = danger.say("家里插座冒烟了，还有焦味")
    assert reply["meta"]["handoff"] is True
    assert "120" in texts(reply) and "119" in texts(reply) and "95598" in texts(reply)
    queue = [h["sender_id"] for h in li.get("/handoffs", state="waiting")["handoffs"]]
    assert queue.index(danger.sender_id) < queue.index(waiting.sender_id)  # it jumped the queue
    assert li.handoff_of(danger.sender_id)["priority"] == "urgent"
    first = li.handoff_of(danger.sender_id)
    assert li.post(f"/handoffs/{first['id']}/close").status_code == 200
    assert all("/handoff_rate_" not in str(m) for m in danger.updates(0)["messages"])  # no rating after one
    assert waiting.say("/handoff_cancel")["meta"]["handoff"] is False


def test_access_control(client: httpx.Client, stack: Stack, sender: str, staff: Dict[str, StaffClient]) -> None:
    li, wang = staff["agent.li"], staff["agent.wang"]
    resident = Chat(client, sender)
    resident.say("找客服")
    handoff = li.handoff_of(sender)
    anonymous = client.get("/staff/api/handoffs")
    assert anonymous.status_code == 401
    assert client.post(f"/staff/api/handoffs/{handoff['id']}/claim").status_code == 401
    assert li.post(f"/handoffs/{handoff['id']}/claim", csrf=False).status_code == 403
    assert li.post(f"/handoffs/{handoff['id']}/claim").status_code == 200
    assert wang.post(f"/handoffs/{handoff['id']}/messages", {"text": "抢答", "internal": False}).status_code == 409
    assert wang.post(f"/handoffs/{handoff['id']}/close").status_code == 409
    # Another resident writes in their own conversation: nothing reaches this hand-off.
    intruder = Chat(client, f"{sender}-intruder")
    intruder.say("把那个人的工单给我看看")
    texts_seen = [m["text"] for m in li.get(f"/handoffs/{handoff['id']}")["transcript"]]
    assert not any("工单给我看看" in text for text in texts_seen)
    assert intruder.updates(0)["messages"] == []
    assert li.post(f"/handoffs/{handoff['id']}/close").status_code == 200
