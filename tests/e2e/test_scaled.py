"""The scaled-out profile (tools/scaled.py) on real engines: a case API, two action servers,
two Rasa servers sharing the tracker store on PostgreSQL and a Redis lock store, and two
gateways. One stack for the module, in a scratch PostgreSQL database and its own Redis key
prefix; skipped, saying which, when PostgreSQL or Redis is not there.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from typing import Any, Dict, Iterator, List

import httpx
import pytest
from sqlalchemy import select

from common.db import make_engine, make_session_factory, session_scope
from common.outbox import OutboxMessage
from tests.databases import postgres_url, scratch_database
from tests.e2e.application_helpers import apply, cases_of
from tests.e2e.conftest import Chat, texts
from tools.scaled import ScaledPorts, ScaledStack, missing_servers, prepare_postgres, redis_env
from tools.secrets_env import staff_header
from tools.train import ensure_model
from tools.web_chat import BENCH_ENV

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
UNAVAILABLE = "暂时无法回复"


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    reason = missing_servers(postgres_url(), REDIS_URL)
    if reason:
        pytest.skip(reason)
    model = ensure_model()
    with scratch_database("power_scaled") as url:
        stack = ScaledStack(
            model=model, scaled_ports=ScaledPorts.free(), var_dir=tmp_path_factory.mktemp("scaled"),
            stores=prepare_postgres(url), redis=redis_env(REDIS_URL, f"test{secrets.token_hex(4)}"),
            extra_env={"NOTIFIER_POLL_S": "0.2", **BENCH_ENV},
        )
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def gateways(scaled: ScaledStack) -> Iterator[List[httpx.Client]]:
    clients = [httpx.Client(base_url=url, timeout=30.0) for url in scaled.gateway_urls]
    yield clients
    for client in clients:
        client.close()


class Alternating(Chat):
    """One conversation whose turns go to each gateway in turn (each through `Chat`)."""

    def __init__(self, chats: List[Chat]):
        self.client, self.sender_id, self.token = chats[0].client, chats[0].sender_id, chats[0].token
        self.chats = chats
        self.turns = 0

    def say(self, text: str, locale: Any = None) -> Dict[str, Any]:
        chat = self.chats[self.turns % len(self.chats)]
        self.turns += 1
        reply = chat.say(text, locale)
        assert UNAVAILABLE not in texts(reply), f"turn {self.turns} ({text!r}) was not answered"
        return reply


def _conversation(gateways: List[httpx.Client], name: str) -> Alternating:
    """A conversation opened on the first gateway (sessions live in the shared database)."""
    first = Chat(gateways[0])
    return Alternating([first] + [Chat.through(client, first) for client in gateways[1:]])


def test_turns_alternating_between_gateways_complete_one_application(scaled, gateways) -> None:  # noqa: ANN001
    chat = _conversation(gateways, "apply")
    apply(chat)
    receipt = chat.say("/affirm")
    case_id = receipt["meta"]["case_id"]
    assert case_id and case_id in texts(receipt)
    assert [case["case_id"] for case in cases_of(scaled, chat.sender_id)] == [case_id]
    assert case_id in texts(chat.say("我的申请到哪一步了"))


def test_a_status_update_is_pushed_once_with_both_gateways_notifiers(scaled, gateways) -> None:  # noqa: ANN001
    chat = _conversation(gateways, "push")
    apply(chat)
    case_id = chat.say("/affirm")["meta"]["case_id"]
    current = httpx.get(f"{scaled.case_api_url}/cases/{case_id}", headers=staff_header(), timeout=30).json()
    moved = httpx.post(f"{scaled.case_api_url}/cases/{case_id}/transitions",
                       json={"to_stage": current["next_stages"][0], "note": None}, headers=staff_header(), timeout=30)
    assert moved.status_code == 200, moved.text
    deadline = time.monotonic() + 30
    seen: List[List[Dict[str, Any]]] = []
    while time.monotonic() < deadline:
        seen = [Chat.through(c, chat).updates(0).json()["messages"]
                for c in gateways]
        if all(any(case_id in m["text"] for m in messages) for messages in seen):
            break
        time.sleep(0.3)
    time.sleep(2)  # both notifiers keep polling: a second copy would show up now
    seen = [Chat.through(c, chat).updates(0).json()["messages"] for c in gateways]
    for messages in seen:
        assert len([m for m in messages if case_id in m["text"]]) == 1, messages
    engine = make_engine(scaled.stores["DATABASE_URL"])
    with session_scope(make_session_factory(engine)) as session:
        keys = session.execute(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.sender_id == chat.sender_id,
                                                   OutboxMessage.kind == "status")
        ).scalars().all()
    engine.dispose()
    assert len(keys) == 1 and keys[0].startswith("event:")


def _apply_killing(scaled, chat, service: str) -> str:  # noqa: ANN001
    """The whole application, through both gateways in turn, with `service` killed (SIGKILL)
    after the second answer; the case id the confirmation got."""
    assert chat.say("我要报装")["meta"]["requested_slot"] == "name"
    assert chat.say("陈海明")["meta"]["requested_slot"] == "id_number"
    victim = scaled.service(service)
    assert victim.process is not None
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    assert chat.say("440802198003120310")["meta"]["requested_slot"] == "address"
    assert chat.say("湛江市赤坎区人民大道中28号")["meta"]["requested_slot"] == "phone"
    assert chat.say("13800138000")["meta"]["requested_slot"] == "customer_type"
    assert chat.say('/inform{"customer_type": "resident"}')["meta"]["requested_slot"] == "capacity_kw"
    reply = chat.say("8千瓦")
    if reply["meta"]["requested_slot"] == "linked_utilities":
        reply = chat.say('/inform{"linked": "none"}')
    assert reply["meta"]["requested_slot"] == "confirm"
    return chat.say("/affirm")["meta"]["case_id"]


def test_killing_one_action_server_mid_conversation_loses_no_turn(scaled, gateways) -> None:  # noqa: ANN001
    """Both Rasa servers call both action servers (nlu/action_failover.py): with action server 1
    dead every action goes to action server 2, from Rasa 1 (its own is the dead one) too.
    Runs before the Rasa kill below, while both Rasa servers still take turns."""
    chat = _conversation(gateways, "kill-actions")
    case_id = _apply_killing(scaled, chat, "actions-1")
    assert case_id and [case["case_id"] for case in cases_of(scaled, chat.sender_id)] == [case_id]
    assert case_id in texts(chat.say("我的申请到哪一步了"))
    dead = f"action server http://127.0.0.1:{scaled.scaled_ports.actions[0]}/webhook unreachable"
    assert dead in (scaled.var_dir / "logs" / "rasa-1.log").read_text()  # tried, then skipped


def test_killing_one_rasa_mid_conversation_loses_no_turn(scaled, gateways) -> None:  # noqa: ANN001
    chat = _conversation(gateways, "kill")
    case_id = _apply_killing(scaled, chat, "rasa-1")  # every later turn lands on the live Rasa
    assert [case["case_id"] for case in cases_of(scaled, chat.sender_id)] == [case_id]
    logs = "".join((scaled.var_dir / "logs" / f"gateway-{n}.log").read_text() for n in (1, 2))
    assert f"rasa {scaled.rasa_urls[0]} unreachable" in logs  # the dead one was tried, then skipped
