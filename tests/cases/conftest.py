"""Fixtures of the case API tests: the app on a temporary SQLite file, a movable clock,
application bodies of the fictional registry residents (cases/registry_seed.yml)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from fastapi.testclient import TestClient

from cases.app import build_app
from common.settings import Settings

KEY = "test-case-api-staff-key"
STAFF = {"X-Api-Key": KEY}
# The default client sends STAFF; an empty key overrides it (a request without a key).
NO_KEY = {"X-Api-Key": ""}
ACTIONS = {"X-Api-Key": "test-case-api-actions-key"}
GATEWAY = {"X-Api-Key": "test-case-api-gateway-key"}
CASE_API_KEYS = f"actions:{ACTIONS['X-Api-Key']},gateway:{GATEWAY['X-Api-Key']},staff:{KEY}"
# 2026-11-24 10:00 in China: a Tuesday well inside chinese_calendar's data.
START = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.timezone.utc)

CHEN = {"name": "陈海明", "id_number": "440802198003120310", "address": "广东省湛江市赤坎区人民大道中28号"}
WANG = {"name": "王丽华", "id_number": "330702197511080428", "address": "浙江省金华市婺城区八一南街120号"}
HUANG = {"name": "黄志强", "id_number": "44080319850710103X", "address": "广东省湛江市霞山区解放东路15号"}
PHONE = "13800138000"

_keys = itertools.count(1)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: dt.datetime = START):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base = Settings(
        app_env="test",
        var_dir=tmp_path,
        case_database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        secrets={"CASE_API_KEYS": CASE_API_KEYS, "WEBHOOK_SECRET": "test-webhook-secret"},
    )
    return dataclasses.replace(base, **overrides)


def application(person: Dict[str, str] = CHEN, **overrides: Any) -> Dict[str, Any]:
    """A valid `POST /cases` body for one of the registry's residents."""
    body: Dict[str, Any] = {
        "name": person["name"],
        "id_number": person["id_number"],
        "phone": PHONE,
        "address": person["address"],
        "customer_type": "resident",
        "capacity_kw": 8,
        "channel": "web",
        "sender_id": "web-sender-1",
        "locale": "zh_Hans",
        "consent": {"registry": True, "esign": True, "confirmed_at": "2026-11-24T09:59:00+08:00"},
    }
    body.update(overrides)
    return body


def new_key() -> Dict[str, str]:
    return {"Idempotency-Key": f"test-key-{next(_keys)}"}


def staff_client(app: Any) -> TestClient:
    """A TestClient sending the staff key (pass another `X-Api-Key` to be another client)."""
    return TestClient(app, headers=STAFF)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture()
def client(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    with staff_client(build_app(settings, clock=clock)) as test_client:
        yield test_client


@pytest.fixture()
def create(client: TestClient) -> Callable[..., Dict[str, Any]]:
    """Creates a case (201 expected) and returns its JSON as staff sees it."""

    def _create(person: Dict[str, str] = CHEN, **overrides: Any) -> Dict[str, Any]:
        response = client.post("/cases", json=application(person, **overrides), headers={**new_key(), **STAFF})
        assert response.status_code == 201, response.text
        return response.json()

    return _create


class Receiver:
    """A real HTTP server on a free loopback port; `respond(path, headers, raw)` gives (status, body)."""

    def __init__(self, respond: Callable[[str, Dict[str, str], bytes], Tuple[int, Dict[str, Any]]]):
        self.requests: List[Tuple[str, Dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                status, body = respond(self.path, headers, raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with receiver.arrived:
                    receiver.requests.append((self.path, headers, raw))
                    receiver.arrived.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 10.0) -> List[Tuple[str, Dict[str, str], bytes]]:
        """Waits until `count` requests have arrived (fails the test after `timeout` seconds)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"{len(self.requests)} of {count} requests arrived"
            )
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Starts receivers for a test and stops them afterwards."""
    started: List[Receiver] = []

    def _start(respond: Callable[[str, Dict[str, str], bytes], Tuple[int, Dict[str, Any]]]) -> Receiver:
        receiver = Receiver(respond)
        started.append(receiver)
        return receiver

    yield _start
    for receiver in started:
        receiver.close()


@pytest.fixture()
def json_server(receivers: Callable[..., Receiver]) -> Callable[..., str]:
    """A JSON endpoint answering `answer(path, body)`; returns its base URL."""

    def _serve(answer: Callable[[str, Dict[str, Any]], Dict[str, Any]]) -> str:
        return receivers(lambda path, _headers, raw: (200, answer(path, json.loads(raw)))).url

    return _serve
