"""Token buckets per key (a web sender, a client address, a Telegram chat): bursts allowed,
floods refused.

Each key's bucket holds up to `burst` tokens and refills at `per_minute / 60` tokens a
second; a request takes one token or is refused with the seconds until the next one. Buckets
live in the gateway's memory (one process; a scaled-out profile would keep them in Redis) and
at most `max_keys` are kept: the least recently used goes first, and an idle bucket is full
again anyway, so forgetting it changes nothing.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

from fastapi.responses import JSONResponse

from common.i18n import t
from common.settings import Settings


@dataclass
class _Bucket:
    tokens: float
    at: float


class KeyedBuckets:
    """One token bucket per key; `per_minute` 0 means no limit."""

    def __init__(self, per_minute: float, burst: Optional[float] = None, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1.0, per_minute / 2))
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when allowed, else the seconds to wait for one."""
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
    """The gateway's buckets: per sender (web and Telegram), per client address, new sessions."""

    sender: KeyedBuckets
    address: KeyedBuckets
    sessions: KeyedBuckets

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatLimits:
        return cls(
            sender=KeyedBuckets(settings.rate_sender_per_min),
            address=KeyedBuckets(settings.rate_ip_per_min),
            sessions=KeyedBuckets(settings.rate_sessions_per_min),
        )


def too_many(wait_s: float, locale: str) -> JSONResponse:
    """The API's polite refusal: 429, `Retry-After`, the catalog's 请稍后再试 and a reason."""
    retry = max(1, math.ceil(wait_s))
    return JSONResponse(
        {"error": t("input.rate_limited", locale), "reason": "rate_limited", "retry_after_s": retry},
        status_code=429, headers={"Retry-After": str(retry)},
    )
