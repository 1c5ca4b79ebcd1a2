"""Steps shared by the fault tests: the application form one value per message, and reading
what reached the resident (turn replies and the outbox) and the case API."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from common import outbox
from common.db import make_engine, make_session_factory, session_scope
from common.i18n import t
from tests.e2e.application_helpers import CHEN
from tests.e2e.conftest import Chat
from tools.services import Stack

STEPS: List[Tuple[str, str]] = [
    ("我要报装", "name"),
    (CHEN["name"], "id_number"),
    (CHEN["id_number"], "address"),
    (CHEN["address"], "phone"),
    (CHEN["phone"], "customer_type"),
    ('/inform{"customer_type": "resident"}', "capacity_kw"),
    ("8千瓦", "linked_utilities"),
    ('/inform{"linked": "none"}', "confirm"),
]


def step(chat: Chat, index: int) -> Dict[str, Any]:
    text, expected = STEPS[index]
    reply = chat.say(text)
    assert reply["meta"]["requested_slot"] == expected, (index, reply)
    return reply


def run_steps(chat: Chat, start: int, stop: int) -> None:
    for index in range(start, stop):
        step(chat, index)


def pushed(stack: Stack, sender_id: str) -> List[Dict[str, Any]]:
    """What the outbox holds for a web sender (what GET /updates would return)."""
    engine = make_engine(stack.env()["DATABASE_URL"])
    try:
        with session_scope(make_session_factory(engine)) as session:
            return outbox.updates_after(sender_id, 0, 100, session=session)
    finally:
        engine.dispose()


def receipts(messages: List[Dict[str, Any]], case_id: str) -> int:
    """How many receipts of `case_id` are among the messages."""
    first_line = t("receipt.created", "zh_Hans", case_id=case_id)
    return sum(1 for m in messages if first_line in (m.get("text") or ""))
