"""`kill -9` of each service in the middle of the application form and at the moment of
submitting, with the supervisor bringing it back (README: "Faults, exercised").

Checked each time: the resident gets the clear "busy" reply (`service.unavailable`), or, when
the gateway itself dies, no reply from the dead connection (the page then says it could not
reach the service); after the restart the form continues at the step it was on; a confirmed
application exists exactly once in the case API and its receipt reaches the resident exactly
once, in a turn's reply or through the outbox.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import httpx
import pytest

from common.i18n import t
from tests.chaos.faults import Chaos
from tests.chaos.helpers import STEPS, pushed, receipts, run_steps, step
from tests.e2e.application_helpers import cases_of
from tests.e2e.conftest import Chat, texts

BUSY = t("service.unavailable", "zh_Hans")
SERVICES = ["actions", "rasa", "cases", "gateway"]


def say_through(chat: Chat, text: str) -> Dict[str, Any] | None:
    """A turn that may hit a dead gateway: None when the connection failed."""
    try:
        return chat.say(text)
    except httpx.TransportError:
        return None


@pytest.mark.parametrize("name", SERVICES)
def test_kill_in_the_middle_of_the_form(chaos: Chaos, chat: Chat, name: str) -> None:
    run_steps(chat, 0, 2)  # name given, the ID number asked
    before = chaos.kill(name)
    text, expected = STEPS[2]
    reply = say_through(chat, text)
    if name == "gateway":
        assert reply is None
    elif name == "cases":  # not needed until the summary: the form goes on while it restarts
        assert reply is not None and reply["meta"]["requested_slot"] == expected
    else:
        assert reply is not None and texts(reply) == BUSY and reply["meta"]["fallback"] is True
    chaos.wait_back(name, before)
    if name != "cases":
        step(chat, 2)  # the same value again: the form is still on that step
    run_steps(chat, 3, len(STEPS))
    done = chat.say("确认")
    [case] = cases_of(chaos.stack, chat.sender_id)
    assert receipts(done["messages"], case["case_id"]) == 1


def arm(chaos: Chaos, name: str) -> None:
    """Kills `name` at the moment of submitting: the case API down as the request arrives;
    any other service just after the case API created the case, before the answer is relayed."""
    if name == "cases":
        chaos.proxy.on_submit(before=lambda: chaos.kill(name))
    else:
        chaos.proxy.on_submit(after=lambda: chaos.kill(name))


@pytest.mark.parametrize("name", SERVICES)
def test_kill_at_the_moment_of_submitting(chaos: Chaos, chat: Chat, name: str) -> None:
    run_steps(chat, 0, len(STEPS))
    before = chaos.supervisor.restarts(name)
    arm(chaos, name)
    replies: List[Dict[str, Any]] = []
    first = say_through(chat, "确认")
    if name == "gateway":
        assert first is None
    else:
        assert first is not None
        replies.append(first)
        if name in ("actions", "rasa"):
            assert texts(first) == BUSY
        else:  # case API down: queued (or, back within the turn's retries, created)
            assert t("form.queued", "zh_Hans") in texts(first) or first["meta"]["case_id"]
    chaos.wait_back(name, before)
    if name == "rasa":  # Rasa lost the turn: the form still asks for the confirmation
        again = chat.say("确认")
        replies.append(again)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cases = cases_of(chaos.stack, chat.sender_id)
        if cases and receipts(_everything(chaos, chat, replies), cases[0]["case_id"]):
            break
        time.sleep(0.5)
    time.sleep(3.0)  # a second delivery would show by now
    [case] = cases_of(chaos.stack, chat.sender_id)
    assert receipts(_everything(chaos, chat, replies), case["case_id"]) == 1
    status = chat.say("我的申请到哪一步了")
    assert case["case_id"] in texts(status)


def _everything(chaos: Chaos, chat: Chat, replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [m for reply in replies for m in reply["messages"]] + pushed(chaos.stack, chat.sender_id)
