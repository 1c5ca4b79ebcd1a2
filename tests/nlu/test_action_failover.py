"""Rasa's action endpoint over several action servers (nlu/action_failover.py), against real
HTTP servers on loopback: round-robin, failover on a refused or dropped connection, a server
marked down used again after its pause, no resend after a read timeout or an HTTP error, and
Rasa's own error when none answers."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, List, Optional

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from nlu import action_failover
from nlu.action_failover import FailoverEndpointConfig, PooledEndpointConfig, with_failover

SECRET = {"X-Service-Secret": "s3cret-for-tests"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _closed_port() -> int:
    """A loopback port where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ActionServer:
    """A stand-in action server on a loopback port: records each request's secret header."""

    def __init__(self, name: str, port: Optional[int] = None, handler: Optional[Handler] = None):
        self.name = name
        self.port = port or _closed_port()
        self.secrets: List[Optional[str]] = []
        self._handler = handler
        self._runner: Optional[web.AppRunner] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    @property
    def hits(self) -> int:
        return len(self.secrets)

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        self.secrets.append(request.headers.get("X-Service-Secret"))
        await request.json()
        if self._handler is not None:
            return await self._handler(request)
        return web.json_response({"events": [], "responses": [{"text": self.name}]})

    async def start(self) -> ActionServer:
        app = web.Application()
        app.router.add_post("/webhook", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[List[ActionServer]]:
    started: List[ActionServer] = []
    yield started
    for server in started:
        await server.stop()


async def _up(servers: List[ActionServer], name: str, **kwargs: object) -> ActionServer:
    server = await ActionServer(name, **kwargs).start()  # type: ignore[arg-type]
    servers.append(server)
    return server


def _endpoint(*urls: str, down_for_s: float = 5.0) -> FailoverEndpointConfig:
    return FailoverEndpointConfig(urls, headers=dict(SECRET), down_for_s=down_for_s)


async def _call(endpoint: EndpointConfig, timeout: float = 5.0) -> str:
    body = await endpoint.request(json={"next_action": "action_x"}, method="post", timeout=timeout)
    return str(body["responses"][0]["text"])


@pytest.mark.asyncio
async def test_requests_go_round_robin_with_the_endpoints_secret(servers: List[ActionServer]) -> None:
    a, b = await _up(servers, "a"), await _up(servers, "b")
    endpoint = _endpoint(a.url, b.url)
    assert [await _call(endpoint) for _ in range(4)] == ["a", "b", "a", "b"]
    assert a.secrets == b.secrets == [SECRET["X-Service-Secret"]] * 2


@pytest.mark.asyncio
async def test_a_refused_connection_goes_to_the_next_and_is_skipped_while_down(servers: List[ActionServer]) -> None:
    b = await _up(servers, "b")
    dead = _closed_port()
    endpoint = _endpoint(f"http://127.0.0.1:{dead}/webhook", b.url, down_for_s=0.5)
    assert [await _call(endpoint) for _ in range(4)] == ["b"] * 4
    # Back on its port within its pause: not used until the pause is over, then in turn again.
    a = await _up(servers, "a", port=dead)
    assert [await _call(endpoint) for _ in range(2)] == ["b", "b"] and a.hits == 0
    await asyncio.sleep(0.6)
    assert sorted([await _call(endpoint) for _ in range(4)]) == ["a", "a", "b", "b"]


@pytest.mark.asyncio
async def test_a_connection_dropped_without_response_goes_to_the_next(servers: List[ActionServer]) -> None:
    async def die(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()  # as a killed action server: the request was read, no answer
        await asyncio.sleep(1)
        return web.Response()

    a, b = await _up(servers, "a", handler=die), await _up(servers, "b")
    endpoint = _endpoint(a.url, b.url)
    assert await _call(endpoint) == "b"
    assert (a.hits, b.hits) == (1, 1)


@pytest.mark.asyncio
async def test_a_read_timeout_is_not_sent_again(servers: List[ActionServer]) -> None:
    """That server may still be running the action: a second one would run it beside it."""

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response({"events": [], "responses": []})

    a, b = await _up(servers, "a", handler=slow), await _up(servers, "b")
    with pytest.raises(asyncio.TimeoutError):
        await _call(_endpoint(a.url, b.url), timeout=0.5)
    assert b.hits == 0


@pytest.mark.asyncio
async def test_an_http_error_is_rasas_as_before(servers: List[ActionServer]) -> None:
    """A 400 is a form's rejection, which Rasa handles itself: answered, so not resent."""

    async def reject(request: web.Request) -> web.StreamResponse:
        return web.json_response({"action_name": "action_x", "error": "no"}, status=400)

    a, b = await _up(servers, "a", handler=reject), await _up(servers, "b")
    with pytest.raises(ClientResponseError) as caught:
        await _call(_endpoint(a.url, b.url))
    assert caught.value.status == 400 and b.hits == 0


@pytest.mark.asyncio
async def test_none_answering_is_rasas_connection_error() -> None:
    endpoint = _endpoint(f"http://127.0.0.1:{_closed_port()}/webhook", f"http://127.0.0.1:{_closed_port()}/webhook")
    with pytest.raises(aiohttp.ClientConnectionError):
        await _call(endpoint)
    tracker = DialogueStateTracker("s", slots=[])
    domain = Domain.empty()
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    with pytest.raises(RasaException, match="Couldn't connect"):
        await RemoteAction("action_x", endpoint).run(CollectingOutputChannel(), nlg, tracker, domain)


@pytest.mark.asyncio
async def test_rasas_remote_action_runs_through_it(servers: List[ActionServer]) -> None:
    b = await _up(servers, "b")
    endpoint = _endpoint(f"http://127.0.0.1:{_closed_port()}/webhook", b.url)
    domain = Domain.empty()
    events = await RemoteAction("action_x", endpoint).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
        DialogueStateTracker("s", slots=[]), domain,
    )
    assert [getattr(event, "text", None) for event in events] == ["b"]


def test_one_url_or_none_keeps_rasas_own_endpoint() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:5055/webhook", headers=dict(SECRET))
    same = with_failover(endpoint, [])
    assert type(same) is PooledEndpointConfig and same is not None
    assert same.url == endpoint.url and same.headers == SECRET
    assert with_failover(None, ["http://a/webhook", "http://b/webhook"]) is None
    single = with_failover(endpoint, ["http://other:5055/webhook"])
    assert type(single) is PooledEndpointConfig and single is not None
    assert single.url == "http://other:5055/webhook" and single.headers == SECRET


@pytest.mark.asyncio
async def test_connections_are_kept_between_action_calls() -> None:
    peers: List[object] = []

    async def remember(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"events": [], "responses": []})

    server = await ActionServer("kept", handler=remember).start()
    try:
        endpoint = with_failover(EndpointConfig(server.url, headers=dict(SECRET)), [])
        assert endpoint is not None
        for _ in range(3):
            await endpoint.request(json={"next_action": "x"}, method="post", timeout=5)
        assert server.secrets == [SECRET["X-Service-Secret"]] * 3
        assert len(peers) == 3 and len(set(peers)) == 1  # one client port: one connection
        await asyncio.sleep(action_failover.KEEP_IDLE_S + 0.5)  # idle: closed by the client
        await endpoint.request(json={"next_action": "x"}, method="post", timeout=5)
        assert peers[-1] != peers[0]
    finally:
        await server.stop()


def test_installed_it_replaces_the_action_endpoint_read_from_the_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_FOR_TEST", SECRET["X-Service-Secret"])
    endpoints_file = tmp_path / "endpoints.yml"
    endpoints_file.write_text(
        "action_endpoint:\n  url: http://127.0.0.1:9/webhook\n  headers:\n    X-Service-Secret: ${SECRET_FOR_TEST}\n"
    )
    urls = ["http://127.0.0.1:5055/webhook", "http://127.0.0.1:5056/webhook"]
    action_failover.install(urls)
    try:
        action = AvailableEndpoints.read_endpoints(str(endpoints_file)).action
    finally:
        action_failover.uninstall()
    assert isinstance(action, FailoverEndpointConfig)
    assert action.urls == urls and action.url == urls[0] and action.headers == SECRET
    plain = AvailableEndpoints.read_endpoints(str(endpoints_file)).action
    assert type(plain) is EndpointConfig and plain.url == "http://127.0.0.1:9/webhook"
