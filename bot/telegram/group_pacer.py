"""Keeps the bot's posts to the staff group under Telegram's per-group limit.

Telegram takes about 20 messages a minute in one group, all its topics together, and answers
429 beyond that. python-telegram-bot's `AIORateLimiter` only reacts to the 429 (and pauses
every send of the bot, the residents' replies included, while it waits). This pacer keeps the
staff group's own posts below the limit in any sliding minute, so the residents' chats are
never held up by a busy staff group; callers that can merge their texts (the resident's
messages mirrored into a topic) wait for a free slot first and send what gathered meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Callable, Deque

# A margin under Telegram's "about 20 a minute".
POSTS_PER_WINDOW = 18
WINDOW_S = 60.0


class GroupPacer:
    """At most `limit` posts in any `window_s` seconds; `acquire()` waits for a slot."""

    def __init__(self, limit: int = POSTS_PER_WINDOW, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._posts: Deque[float] = deque()
        self._lock = asyncio.Lock()

    def _wait_s(self) -> float:
        now = self._clock()
        while self._posts and self._posts[0] <= now - self.window_s:
            self._posts.popleft()
        if len(self._posts) < self.limit:
            return 0.0
        return self._posts[0] + self.window_s - now

    async def wait_free(self) -> None:
        """Waits until a post would be allowed now (without taking the slot)."""
        while (wait := self._wait_s()) > 0:
            await asyncio.sleep(wait)

    async def acquire(self) -> None:
        """Waits for and takes a slot (first come, first served)."""
        async with self._lock:
            while (wait := self._wait_s()) > 0:
                await asyncio.sleep(wait)
            self._posts.append(self._clock())

    def backoff(self, seconds: float) -> None:
        """Telegram asked to wait (429 despite the pacing): fill the window for `seconds`."""
        until = self._clock() + max(0.0, seconds) - self.window_s
        self._posts = deque([until] * self.limit)
