"""Token buckets per key (a web sender, a client address, a Telegram chat): bursts allowed,
floods refused.

Each key's bucket holds up to `burst` tokens and refills at `per_minute / 60` tokens a
second; a request takes one token or is refused with the seconds until the next one
(`await buckets.take(key)`, 0.0 when allowed).

Two stores do that arithmetic: `KeyedBuckets` here keeps the buckets in this process's memory
(the default, one gateway: `make run`); with `RATE_LIMIT_REDIS_URL` set, `RedisBuckets`
(`bot/rate_limit_redis.py`) keeps them in Redis, so several gateways (the scaled-out profile)
share one limit instead of each granting its own, which would double it and let a flood
spread over both pass. In memory at most `max_keys` are kept: the least recently used goes
first, and an idle bucket is full again anyway, so forgetting it changes nothing.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Awaitable, Callable, List, Optional, Protocol

from fastapi.responses import JSONResponse

from common.i18n import t
from common.settings import Settings


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets(Protocol):
    """What the gateway's callers use: either store."""

    @property
    def enabled(self) -> bool: ...

    async def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when allowed, else the seconds to wait for one."""
        ...


def default_burst(per_minute: float, burst: Optional[float]) -> float:
    """Half a minute's budget unless given (at least one request)."""
    return float(burst if burst is not None else max(1.0, per_minute / 2))


class KeyedBuckets:
    """One token bucket per key, in this process's memory; `per_minute` 0 means no limit."""

    def __init__(self, per_minute: float, burst: Optional[float] = None, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = default_burst(per_minute, burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when allowed, else the seconds to wait for one."""
        return self.spend(key)

    def spend(self, key: str) -> float:
        """`take` without the event loop (the arithmetic; the Redis store's fallback)."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


@dataclass
class ChatLimits:
    """The gateway's buckets: per web sender, per client address, new sessions, per Telegram
    chat (the same budget as a web sender, its own buckets)."""

    sender: Buckets
    address: Buckets
    sessions: Buckets
    telegram: Buckets
    _closers: List[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatLimits:
        """In memory, or in Redis when `RATE_LIMIT_REDIS_URL` is set (one client for all four)."""
        rates = {"sender": settings.rate_sender_per_min, "address": settings.rate_ip_per_min,
                 "sessions": settings.rate_sessions_per_min, "telegram": settings.rate_sender_per_min}
        if not settings.rate_limit_redis_url:
            return cls(**{name: KeyedBuckets(rate) for name, rate in rates.items()})
        from bot.rate_limit_redis import RedisBuckets, connect  # noqa: PLC0415 - only when configured

        client = connect(settings.rate_limit_redis_url)
        stores = {name: RedisBuckets(client, f"{settings.redis_key_prefix}:rate:{name}", rate)
                  for name, rate in rates.items()}
        return cls(**stores, _closers=[client.close])

    async def close(self) -> None:
        """Closes the Redis connections, if any (the gateway's shutdown)."""
        for closer in self._closers:
            await closer()


def too_many(wait_s: float, locale: str) -> JSONResponse:
    """The API's polite refusal: 429, `Retry-After`, the catalog's 请稍后再试 and a reason."""
    retry = max(1, math.ceil(wait_s))
    return JSONResponse(
        {"error": t("input.rate_limited", locale), "reason": "rate_limited", "retry_after_s": retry},
        status_code=429, headers={"Retry-After": str(retry)},
    )
