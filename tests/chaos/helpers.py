"""Steps shared by the fault tests: the application form one value per message, and reading
what reached the resident (turn replies and the outbox) and the case API."""

from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Protocol, Tuple

import httpx

from common import outbox
from common.db import make_engine, make_session_factory, session_scope
from common.i18n import t
from tests.e2e.application_helpers import CHEN
from tests.e2e.conftest import Chat
from tools.secrets_env import staff_header
from tools.services import Stack

_keys = itertools.count()


class HasStack(Protocol):
    """Anything holding a running stack (`Chaos`, the PostgreSQL outage test's own stack)."""

    stack: Stack

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


def pushed(stack: Stack, sender_id: str, database_url: Optional[str] = None) -> List[Dict[str, Any]]:
    """What the outbox holds for a web sender (what GET /updates would return); read from
    `database_url` when given (the server itself, not the services' cuttable route to it)."""
    engine = make_engine(database_url or stack.env()["DATABASE_URL"])
    try:
        with session_scope(make_session_factory(engine)) as session:
            return outbox.updates_after(sender_id, 0, 100, session=session)
    finally:
        engine.dispose()


def receipts(messages: List[Dict[str, Any]], case_id: str) -> int:
    """How many receipts of `case_id` are among the messages."""
    first_line = t("receipt.created", "zh_Hans", case_id=case_id)
    return sum(1 for m in messages if first_line in (m.get("text") or ""))


def create_case(chaos: HasStack, channel: str, sender_id: str) -> Dict[str, Any]:
    """A high-voltage case in 湛江 (three stages: two transitions), straight at the case API."""
    body = {
        "name": CHEN["name"], "id_number": CHEN["id_number"], "phone": CHEN["phone"],
        "address": "广东省" + CHEN["address"], "customer_type": "hv", "capacity_kw": 400,
        "channel": channel, "sender_id": sender_id, "locale": "zh_Hans",
        "consent": {"registry": True, "esign": True, "confirmed_at": "2026-11-24T10:00:00+08:00"},
    }
    key = {"Idempotency-Key": f"chaos-push-{sender_id}-{next(_keys)}"}
    response = httpx.post(f"{chaos.stack.case_api_url}/cases", json=body, headers={**key, **staff_header()}, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def transition(chaos: HasStack, case: Dict[str, Any]) -> Dict[str, Any]:
    url = f"{chaos.stack.case_api_url}/cases/{case['case_id']}"
    current = httpx.get(url, headers=staff_header(), timeout=30).json()
    response = httpx.post(
        f"{url}/transitions", json={"to_stage": current["next_stages"][0], "note": None}, headers=staff_header(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def push_line(case: Dict[str, Any]) -> str:
    if case["status"] == "completed":
        return t("notify.completed", "zh_Hans", case_id=case["case_id"])
    stage = next(s["names"]["zh_Hans"] for s in case["stages"] if s["key"] == case["stage"])
    return t("notify.stage_changed", "zh_Hans", case_id=case["case_id"], stage=stage)
