"""Rate limits shared by several gateways: the token buckets in Redis (bot/rate_limit_redis.py)
against the real server `REDIS_URL` names, each test under its own key prefix; skipped, saying
so, when no Redis is there.

Before: each gateway had its own buckets in memory, so two gateways doubled every limit and a
flood spread over both passed."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from pathlib import Path
from typing import AsyncIterator, Iterator, List

import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from bot import rate_limit_redis
from bot.rate_limit import ChatLimits, KeyedBuckets
from bot.rate_limit_redis import RedisBuckets, connect
from tests.security.conftest import bearer, gateway_settings, open_gateway, open_session

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_missing() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (redis.RedisError, ValueError) as exc:
        return f"no Redis at {REDIS_URL}: {type(exc).__name__} (set REDIS_URL)"
    return None


@pytest.fixture()
def prefix() -> Iterator[str]:
    """A fresh key prefix; its keys are deleted afterwards."""
    reason = redis_missing()
    if reason:
        pytest.skip(reason)
    name = f"test{secrets.token_hex(4)}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest_asyncio.fixture()
async def clients(prefix: str) -> AsyncIterator[List[aioredis.Redis]]:
    """Two clients: what two gateway processes each hold."""
    pair = [connect(REDIS_URL), connect(REDIS_URL)]
    yield pair
    for client in pair:
        await client.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_burst_then_refusal_then_refill(clients: List[aioredis.Redis], prefix: str) -> None:
    clock = Clock()
    buckets = RedisBuckets(clients[0], f"{prefix}:rate:sender", per_minute=60, burst=3, clock=clock)
    assert [await buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await buckets.take("a") == pytest.approx(1.0)
    assert await buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert await buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert await buckets.take("a") == 0.0


@pytest.mark.asyncio
async def test_the_same_arithmetic_as_the_buckets_in_memory(clients: List[aioredis.Redis], prefix: str) -> None:
    clock = Clock()
    in_redis = RedisBuckets(clients[0], f"{prefix}:rate:x", per_minute=20, burst=4, clock=clock)
    in_memory = KeyedBuckets(per_minute=20, burst=4, clock=clock)
    for step in (0, 0, 0.1, 0, 0, 2.9, 0, 0.4, 7.0, 0, 0, 0, 0, 0, 30.0, 0):
        clock.now += step
        assert await in_redis.take("k") == pytest.approx(in_memory.spend("k"), abs=1e-6)


@pytest.mark.asyncio
async def test_two_gateways_share_one_limit(clients: List[aioredis.Redis], prefix: str) -> None:
    """Two stores on two connections (two gateways), one prefix: one bucket, the server's clock."""
    first, second = (RedisBuckets(client, f"{prefix}:rate:sender", per_minute=6) for client in clients)
    waits = [await store.take("web:flood") for _ in range(3) for store in (first, second)]
    assert waits[:3] == [0.0, 0.0, 0.0]  # burst 3 (half of 6/min), spread over both
    assert all(wait > 9 for wait in waits[3:])  # then one every 10 s, whichever gateway asks
    other = RedisBuckets(clients[0], f"{prefix}x:rate:sender", per_minute=6)
    assert await other.take("web:flood") == 0.0  # another prefix: another deployment


@pytest.mark.asyncio
async def test_real_time_refill_on_the_servers_clock(clients: List[aioredis.Redis], prefix: str) -> None:
    buckets = RedisBuckets(clients[0], f"{prefix}:rate:sender", per_minute=600, burst=1)  # one every 0.1 s
    assert await buckets.take("a") == 0.0
    assert 0 < await buckets.take("a") <= 0.1
    await asyncio.sleep(0.15)
    assert await buckets.take("a") == 0.0


@pytest.mark.asyncio
async def test_an_idle_bucket_expires(clients: List[aioredis.Redis], prefix: str) -> None:
    buckets = RedisBuckets(clients[0], f"{prefix}:rate:sender", per_minute=60, burst=30)
    await buckets.take("a")
    ttl = await clients[0].ttl(buckets.key("a"))
    assert 0 < ttl <= 1  # one token spent: full again within a second, then gone
    for _ in range(10):
        await buckets.take("a")
    assert 1 < await clients[0].ttl(buckets.key("a")) <= 11
    assert await clients[0].hget(buckets.key("a"), "tokens") is not None
    fast = RedisBuckets(clients[0], f"{prefix}:rate:fast", per_minute=60, burst=1)
    await fast.take("b")
    await asyncio.sleep(1.3)
    assert not await clients[0].exists(fast.key("b"))


@pytest.mark.asyncio
async def test_an_unreachable_redis_fails_open_to_local_buckets_with_one_warning(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit_redis, "RETRY_AFTER_S", 0.0)  # try Redis on every request
    client = connect("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    buckets = RedisBuckets(client, "test:rate:sender", per_minute=60, burst=2)
    with caplog.at_level(logging.WARNING, logger="bot.rate_limit_redis"):
        started = time.monotonic()
        waits = [await buckets.take("a") for _ in range(5)]
        elapsed = time.monotonic() - started
    await client.close()
    assert waits[:2] == [0.0, 0.0] and all(w > 0 for w in waits[2:])  # still limited, in this process
    assert elapsed < 2.5
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


@pytest.fixture()
def two_gateways(tmp_path: Path, prefix: str) -> Iterator[List[TestClient]]:
    """Two gateway apps on one database and one Redis prefix, as `make run-scaled` runs them."""
    settings = gateway_settings(tmp_path, rate_sender_per_min=6, rate_ip_per_min=0, rate_sessions_per_min=0,
                                rate_limit_redis_url=REDIS_URL, redis_key_prefix=prefix)
    first, second = open_gateway(settings), open_gateway(settings)
    clients = [next(first), next(second)]
    yield clients
    for gen in (first, second):
        with pytest.raises(StopIteration):
            next(gen)


def test_a_flood_spread_over_two_gateways_is_limited_once(two_gateways: List[TestClient]) -> None:
    assert all(isinstance(c.app.state.limits, ChatLimits) for c in two_gateways)  # type: ignore[attr-defined]
    session = open_session(two_gateways[0])
    codes = [
        two_gateways[n % 2].post("/api/chat", json={"sender_id": session["sender_id"], "text": "你好"},
                                 headers=bearer(session)).status_code
        for n in range(6)
    ]
    assert codes == [200, 200, 200, 429, 429, 429]  # burst 3 in all, not 3 per gateway
