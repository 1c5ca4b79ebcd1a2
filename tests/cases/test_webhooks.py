"""Webhooks against real local HTTP receivers: signature, retries with back-off, the log, restarts."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from fastapi.testclient import TestClient

from cases.app import build_app
from cases.webhooks import RetryPolicy
from common.settings import Settings
from common.webhook_signature import verify_webhook
from tests.cases.conftest import CHEN, NO_KEY, STAFF, Receiver, application, make_settings, new_key, staff_client

SECRET = "test-webhook-secret"


def _settings(tmp_path: Path, *urls: str, **overrides: Any) -> Settings:
    base = make_settings(tmp_path, webhook_urls=tuple(urls), webhook_backoff_s=0.05, webhook_poll_s=0.02)
    return dataclasses.replace(base, **overrides)


def _scripted(*statuses: int) -> Tuple[Callable[[str, Dict[str, str], bytes], Tuple[int, Dict[str, Any]]], List[float]]:
    """Answers with `statuses` in turn (the last one repeated); records arrival times."""
    arrivals: List[float] = []

    def respond(_path: str, _headers: Dict[str, str], _raw: bytes) -> Tuple[int, Dict[str, Any]]:
        arrivals.append(time.monotonic())
        return statuses[min(len(arrivals) - 1, len(statuses) - 1)], {}

    return respond, arrivals


def _attempts(
    client: TestClient, event_id: int, count: int = 0, timeout: float = 10.0,
    until: Callable[[List[Dict[str, Any]]], bool] = lambda _log: False,
) -> List[Dict[str, Any]]:
    """The delivery log of one event once it has `count` attempts (or `until` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        log = client.get("/webhooks/deliveries", params={"event_id": event_id}, headers=STAFF).json()["deliveries"]
        if (count and len(log) >= count) or until(log):
            return log
        assert time.monotonic() < deadline, f"delivery log incomplete: {log}"
        time.sleep(0.02)


def test_signed_delivery_retried_after_two_failures(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    respond, arrivals = _scripted(500, 500, 200)
    receiver = receivers(respond)
    url = f"{receiver.url}/hooks/cases"
    with staff_client(build_app(_settings(tmp_path, url))) as client:
        case = client.post("/cases", json=application(CHEN), headers=new_key()).json()
        requests = receiver.wait_for(3)
        log = _attempts(client, 1, 3)
        event = client.get("/events").json()["events"][0]
    for path, headers, raw in requests:
        assert path == "/hooks/cases"
        signature = headers["X-Signature"]
        assert signature.startswith("t=") and ",v1=" in signature
        assert verify_webhook(SECRET, raw, signature)
        assert not verify_webhook("another-secret", raw, signature)
        assert headers["X-Event-Id"] == "1"
        assert json.loads(raw) == event
    assert event["case_id"] == case["case_id"] and event["type"] == "case.created"
    assert CHEN["id_number"].encode() not in requests[0][2] and "陈海明".encode() not in requests[0][2]
    assert [(a["attempt"], a["status_code"], a["error"], a["url"]) for a in log] == [
        (1, 500, None, url), (2, 500, None, url), (3, 200, None, url),
    ]
    # Back-off: 0.05 s before the 2nd attempt, 0.1 s before the 3rd.
    assert arrivals[1] - arrivals[0] >= 0.045
    assert arrivals[2] - arrivals[1] >= 0.095
    assert len(receiver.requests) == 3  # delivered: no more tries


def test_every_event_goes_to_every_url(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    first, second = receivers(_scripted(200)[0]), receivers(_scripted(204)[0])
    with staff_client(build_app(_settings(tmp_path, first.url, second.url))) as client:
        case_id = client.post("/cases", json=application(CHEN), headers=new_key()).json()["case_id"]
        client.post(f"/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"}, headers=STAFF)
        for receiver in (first, second):
            ids = sorted(headers["X-Event-Id"] for _, headers, _ in receiver.wait_for(2))
            assert ids == ["1", "2"]


def test_delivery_gives_up_after_the_last_attempt(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(_scripted(503)[0])
    with staff_client(build_app(_settings(tmp_path, receiver.url, webhook_max_attempts=3))) as client:
        client.post("/cases", json=application(CHEN), headers=new_key())
        receiver.wait_for(3)
        log = _attempts(client, 1, 3)
        time.sleep(0.4)  # a 4th try would come 0.2 s after the 3rd
        assert len(receiver.requests) == 3
    assert [(a["attempt"], a["status_code"]) for a in log] == [(1, 503), (2, 503), (3, 503)]


def test_an_unreachable_receiver_is_logged_with_the_error(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    closed = receivers(_scripted(200)[0])
    url = closed.url
    closed.close()
    with staff_client(build_app(_settings(tmp_path, url, webhook_max_attempts=2))) as client:
        client.post("/cases", json=application(CHEN), headers=new_key())
        log = _attempts(client, 1, 2)
    assert [(a["attempt"], a["status_code"]) for a in log] == [(1, None), (2, None)]
    assert all(a["error"] for a in log)


def test_the_queue_survives_a_restart(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    state = {"up": False}

    def respond(_path: str, _headers: Dict[str, str], _raw: bytes) -> Tuple[int, Dict[str, Any]]:
        return (200 if state["up"] else 500), {}

    receiver = receivers(respond)
    settings = _settings(tmp_path, receiver.url, webhook_max_attempts=50)
    with staff_client(build_app(settings)) as client:
        client.post("/cases", json=application(CHEN), headers=new_key())
        receiver.wait_for(1)
    state["up"] = True
    with staff_client(build_app(settings)) as client:  # same database, new process state
        log = _attempts(client, 1, until=lambda log: bool(log) and log[-1]["status_code"] == 200)
    assert len(log) >= 2 and {a["status_code"] for a in log[:-1]} == {500}
    assert [a["attempt"] for a in log] == list(range(1, len(log) + 1))
    assert len(receiver.requests) == len(log)  # every request the receiver saw is in the log


def test_the_delivery_log_needs_the_key(client: TestClient) -> None:
    assert client.get("/webhooks/deliveries", headers=NO_KEY).status_code == 401
    assert client.get("/webhooks/deliveries", headers=STAFF).json() == {"deliveries": []}


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 1), (2, 2), (3, 4), (5, 16)])
def test_back_off_doubles(attempt: int, seconds: float) -> None:
    assert RetryPolicy(base_s=1.0, max_attempts=6).delay_after(attempt).total_seconds() == seconds
