"""Issue 9: the gateway's web API under fuzzing. hypothesis throws arbitrary bodies at
`POST /api/chat`; schemathesis generates requests from the gateway's OpenAPI schema. Bounded
examples (CI time); the claims: never a 5xx, every answer JSON with a reason, every documented
answer matching its schema. The real app on a real uvicorn server, Rasa replaced by FakeRasa."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from bot.app import build_app
from bot.chat import ChatService
from tests.bot.conftest import FakeRasa
from tests.security.conftest import gateway_settings, serve

UNLIMITED = {"rate_sender_per_min": 0.0, "rate_ip_per_min": 0.0, "rate_sessions_per_min": 0.0}


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = gateway_settings(tmp_path_factory.mktemp("fuzz"), **UNLIMITED)
    app = build_app(settings)
    with serve(app) as base:
        fake = FakeRasa()
        app.state.rasa = fake
        app.state.chat = ChatService(dataclasses.replace(settings), fake, app.state.sessions)  # type: ignore[arg-type]
        yield base


@pytest.fixture(scope="module")
def owned(gateway_url: str) -> Dict[str, str]:
    return httpx.post(f"{gateway_url}/api/chat/sessions").json()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
field_values = st.one_of(json_values, st.text(max_size=300), st.sampled_from(["zh_Hans", "en", "tg:5001", "web:x"]))


@st.composite
def chat_bodies(draw: Any) -> Dict[str, Any]:
    body = draw(st.dictionaries(st.sampled_from(["sender_id", "text", "locale", "extra"]), field_values, max_size=4))
    if draw(st.booleans()):
        body["text"] = draw(st.text(max_size=500))
    return body


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=chat_bodies(), own=st.booleans(), raw=st.none() | st.binary(max_size=200))
def test_chat_bodies_never_crash_the_gateway(gateway_url: str, owned: Dict[str, str], body: Dict[str, Any],
                                             own: bool, raw: Any) -> None:
    if own:
        body = {**body, "sender_id": owned["sender_id"]}
    headers = {"Authorization": f"Bearer {owned['token']}", "Content-Type": "application/json"}
    content = raw if raw is not None else json.dumps(body).encode()
    response = httpx.post(f"{gateway_url}/api/chat", content=content, headers=headers, timeout=30)
    assert response.status_code in (200, 400, 403, 413, 422), response.text
    data = response.json()
    if response.status_code == 200:
        assert isinstance(data["messages"], list) and data["messages"] and "meta" in data
    else:
        assert data["error"]


@pytest.fixture(scope="module")
def gateway_schema(gateway_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_gateway_keeps_its_openapi_contract(case: Any) -> None:
    case.call_and_validate(checks=[checks.not_a_server_error, checks.response_schema_conformance,
                                   checks.content_type_conformance])


def test_a_non_ascii_link_signature_is_refused_not_a_crash() -> None:
    """Found by the schema run: `?sig=` with non-ASCII characters made compare_digest raise (500)."""
    from common.links import check_link_signature

    assert check_link_signature("key", "440800-20261124-0001", "é\t签名") is False
