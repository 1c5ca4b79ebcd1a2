"""The gateway's Rasa client over several instances: round-robin, failover, no double turn."""

from __future__ import annotations

from typing import List

import httpx
import pytest
import pytest_asyncio

from bot import rasa_client
from bot.rasa_client import RasaClient, RasaUnavailable

pytestmark = pytest.mark.asyncio
A, B = "http://rasa-a:5005", "http://rasa-b:5005"


class Instances:
    """Two fake Rasa servers; `down` refuse connections, `slow` time out reading."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.slow: set[str] = set()
        self.turns: List[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if host in self.slow:
            raise httpx.ReadTimeout("timed out", request=request)
        if request.url.path == "/webhooks/rest/webhook":
            self.turns.append(host)
            return httpx.Response(200, json=[{"recipient_id": "s", "text": f"from {host}"}])
        if request.url.path.endswith("/tracker"):
            return httpx.Response(200, json={"sender_id": "s", "served_by": host})
        return httpx.Response(200, text="Hello from Rasa")


@pytest.fixture()
def instances() -> Instances:
    return Instances()


@pytest_asyncio.fixture()
async def client(instances: Instances):  # noqa: ANN201
    async with httpx.AsyncClient(transport=httpx.MockTransport(instances)) as http:
        yield RasaClient(f"{A}, {B}/", http, timeout_s=1.0, token="t")


async def test_turns_go_round_robin(client: RasaClient, instances: Instances) -> None:
    for _ in range(4):
        await client.send("s", "你好", {})
    assert instances.turns == [A, B, A, B]


async def test_a_dead_instance_is_skipped_and_no_turn_is_lost(client: RasaClient, instances: Instances) -> None:
    instances.down.add(A)
    replies = [await client.send("s", f"turn {n}", {}) for n in range(4)]
    assert instances.turns == [B, B, B, B] and all(r[0]["text"] == f"from {B}" for r in replies)
    assert (await client.tracker("s"))["served_by"] == B


async def test_a_marked_down_instance_is_tried_again_after_its_pause(
    client: RasaClient, instances: Instances, monkeypatch: pytest.MonkeyPatch
) -> None:
    instances.down.add(A)
    await client.send("s", "one", {})
    await client.send("s", "two", {})
    assert instances.turns == [B, B]  # A is skipped while marked down
    monkeypatch.setattr(rasa_client, "DOWN_FOR_S", 0.0)
    instances.down.clear()
    await client.send("s", "three", {})  # marks A down again with no pause...
    for instance in client._instances:
        instance.down_until = 0.0  # ...its pause over
    await client.send("s", "four", {})
    await client.send("s", "five", {})
    assert set(instances.turns[2:]) == {A, B}


async def test_a_read_timeout_is_not_sent_to_a_second_instance(client: RasaClient, instances: Instances) -> None:
    instances.slow.add(A)
    with pytest.raises(RasaUnavailable):
        await client.send("s", "maybe handled", {})
    assert instances.turns == []  # B never got the turn A may still be handling


async def test_all_down_is_unavailable_and_unhealthy(client: RasaClient, instances: Instances) -> None:
    instances.down |= {A, B}
    with pytest.raises(RasaUnavailable):
        await client.send("s", "hello", {})
    assert await client.tracker("s") is None
    assert not await client.healthy()
    instances.down.clear()
    assert await client.healthy()
    assert [i.down_until for i in client._instances] == [0.0, 0.0]


async def test_one_url_works_as_before(instances: Instances) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(instances)) as http:
        client = RasaClient(A, http)
        assert (await client.send("s", "hi", {}))[0]["text"] == f"from {A}"
        instances.down.add(A)
        with pytest.raises(RasaUnavailable):
            await client.send("s", "hi", {})
