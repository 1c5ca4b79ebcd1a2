"""Issue 9: limits. Bodies are counted as they arrive (chunked too) on both HTTP services; token
buckets per sender and per address answer 429 with 请稍后再试; regexes over user text are
bounded (a 10 000-character message costs under 50 ms).

Before: only `Content-Length` was checked, nothing was rate limited, and a 4096-digit message
cost about a second in the capacity and kWh regexes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import MAX_BODY_BYTES, build_app
from bot.rate_limit import KeyedBuckets
from common.i18n import t
from tests.security.conftest import bearer, gateway_settings, open_gateway, open_session, serve


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"sender_id": "web:x", "text": "'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}'


def _post_chunked(url: str) -> httpx.Response:
    # A generator body has no length: httpx sends it with Transfer-Encoding: chunked.
    return httpx.post(url, content=chunks(MAX_BODY_BYTES + 256 * 1024), timeout=30,
                      headers={"Content-Type": "application/json"})


def test_a_chunked_body_over_the_limit_is_refused_by_the_gateway(tmp_path: Path) -> None:
    with serve(build_app(gateway_settings(tmp_path))) as base:
        response = _post_chunked(f"{base}/api/chat")
        assert response.status_code == 413 and "too large" in response.json()["error"]
        small = httpx.post(f"{base}/api/chat", content=chunks(1024), headers={"Content-Type": "application/json"})
        assert small.status_code == 401  # read in full, then refused for want of a token


def test_a_chunked_body_over_the_limit_is_refused_by_the_case_api(tmp_path: Path) -> None:
    from cases.app import MAX_BODY_BYTES as CASES_MAX
    from cases.app import build_app as build_cases
    from tests.cases.conftest import make_settings

    with serve(build_cases(make_settings(tmp_path))) as base:
        body = chunks(CASES_MAX + 256 * 1024)
        response = httpx.post(f"{base}/cases", content=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 413


def test_buckets_allow_a_burst_then_refill() -> None:
    now = [0.0]
    buckets = KeyedBuckets(per_minute=60, burst=3, clock=lambda: now[0])
    assert [buckets.spend("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.spend("a") == pytest.approx(1.0)
    assert buckets.spend("b") == 0.0  # another key has its own bucket
    now[0] += 1.0
    assert buckets.spend("a") == 0.0
    assert KeyedBuckets(per_minute=0).spend("a") == 0.0  # 0 disables the limit


def test_buckets_forget_the_least_recently_used_key_first() -> None:
    buckets = KeyedBuckets(per_minute=60, burst=1, max_keys=2, clock=lambda: 0.0)
    buckets.spend("a"), buckets.spend("b"), buckets.spend("c")
    assert buckets.spend("a") == 0.0  # forgotten, so full again
    assert buckets.spend("c") > 0


@pytest.fixture()
def limited(tmp_path: Path) -> Iterator[TestClient]:
    settings = gateway_settings(tmp_path, rate_sender_per_min=6, rate_ip_per_min=20, rate_sessions_per_min=8)
    yield from open_gateway(settings)


def _say(client: TestClient, session: dict, locale: str = "zh_Hans") -> httpx.Response:
    return client.post("/api/chat", json={"sender_id": session["sender_id"], "text": "你好", "locale": locale},
                       headers=bearer(session))


def test_a_flooding_sender_gets_429_with_the_polite_reply(limited: TestClient) -> None:
    flooder, other = open_session(limited), open_session(limited)
    codes = [_say(limited, flooder).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # burst: half a minute's budget (6/min -> 3)
    refused = _say(limited, flooder, "en")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["reason"] == "rate_limited" and body["error"] == t("input.rate_limited", "en")
    assert t("input.rate_limited", "zh_Hans") == "您发送得太快了，请稍后再试。"
    assert _say(limited, other).status_code == 200  # the others are not affected


def test_one_address_cannot_flood_through_many_conversations(limited: TestClient) -> None:
    sessions = [open_session(limited) for _ in range(4)]
    codes = [_say(limited, s).status_code for _ in range(3) for s in sessions]
    assert codes.count(429) >= 1 and codes[:10] == [200] * 10  # 20/min -> burst 10


def test_new_conversations_are_limited_per_address(limited: TestClient) -> None:
    codes = [limited.post("/api/chat/sessions").status_code for _ in range(6)]
    assert codes == [201] * 4 + [429] * 2


def test_a_stranger_cannot_spend_a_residents_budget(limited: TestClient) -> None:
    victim, attacker = open_session(limited), open_session(limited)
    for _ in range(5):
        assert limited.post("/api/chat", json={"sender_id": victim["sender_id"], "text": "x"},
                            headers=bearer(attacker)).status_code in (403, 429)
    assert _say(limited, victim).status_code == 200


def _parsers() -> Dict[str, Callable[[str], object]]:
    import datetime as dt

    from actions import applicant, parsing
    from common import identity, pii

    today = dt.date(2026, 12, 1)
    return {
        "parse_kwh": parsing.parse_kwh,
        "parse_month": lambda s: parsing.parse_month(s, today),
        "parse_usage_period": parsing.parse_usage_period,
        "parse_chinese_number": parsing.parse_chinese_number,
        "read_capacity": lambda s: applicant.read_capacity(s, True),
        "read_name": lambda s: applicant.read_name(s, True),
        "read_id_number": lambda s: applicant.read_id_number(s, True, today),
        "read_phone": lambda s: applicant.read_phone(s, True),
        "read_address": lambda s: applicant.read_address(s, True, ("广东省", "浙江省")),
        "read_customer_type": lambda s: applicant.read_customer_type(s, True),
        "read_linked": applicant.read_linked,
        "correction_field": applicant.correction_field,
        "wants_to_cancel": applicant.wants_to_cancel,
        "looks_like_question": applicant.looks_like_question,
        "value_after_correction": applicant.value_after_correction,
        "find_id_number": identity.find_id_number,
        "find_mobile": identity.find_mobile,
        "mask_text": pii.mask_text,
    }


ATTACKS = ["1" * 10_000, "1." * 5_000, "1 " * 5_000, "一" * 10_000, "12千" * 3_333, "1,1" * 3_333,
           "８" * 10_000, "1-" * 5_000, "1.1" * 3_333, "十" * 10_000]


@pytest.mark.parametrize("text", ATTACKS, ids=lambda s: repr(s[:4]))
def test_long_messages_cost_little_in_every_parser(text: str) -> None:
    slow = {}
    parsers = _parsers()
    for parse in parsers.values():
        parse(text[:100])  # warm up any lazy loading (cpca's tables, OpenCC's dictionaries)
    for name, parse in parsers.items():
        start = time.perf_counter()
        parse(text)
        elapsed = time.perf_counter() - start
        if elapsed >= 0.05:
            slow[name] = f"{elapsed * 1000:.0f} ms"
    assert not slow
