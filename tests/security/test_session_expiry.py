"""Web conversations expire after WEB_SESSION_IDLE_DAYS unused (401, reason session_expired);
their last use is written at most once an hour, and the gateway's grant cache never lets an
expired conversation in.

Before: an issued token opened its conversation forever."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator, List

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import web, web_sessions
from bot.web_sessions import GrantCache, WebSession
from common.db import session_scope
from tests.security.conftest import bearer, gateway_settings, open_gateway, open_session

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time as the sessions see it (issuing and checking), and an empty grant cache."""
    clock = Clock()
    monkeypatch.setattr(web_sessions, "_now", clock)
    monkeypatch.setattr(web, "_grants", GrantCache())
    return clock


@pytest.fixture()
def gateway(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    yield from open_gateway(gateway_settings(tmp_path, web_session_idle_days=30))


def say(client: TestClient, session: dict) -> int:
    return client.post("/api/chat", json={"sender_id": session["sender_id"], "text": "你好"},
                       headers=bearer(session)).status_code


def last_used(client: TestClient, sender_id: str) -> dt.datetime:
    with session_scope(client.app.state.sessions) as db:  # type: ignore[attr-defined]
        value = db.get(WebSession, sender_id).last_used_at
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def test_an_unused_conversation_expires_with_a_reason_the_page_understands(gateway: TestClient, clock: Clock) -> None:
    mine, other = open_session(gateway), open_session(gateway)
    assert say(gateway, mine) == 200
    clock.at = T0 + dt.timedelta(days=30, seconds=1)  # cached a minute ago? no: a month ago
    response = gateway.post("/api/chat", json={"sender_id": mine["sender_id"], "text": "你好"}, headers=bearer(mine))
    assert response.status_code == 401
    assert response.json()["reason"] == "session_expired" and response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    updates = gateway.get(f"/api/chat/{mine['sender_id']}/updates", headers=bearer(mine))
    assert updates.status_code == 401 and updates.json()["reason"] == "session_expired"
    # Another's token still learns nothing about it: 403 as before.
    assert gateway.post("/api/chat", json={"sender_id": mine["sender_id"], "text": "x"},
                        headers=bearer(other)).status_code == 403
    fresh = open_session(gateway)  # what the page does next
    assert say(gateway, fresh) == 200


def test_use_is_recorded_at_most_hourly_and_keeps_the_conversation_open(gateway: TestClient, clock: Clock) -> None:
    mine = open_session(gateway)
    writes: List[str] = []
    real_touch = web_sessions.touch

    def counting_touch(sender_id: str, **kwargs: object) -> None:
        writes.append(sender_id)
        real_touch(sender_id, **kwargs)  # type: ignore[arg-type]

    web_sessions.touch, saved = counting_touch, web_sessions.touch  # type: ignore[assignment]
    try:
        for minutes in range(0, 60, 5):  # an hour of turns: cached or not due, no write
            clock.at = T0 + dt.timedelta(minutes=minutes)
            assert say(gateway, mine) == 200
        assert writes == [] and last_used(gateway, mine["sender_id"]) == T0
        clock.at = T0 + HOUR + dt.timedelta(minutes=1)  # the cached grant lapsed: read, due, one write
        assert say(gateway, mine) == 200 and say(gateway, mine) == 200
        assert writes == [mine["sender_id"]] and last_used(gateway, mine["sender_id"]) == clock.at
        for day in range(1, 5):  # a conversation used every week never expires
            clock.at = T0 + dt.timedelta(days=7 * day * 2)
            assert say(gateway, mine) == 200
    finally:
        web_sessions.touch = saved  # type: ignore[assignment]


def test_the_grant_cache_does_not_outlive_the_expiry(tmp_path: Path, clock: Clock) -> None:
    """An idle limit shorter than the cache's hour: the cached grant ends with the conversation."""
    for client in open_gateway(gateway_settings(tmp_path, web_session_idle_days=30 / (24 * 60))):  # 30 minutes
        mine = open_session(client)
        clock.at = T0 + dt.timedelta(minutes=10)
        assert say(client, mine) == 200  # read and cached; use not due for a write yet
        clock.at = T0 + dt.timedelta(minutes=31)  # within the cache's hour, past the expiry
        assert say(client, mine) == 401


def test_the_grant_cache_alone() -> None:
    cache = GrantCache(lifetime=HOUR)
    auth = "Bearer secret"
    cache.remember("web:a", auth, T0, expires_at=T0 + 3 * HOUR)
    assert cache.granted("web:a", auth, T0 + dt.timedelta(minutes=59))
    assert not cache.granted("web:a", "Bearer other", T0)
    assert not cache.granted("web:a", auth, T0 + HOUR)  # not fresh: read the database again
    assert cache.granted("web:a", auth, T0 + 2 * HOUR, stale_ok=True)  # the database is down: still in
    assert not cache.granted("web:a", auth, T0 + 3 * HOUR, stale_ok=True)  # but never past the expiry
    cache.remember("web:b", auth, T0)  # no expiry (WEB_SESSION_IDLE_DAYS=0)
    assert cache.granted("web:b", auth, T0 + 1000 * HOUR, stale_ok=True)


def test_zero_idle_days_never_expires(tmp_path: Path, clock: Clock) -> None:
    for client in open_gateway(gateway_settings(tmp_path, web_session_idle_days=0)):
        mine = open_session(client)
        clock.at = T0 + dt.timedelta(days=400)
        open_session(client)  # a new conversation deletes nothing when none expire
        assert say(client, mine) == 200


def rows(client: TestClient) -> List[str]:
    with session_scope(client.app.state.sessions) as db:  # type: ignore[attr-defined]
        return sorted(db.scalars(select(WebSession.sender_id)))


def test_long_expired_conversations_are_deleted_as_new_ones_open(gateway: TestClient, clock: Clock) -> None:
    """Expired rows stay `NOTICE_KEPT` (the returning browser is told its conversation ended),
    then the next new conversation deletes them. Before: none was ever deleted."""
    old, other = open_session(gateway), open_session(gateway)
    clock.at = T0 + dt.timedelta(days=60)
    assert say(gateway, other) == 401  # both expired (30 days idle): said so
    clock.at = T0 + dt.timedelta(days=100)
    assert open_session(gateway) and say(gateway, other) == 401  # expired 70 days ago: kept, still said so
    clock.at = T0 + dt.timedelta(days=30 + 90, seconds=1)  # their notice period is over
    newest = open_session(gateway)
    assert newest["sender_id"] in rows(gateway) and old["sender_id"] not in rows(gateway)
    assert other["sender_id"] not in rows(gateway)
    assert say(gateway, old) == 403  # unknown now: the page opens a new conversation
    assert say(gateway, newest) == 200


def test_pruning_is_bounded_and_keeps_what_is_recent(tmp_path: Path, clock: Clock) -> None:
    for client in open_gateway(gateway_settings(tmp_path, web_session_idle_days=30)):
        with session_scope(client.app.state.sessions) as db:  # type: ignore[attr-defined]
            for n in range(web_sessions.PRUNE_BATCH + 5):
                db.add(WebSession(sender_id=f"web:old{n}", token_sha256="x", created_at=T0, last_used_at=T0))
            db.add(WebSession(sender_id="web:kept", token_sha256="x", created_at=T0,
                              last_used_at=T0 + dt.timedelta(days=10)))
        clock.at = T0 + dt.timedelta(days=125)
        with session_scope(client.app.state.sessions) as db:  # type: ignore[attr-defined]
            assert web_sessions.prune(web_sessions.idle_limit(30), session=db) == web_sessions.PRUNE_BATCH
        with session_scope(client.app.state.sessions) as db:  # type: ignore[attr-defined]
            assert web_sessions.prune(web_sessions.idle_limit(30), session=db) == 5
            assert web_sessions.prune(None, session=db) == 0
        assert rows(client) == ["web:kept"]
