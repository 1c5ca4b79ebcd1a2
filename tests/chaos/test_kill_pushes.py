"""Status pushes survive `kill -9` of the gateway, which runs the notifier and the Telegram
delivery worker (README: "Faults, exercised").

- Killed between Telegram accepting a push and the worker marking it delivered (the
  emulator kills the gateway as it stores the message): after the restart the push is sent
  again, one duplicate (the documented window: Telegram has no idempotency key); the next
  push arrives exactly once.
- Killed between the notifier reading a page of the event feed and writing it to the outbox
  (the proxy kills the gateway as the feed's answer passes): the outbox row and the cursor
  are one transaction, so after the restart every event of the page is queued exactly once.
"""

from __future__ import annotations

import itertools
import time
from typing import List

from tests.chaos.faults import EVENTS, Chaos
from tests.chaos.helpers import create_case, push_line, pushed, transition
from tests.telegram.emulator import Sent

_chats = itertools.count(790_000)


def count(chaos: Chaos, chat: int, line: str) -> int:
    return sum(line in m.text for m in chaos.telegram.sent(chat))


def test_delivery_killed_between_sending_and_marking(chaos: Chaos) -> None:
    chaos.telegram.wait_calls("getUpdates", 1, timeout=60)
    chat = next(_chats)
    case = create_case(chaos, "telegram", f"tg:{chat}")
    time.sleep(1.0)  # the notifier has seen the creation (which sends nothing)
    killed: List[int] = []

    def kill_on_push(sent: Sent) -> None:
        if sent.chat_id == chat and case["case_id"] in sent.text and not killed:
            killed.append(chaos.kill("gateway"))

    chaos.telegram.on_store = kill_on_push
    try:
        first = push_line(transition(chaos, case))
        chaos.telegram.wait_for(chat, lambda m: first in m.text, timeout=60)
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:
            time.sleep(0.1)
        assert killed, "the push never reached the emulator"
    finally:
        chaos.telegram.on_store = None
    chaos.wait_back("gateway", killed[0])
    deadline = time.monotonic() + 60
    while count(chaos, chat, first) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    second = push_line(transition(chaos, case))
    chaos.telegram.wait_for(chat, lambda m: second in m.text, timeout=60)
    time.sleep(2.0)
    assert count(chaos, chat, first) == 2  # not lost; sent again once, the documented window
    assert count(chaos, chat, second) == 1


def test_notifier_killed_between_reading_the_feed_and_queueing(chaos: Chaos) -> None:
    senders = [f"chaos-web-{next(_chats)}" for _ in range(3)]
    cases = [create_case(chaos, "web", sender) for sender in senders]
    time.sleep(1.5)  # creations read; nothing is sent for them
    before: List[int] = []
    chaos.proxy.on(
        EVENTS, after=lambda: before.append(chaos.kill("gateway")), reply_contains=cases[0]["case_id"].encode()
    )
    moved = [transition(chaos, case) for case in cases]
    deadline = time.monotonic() + 30
    while not before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert before, "the notifier did not read the feed"
    chaos.wait_back("gateway", before[0])
    expected = {sender: push_line(case) for sender, case in zip(senders, moved, strict=True)}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
        any(line in m["text"] for m in pushed(chaos.stack, sender)) for sender, line in expected.items()
    ):
        time.sleep(0.5)
    time.sleep(2.0)
    for sender, line in expected.items():
        assert sum(line in m["text"] for m in pushed(chaos.stack, sender)) == 1, sender
