"""The only code that talks to the Rasa server(s): send a message, read the tracker.

`RASA_URL` may name several Rasa servers, comma-separated (the scaled-out profile: they
share the tracker store and a Redis lock store, so any of them can take any turn). Requests
go round-robin; an instance that refuses or drops the connection is marked down for
`DOWN_FOR_S` and the request moves to the next one, so a crashed Rasa loses no turn. A
read timeout is not retried elsewhere: that Rasa may still be handling the message, and a
second one would handle it twice. A turn is therefore sent twice only if Rasa died after
saving it but before answering (milliseconds).
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, TypeVar, Union
from urllib.parse import quote

import httpx

from common.rasa_auth import rasa_api_headers
from common.service_secret import SECRET_HEADER

logger = logging.getLogger(__name__)
DOWN_FOR_S = 5.0
T = TypeVar("T")
# The request never reached a working Rasa: safe to send to another instance.
_NOT_DELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
                  httpx.WriteError, httpx.PoolTimeout)


def conversation_path(sender_id: str) -> str:
    """The sender id as a path segment of Rasa's HTTP API. Sanic does not unquote path
    parameters, so `tg%3A42` would name another (empty) conversation than `tg:42`: the
    characters a sender id may hold (A-Za-z0-9_.:@-) stay as they are."""
    return quote(sender_id, safe=":@")


class RasaUnavailable(RuntimeError):
    """Rasa did not answer, or answered with an error."""


class _Instance:
    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.down_until = 0.0

    def up(self, now: float) -> bool:
        return self.down_until <= now


def _urls(base_url: Union[str, Sequence[str]]) -> List[str]:
    items = base_url.split(",") if isinstance(base_url, str) else list(base_url)
    urls = [item.strip() for item in items if item.strip()]
    if not urls:
        raise ValueError("at least one Rasa URL is needed")
    return urls


class RasaClient:
    """Async client of Rasa's REST channel and HTTP API, over one or several instances."""

    def __init__(
        self, base_url: Union[str, Sequence[str]], http: httpx.AsyncClient, timeout_s: float = 10.0, token: str = "",
        service_secret: str = "",
    ):
        self._instances = [_Instance(url) for url in _urls(base_url)]
        self._next = itertools.cycle(range(len(self._instances)))
        self._channel_headers = {SECRET_HEADER: service_secret} if service_secret else {}
        self._http = http
        self._timeout = timeout_s
        self._token = token  # signs the JWT of Rasa's HTTP API (common/rasa_auth.py), never sent itself

    def _order(self) -> List[_Instance]:
        """This request's instances: round-robin start, instances marked down last."""
        start = next(self._next)
        ring = self._instances[start:] + self._instances[:start]
        now = time.monotonic()
        return [i for i in ring if i.up(now)] + [i for i in ring if not i.up(now)]

    async def _each(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Runs `call(base)` on the first instance that takes the request."""
        failure: Optional[Exception] = None
        for instance in self._order():
            try:
                result = await call(instance.base)
            except _NOT_DELIVERED as exc:
                if instance.up(time.monotonic()) and len(self._instances) > 1:
                    logger.warning("rasa %s unreachable (%s); marked down for %.0fs, trying the next",
                                   instance.base, type(exc).__name__, DOWN_FOR_S)
                instance.down_until = time.monotonic() + DOWN_FOR_S
                failure = exc
                continue
            instance.down_until = 0.0
            return result
        assert failure is not None
        raise failure

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Sends one user message and returns the bot's messages for that turn."""

        async def post(base: str) -> httpx.Response:
            return await self._http.post(
                f"{base}/webhooks/rest/webhook",
                json={"sender": sender_id, "message": text, "metadata": metadata},
                headers=self._channel_headers,  # the REST channel's shared secret (nlu/channels.py)
                timeout=self._timeout,
            )

        try:
            response = await self._each(post)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"rasa: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"rasa: HTTP {response.status_code}")
        body = response.json()
        if not isinstance(body, list):
            raise RasaUnavailable("rasa: unexpected response body")
        return body

    async def _read_tracker(self, sender_id: str, include_events: str) -> Optional[Dict[str, Any]]:
        """The conversation's tracker from the first instance that answers; None if unreadable."""

        async def get(base: str) -> httpx.Response:
            return await self._http.get(
                f"{base}/conversations/{conversation_path(sender_id)}/tracker",
                params={"include_events": include_events},
                headers=rasa_api_headers(self._token, "gateway"),
                timeout=self._timeout,
            )

        try:
            response = await self._each(get)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def tracker(self, sender_id: str) -> Optional[Dict[str, Any]]:
        """The conversation's current state (slots, latest message) without its events."""
        return await self._read_tracker(sender_id, "NONE")

    async def events(self, sender_id: str) -> Optional[List[Dict[str, Any]]]:
        """The conversation's events since its last restart (the transcript staff read, the
        recovery of an interrupted turn); None when Rasa cannot be read."""
        tracker = await self._read_tracker(sender_id, "AFTER_RESTART")
        return None if tracker is None else list(tracker.get("events") or [])

    async def append_event(self, sender_id: str, event: Dict[str, Any]) -> bool:
        """Appends an event (e.g. `{"event": "pause"}` / `"resume"`) to the conversation's tracker."""

        async def post(base: str) -> httpx.Response:
            return await self._http.post(
                f"{base}/conversations/{conversation_path(sender_id)}/tracker/events",
                params={"include_events": "NONE"},
                headers=rasa_api_headers(self._token, "gateway"),
                json=event,
                timeout=self._timeout,
            )

        try:
            response = await self._each(post)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def healthy(self) -> bool:
        """True when at least one instance answers (each is probed; the answers mark them up or down)."""
        any_up = False
        for instance in self._instances:
            try:
                response = await self._http.get(f"{instance.base}/", timeout=2.0)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            instance.down_until = 0.0 if ok else time.monotonic() + DOWN_FOR_S
            any_up = any_up or ok
        return any_up
