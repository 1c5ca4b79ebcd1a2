"""Token buckets in Redis, shared by every gateway that uses the same server and key prefix.

With two gateways (the scaled-out profile) in-memory buckets give each process its own
budget: the limit doubles and a flood spread over both passes. Here a bucket is one Redis
hash (`<prefix>:<key>`, fields `tokens` and `at`), and one Lua script does the refill and the
take atomically on the server, with the server's clock, so gateways on machines whose clocks
disagree still share one bucket exactly. The arithmetic is `KeyedBuckets.spend`'s. Each key
expires once its bucket would be full again: an idle bucket vanishes, and a missing one is a
full one, so Redis keeps only the buckets of recent senders.

A rate limiter must not take the assistant down: when Redis cannot be reached (refused,
timed out, a script error), `take` fails open to this process's own in-memory buckets, so the
limit is per gateway until Redis answers again (the behaviour before the scaled-out profile),
logs one warning per `WARN_EVERY_S`, and does not try Redis again for `RETRY_AFTER_S`, so a
dead server costs a turn no connect timeout either.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.rate_limit import KeyedBuckets, default_burst

logger = logging.getLogger(__name__)

WARN_EVERY_S = 60.0
RETRY_AFTER_S = 5.0
# A turn must not wait on a slow Redis: give up quickly and fall back.
SOCKET_TIMEOUT_S = 0.5

# KEYS[1]: the bucket; ARGV: rate (tokens/s), burst, now (seconds; empty = the server's TIME).
# Returns the seconds to wait as a string (Redis truncates Lua numbers to integers).
TAKE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: TIME before a write
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / rate)))
return string.format('%.17g', wait)
"""


def connect(url: str) -> aioredis.Redis:
    """An asyncio client with short timeouts (a rate limiter waits on nobody)."""
    return aioredis.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S)


class RedisBuckets:
    """One token bucket per key in Redis under `prefix`; `per_minute` 0 means no limit.

    `clock` (seconds) replaces the server's clock, for tests; leave it None in service.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, per_minute: float, burst: Optional[float] = None,
                 clock: Optional[Callable[[], float]] = None):
        self.rate = per_minute / 60.0
        self.burst = default_burst(per_minute, burst)
        self.prefix = prefix
        self._client = client
        self._script = client.register_script(TAKE_SCRIPT)
        self._clock = clock
        self._fallback = KeyedBuckets(per_minute, burst)
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY_S

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def take(self, key: str) -> float:
        """Takes a token for `key`: 0.0 when allowed, else the seconds to wait for one."""
        if not self.enabled:
            return 0.0
        if time.monotonic() < self._down_until:
            return self._fallback.spend(key)
        now = "" if self._clock is None else repr(self._clock())
        try:
            wait = await self._script(keys=[self.key(key)], args=[repr(self.rate), repr(self.burst), now])
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return self._fallback.spend(key)
        return float(wait)

    def _unreachable(self, exc: BaseException) -> None:
        at = time.monotonic()
        self._down_until = at + RETRY_AFTER_S
        if at - self._warned_at >= WARN_EVERY_S:
            self._warned_at = at
            logger.warning("rate limits: Redis unreachable (%s); limiting in this process only until it answers",
                           type(exc).__name__)
