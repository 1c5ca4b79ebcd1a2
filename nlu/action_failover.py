"""Rasa's action endpoint over several action servers: round-robin with failover.

`ACTION_SERVER_URLS` (comma-separated, this Rasa's own action server first) names the action
servers; empty, Rasa keeps the one endpoint endpoints.yml reads (`ACTION_SERVER_URL`) exactly
as before. With two or more, `nlu/server.py` replaces endpoints.yml's `action_endpoint` by a
`FailoverEndpointConfig`: the same headers (`X-Service-Secret`), params, token and CA file,
one `EndpointConfig` per URL doing the HTTP as Rasa does, and `request` choosing the URL.
Requests go round-robin; a URL whose server did not answer is marked down for `DOWN_FOR_S`
and the request moves to the next (URLs marked down come last, so a request still reaches
one of them when every other has failed too, and a server back up is used again after its
pause). The passive check is the health check: no probe traffic between turns.

What is resent elsewhere, and why that is safe:
- No connection (`ClientConnectorError`: refused, unreachable, DNS; or the connection not
  made within `CONNECT_TIMEOUT_S`, `ServerTimeoutError`, which aiohttp raises here only for
  connecting since no socket-read timeout is set): nothing was sent, nothing ran.
- The connection dropped with no response (`ServerDisconnectedError`, `ClientOSError` such
  as a reset): the action server died or was killed mid-request, so the action may have run
  in part. Rasa applies only the events of a response, so the conversation cannot take a
  half-run action's events twice; the side effects outside Rasa are built for a repeat: the
  submission is written down before the case API call and created under the form's
  `Idempotency-Key` (`actions/submitting.py`: a second run submits the body written the
  first time and gets the same case back), a status-code request texts one more code
  within the case API's per-requester limits. Without the resend the turn fails and the
  resident sends the same message again, which repeats the action all the same.
Not resent: a timeout waiting for the response (`asyncio.TimeoutError`): that server may
still be running the action, and a second one would run it beside it; an HTTP error status
(Rasa's own handling: 400 is a form's rejection). One budget, the caller's `timeout` (Rasa's
`RASA_ACTION_TIMEOUT_S`), covers every attempt, so failover never makes Rasa wait longer
than the gateway allows for the turn (`common/timeouts.py`). When no server answers, the last
connection error is raised: an `aiohttp.ClientConnectionError`, which `RemoteAction.run`
turns into its usual "couldn't connect" `RasaException`.

Connections are kept (`PooledEndpointConfig`, one or several servers alike): Rasa 3.6 opens
an `aiohttp.ClientSession`, and so a new TCP connection, for every action call, about 5 % of
its CPU per turn under load, plus an accept on the action server. Idle connections are closed
by the client after `KEEP_IDLE_S`, before Sanic's own keep-alive timeout (5 s) closes them
from the server's side, so a request is never sent on a connection the server is closing.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

import aiohttp
import rasa.utils.endpoints as rasa_endpoints
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig

from common import fast_json

logger = logging.getLogger(__name__)
DOWN_FOR_S = 5.0
CONNECT_TIMEOUT_S = 3.0
KEEP_IDLE_S = 2.0
# The action server did not answer at all: safe to send to another (module docstring).
NOT_ANSWERED: Tuple[type, ...] = (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError,
                                  aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class _Kept:
    """`async with` over a session that outlives the block (Rasa's `request` closes its own)."""

    def __init__(self, session: aiohttp.ClientSession):
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None


class PooledEndpointConfig(EndpointConfig):
    """Rasa's endpoint, every request through one long-lived session (module docstring)."""

    _pooled: Optional[aiohttp.ClientSession] = None

    def session(self) -> Any:
        if self._pooled is None or self._pooled.closed:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            self._pooled = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=rasa_endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEP_IDLE_S),
                json_serialize=fast_json.dumps,  # the whole tracker, every action call
            )
        return _Kept(self._pooled)

    def copy(self) -> PooledEndpointConfig:
        return single_endpoint(self, self.url)


def single_endpoint(endpoint: EndpointConfig, url: str) -> PooledEndpointConfig:
    """Rasa's plain endpoint, its connections kept, with `endpoint`'s settings at `url`
    (`EndpointConfig.copy` would drop the CA file)."""
    return PooledEndpointConfig(url, endpoint.params, endpoint.headers, endpoint.basic_auth, endpoint.token,
                                endpoint.token_name, endpoint.cafile, **endpoint.kwargs)


class _Target:
    """One action server: Rasa's own endpoint for its URL, and until when it counts as down."""

    def __init__(self, endpoint: EndpointConfig):
        self.endpoint = endpoint
        self.down_until = 0.0

    def up(self, now: float) -> bool:
        return self.down_until <= now


class FailoverEndpointConfig(EndpointConfig):
    """An `EndpointConfig` whose `request` goes to several URLs round-robin with failover."""

    def __init__(
        self, urls: Sequence[str], *, down_for_s: float = DOWN_FOR_S, connect_timeout_s: float = CONNECT_TIMEOUT_S,
        **config: Any,
    ) -> None:
        urls = [url for url in urls if url]
        if not urls:
            raise ValueError("at least one action server URL is needed")
        super().__init__(url=urls[0], **config)  # `url` is what Rasa's log lines name
        self.urls = list(urls)
        self.down_for_s = down_for_s
        self.connect_timeout_s = connect_timeout_s
        self._targets = [_Target(self._single(url)) for url in self.urls]
        self._next = itertools.cycle(range(len(self._targets)))

    @classmethod
    def from_endpoint(cls, endpoint: EndpointConfig, urls: Sequence[str], **options: Any) -> FailoverEndpointConfig:
        """`endpoint`'s headers, params, auth, token and CA file over `urls`."""
        return cls(
            urls, params=endpoint.params, headers=endpoint.headers, basic_auth=endpoint.basic_auth,
            token=endpoint.token, token_name=endpoint.token_name, cafile=endpoint.cafile, **endpoint.kwargs,
            **options,
        )

    def _single(self, url: str) -> EndpointConfig:
        return single_endpoint(self, url)

    def _order(self) -> List[_Target]:
        """This request's servers: the round-robin start, those marked down last."""
        start = next(self._next)
        ring = self._targets[start:] + self._targets[:start]
        now = time.monotonic()
        return [t for t in ring if t.up(now)] + [t for t in ring if not t.up(now)]

    async def request(
        self, method: str = "post", subpath: Optional[str] = None, content_type: Optional[str] = "application/json",
        compress: bool = False, **kwargs: Any,
    ) -> Optional[Any]:
        """Rasa's `EndpointConfig.request` on the first server that answers (module docstring)."""
        timeout = kwargs.pop("timeout", None)
        if isinstance(timeout, aiohttp.ClientTimeout):
            timeout = timeout.total
        budget = float(timeout) if timeout else float(rasa_endpoints.DEFAULT_REQUEST_TIMEOUT)
        deadline = time.monotonic() + budget
        failure: Optional[BaseException] = None
        for target in self._order():
            remaining = deadline - time.monotonic()
            if failure is not None and remaining <= 0:
                break
            attempt = aiohttp.ClientTimeout(total=max(remaining, 0.001),
                                            sock_connect=min(self.connect_timeout_s, max(remaining, 0.001)))
            try:
                result = await target.endpoint.request(
                    method, subpath, content_type, compress, timeout=attempt, **kwargs
                )
            except NOT_ANSWERED as exc:
                if target.up(time.monotonic()):
                    logger.warning("action server %s unreachable (%s); marked down for %.0fs, trying the next",
                                   target.endpoint.url, type(exc).__name__, self.down_for_s)
                target.down_until = time.monotonic() + self.down_for_s
                failure = exc
                continue
            target.down_until = 0.0
            return result
        assert failure is not None
        raise failure

    def copy(self) -> FailoverEndpointConfig:
        return FailoverEndpointConfig(
            self.urls, down_for_s=self.down_for_s, connect_timeout_s=self.connect_timeout_s,
            params=self.params, headers=self.headers, basic_auth=self.basic_auth, token=self.token,
            token_name=self.token_name, cafile=self.cafile, **self.kwargs,
        )

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FailoverEndpointConfig) and other.urls == self.urls and super().__eq__(other)


def with_failover(endpoint: Optional[EndpointConfig], urls: Sequence[str]) -> Optional[EndpointConfig]:
    """The action endpoint over `urls`: endpoints.yml's when none are given, Rasa's single
    endpoint with that URL for one, failover for several; connections kept in every case."""
    if endpoint is None:
        return endpoint
    if not urls:
        return single_endpoint(endpoint, endpoint.url)
    if len(urls) == 1:
        return single_endpoint(endpoint, urls[0])
    return FailoverEndpointConfig.from_endpoint(endpoint, urls)


_original_read: Optional[Callable[..., AvailableEndpoints]] = None


def install(urls: Sequence[str]) -> None:
    """Makes Rasa's reading of the endpoints file put the action endpoint over `urls`
    (`rasa run` reads it once at start; `AvailableEndpoints.read_endpoints` is where every
    caller gets it). Idempotent; the last `urls` given apply."""
    global _original_read
    if _original_read is None:
        _original_read = AvailableEndpoints.read_endpoints.__func__  # type: ignore[attr-defined]
    original = _original_read
    chosen = list(urls)

    def read_endpoints(cls: type, endpoint_file: str) -> AvailableEndpoints:
        endpoints = original(cls, endpoint_file)
        endpoints.action = with_failover(endpoints.action, chosen)
        return endpoints

    AvailableEndpoints.read_endpoints = classmethod(read_endpoints)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Rasa's own reading again (tests)."""
    global _original_read
    if _original_read is not None:
        AvailableEndpoints.read_endpoints = classmethod(_original_read)  # type: ignore[method-assign,assignment]
        _original_read = None
