"""One open hand-off per conversation across processes: two hand-off services (two gateways)
on one database, on SQLite and PostgreSQL. The database's partial unique index decides; the
service that loses the race returns the winner's hand-off.

Before: an `asyncio.Lock` inside one process was the only guard, so two gateways opened two."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator, List, Tuple

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.handoff import models as m
from bot.handoff import service as service_module
from bot.handoff.service import HandoffService
from common.db import create_all, make_engine, make_session_factory, session_scope


@pytest.fixture()
def two_gateways(database_url: str) -> Iterator[Tuple[sessionmaker, sessionmaker]]:
    """Two session factories on two engines (two processes' pools) over one database."""
    engines = [make_engine(database_url), make_engine(database_url)]
    create_all(engines[0])
    yield make_session_factory(engines[0]), make_session_factory(engines[1])
    for engine in engines:
        engine.dispose()


def open_ones(sessions: sessionmaker, sender_id: str) -> List[int]:
    with session_scope(sessions) as session:
        return list(session.execute(
            select(m.Handoff.id).where(m.Handoff.sender_id == sender_id, m.Handoff.state.in_(m.OPEN_STATES))
        ).scalars())


def test_the_database_refuses_a_second_open_hand_off(two_gateways: Tuple[sessionmaker, sessionmaker]) -> None:
    first, _ = two_gateways
    with session_scope(first) as session:
        session.add(m.Handoff(sender_id="web:a", channel="web", locale="zh_Hans", reason="asked"))
    with pytest.raises(IntegrityError), session_scope(first) as session:
        session.add(m.Handoff(sender_id="web:a", channel="web", locale="zh_Hans", reason="asked", state="active"))
    with session_scope(first) as session:  # closed ones are not covered: history stays
        session.add(m.Handoff(sender_id="web:a", channel="web", locale="zh_Hans", reason="old", state="closed"))
        session.add(m.Handoff(sender_id="web:a", channel="web", locale="zh_Hans", reason="old", state="closed"))
        session.add(m.Handoff(sender_id="web:b", channel="web", locale="zh_Hans", reason="asked"))
    assert len(open_ones(first, "web:a")) == 1


@pytest.mark.asyncio
async def test_the_gateway_losing_the_race_returns_the_winners_hand_off(
        two_gateways: Tuple[sessionmaker, sessionmaker], monkeypatch: pytest.MonkeyPatch) -> None:
    """Both gateways read "none open" before either inserts (the race window, made certain)."""
    gateway_1, gateway_2 = (HandoffService(sessions) for sessions in two_gateways)
    real = service_module.open_handoff_of
    stale_reads = [None, None]

    def open_handoff_of(sender_id: str, *, session):  # type: ignore[no-untyped-def]
        return stale_reads.pop() if stale_reads else real(sender_id, session=session)

    monkeypatch.setattr(service_module, "open_handoff_of", open_handoff_of)
    won = await gateway_1.request("web:race", "web", "zh_Hans", "asked", "normal")
    lost = await gateway_2.request("web:race", "web", "zh_Hans", "outage", "high")
    assert lost.id == won.id and not stale_reads
    assert open_ones(two_gateways[0], "web:race") == [won.id]
    with session_scope(two_gateways[0]) as session:
        assert session.get(m.Handoff, won.id).priority == m.PRIORITY_HIGH  # the loser's request escalated it
    await asyncio.gather(gateway_1.idle(), gateway_2.idle())


def test_two_gateways_opening_at_once_give_one_open_hand_off(two_gateways: Tuple[sessionmaker, sessionmaker]) -> None:
    """Two threads, each its own event loop, engine and service, open for the same senders together."""
    senders = [f"web:c{n}" for n in range(15)]
    barrier = threading.Barrier(2, timeout=60)
    results: List[List[int]] = [[], []]
    errors: List[BaseException] = []

    def gateway(index: int) -> None:
        async def run() -> None:
            service = HandoffService(two_gateways[index])
            for sender in senders:
                barrier.wait()
                handoff = await service.request(sender, "web", "zh_Hans", "asked", "normal")
                results[index].append(handoff.id)
            await service.idle()

        try:
            asyncio.run(run())
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=gateway, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert results[0] == results[1]  # each sender: both gateways got the same hand-off
    for sender, handoff_id in zip(senders, results[0], strict=True):
        assert open_ones(two_gateways[0], sender) == [handoff_id]
    with session_scope(two_gateways[0]) as session:
        assert session.execute(select(func.count()).select_from(m.Handoff)).scalar_one() == len(senders)
