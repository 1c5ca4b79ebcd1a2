"""POST /cases: creation, idempotency (replay, conflict, races), numbering and validation."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict

import pytest
from fastapi.testclient import TestClient

from cases import crud
from tests.cases.conftest import CHEN, STAFF, WANG, Clock, application, new_key


def _hold_until_all_arrive(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Makes every request wait after its first key look-up until all have made it: a real race."""
    barrier = threading.Barrier(parties, timeout=10)
    check_documents = crud.check_documents

    def _held(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return check_documents(*args, **kwargs)

    monkeypatch.setattr(crud, "check_documents", _held)


def test_create_returns_the_case_at_its_first_stage(client: TestClient) -> None:
    response = client.post("/cases", json=application(), headers={**new_key(), **STAFF})
    assert response.status_code == 201
    case = response.json()
    assert case["case_id"] == "440800-20261124-0001"
    assert case["status"] == "open"
    assert case["stage"] == "application"
    assert [s["key"] for s in case["stages"]] == ["application", "survey_and_connection"]
    assert case["stages"][1]["names"] == {
        "zh_Hans": "现场勘查和装表接电", "zh_Hant": "現場勘查和裝表接電", "en": "Site survey, metering and connection",
    }
    assert case["next_stages"] == ["survey_and_connection"]
    assert [h["stage"] for h in case["history"]] == ["application"]
    assert case["history"][0]["at"] == "2026-11-24T02:00:00+00:00"
    assert case["process"] == {
        "key": "zhanjiang-low", "region": "湛江", "voltage": "low", "time_limit_working_days": 8,
        "source": case["process"]["source"], "verified": True,
    }
    assert "seed 004" in case["process"]["source"]
    # 8 working days from the day after 2026-11-24 (Tue): 25, 26, 27, 30 Nov, 1-4 Dec.
    assert case["deadline"] == "2026-12-04"
    assert case["deadline_basis"] == "statutory_calendar"
    assert case["zero_investment"] is True
    assert case["customer_type"] == "resident"
    assert case["capacity_kw"] == 8
    assert case["applicant"] == {"name": "陈海明", "id_number": "4408**********0310", "phone": "138****8000"}
    assert case["address"] == {
        "province": "广东省", "city": "湛江市", "district": "赤坎区", "detail": "人民大道中28号",
        "area_code": "440802", "text": "广东省湛江市赤坎区人民大道中28号",
    }
    assert (case["channel"], case["sender_id"], case["locale"]) == ("web", "web-sender-1", "zh_Hans")
    assert case["signature"] == {
        "confirmed_at": "2026-11-24T01:59:00+00:00", "registry_consent": True, "esign_consent": True,
    }
    assert case["created_at"] == case["updated_at"] == "2026-11-24T02:00:00+00:00"


def test_case_numbers_count_per_city_and_china_day(client: TestClient, clock: Clock) -> None:
    def create(person: Dict[str, str]) -> str:
        response = client.post("/cases", json=application(person), headers=new_key())
        assert response.status_code == 201, response.text
        return response.json()["case_id"]

    assert create(CHEN) == "440800-20261124-0001"
    assert create(CHEN) == "440800-20261124-0002"
    assert create(WANG) == "330700-20261124-0001"
    clock.advance(hours=16)  # 2026-11-24 18:00 UTC is 2026-11-25 02:00 in China
    assert create(CHEN) == "440800-20261125-0001"


def test_replay_with_the_same_key_and_body_returns_the_same_case(client: TestClient) -> None:
    key = new_key()
    first = client.post("/cases", json=application(), headers=key)
    again = client.post("/cases", json=application(), headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(client.get("/events").json()["events"]) == 1


def test_same_key_with_a_different_body_is_a_conflict(client: TestClient) -> None:
    key = new_key()
    assert client.post("/cases", json=application(), headers=key).status_code == 201
    response = client.post("/cases", json=application(capacity_kw=9), headers=key)
    assert response.status_code == 409
    assert response.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": ""}, {"Idempotency-Key": "has space"},
                                     {"Idempotency-Key": "x" * 129}, {"Idempotency-Key": "键"}])
def test_a_missing_or_malformed_idempotency_key_is_refused(client: TestClient, headers: Dict[str, str]) -> None:
    try:
        response = client.post("/cases", json=application(), headers=headers)
    except UnicodeEncodeError:  # httpx refuses non-ASCII header values itself
        return
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]


def test_concurrent_requests_with_one_key_create_one_case(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _hold_until_all_arrive(monkeypatch, 8)
    key = new_key()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: client.post("/cases", json=application(), headers=key), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["case_id"] for r in responses}) == 1
    found = client.get("/cases", params={"channel": "web", "sender_id": "web-sender-1"}, headers=STAFF)
    assert len(found.json()["cases"]) == 1
    assert len(client.get("/events").json()["events"]) == 1


def test_concurrent_requests_with_different_keys_get_distinct_numbers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hold_until_all_arrive(monkeypatch, 6)
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: client.post("/cases", json=application(), headers=new_key()), range(6)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    numbers = sorted(r.json()["case_id"] for r in responses)
    assert numbers == [f"440800-20261124-{n:04d}" for n in range(1, 7)]


NOW = "2026-11-24T10:00:00+08:00"


def _problems(response: Any) -> Dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]
    return {p["field"]: p["reason"] for p in body["problems"]}


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"id_number": "440802198003120311"}, "id_number", "checksum"),
        ({"id_number": "4408021980031203"}, "id_number", "format"),
        ({"phone": "12345"}, "phone", "format"),
        ({"address": "湛江市"}, "address", "vague"),
        ({"address": "北京市海淀区中关村大街1号"}, "address", "outside_area"),
    ],
)
def test_server_side_checks_refuse_with_the_reason(
    client: TestClient, overrides: Dict[str, Any], field: str, reason: str
) -> None:
    assert _problems(client.post("/cases", json=application(**overrides), headers=new_key()))[field] == reason


def test_every_failed_check_is_listed_at_once(client: TestClient) -> None:
    body = application(id_number="440802198003120311", phone="123", address="湛江市")
    assert set(_problems(client.post("/cases", json=body, headers=new_key()))) == {"id_number", "phone", "address"}


def test_minor_id_number_is_refused_by_birth_date(client: TestClient) -> None:
    from common.identity import check_character

    first17 = "44080220100101001"  # born 2010: 16 on 2026-11-24
    problems = _problems(client.post("/cases", json=application(id_number=first17 + check_character(first17)),
                                     headers=new_key()))
    assert problems["id_number"] == "minor"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent": {"registry": False, "esign": True, "confirmed_at": NOW}}, "consent.registry"),
        ({"consent": {"registry": True, "esign": "yes", "confirmed_at": NOW}}, "consent.esign"),
        ({"consent": {"registry": True, "esign": True, "confirmed_at": "not a date"}}, "consent.confirmed_at"),
        ({"capacity_kw": 0}, "capacity_kw"),
        ({"capacity_kw": 100001}, "capacity_kw"),
        ({"capacity_kw": "lots"}, "capacity_kw"),
        ({"customer_type": "factory"}, "customer_type"),
        ({"locale": "fr"}, "locale"),
        ({"name": ""}, "name"),
        ({"name": "名" * 51}, "name"),
        ({"channel": "c" * 17}, "channel"),
        ({"sender_id": ""}, "sender_id"),
        ({"linked": ["electricity"]}, "linked.0"),
        ({"linked": ["water", "water"]}, "linked"),
    ],
)
def test_bad_fields_are_422_with_problems(client: TestClient, overrides: Dict[str, Any], field: str) -> None:
    assert field in _problems(client.post("/cases", json=application(**overrides), headers=new_key()))


def test_missing_fields_are_listed(client: TestClient) -> None:
    problems = _problems(client.post("/cases", json={"name": "陈海明"}, headers=new_key()))
    assert {"id_number", "phone", "address", "customer_type", "capacity_kw", "channel", "sender_id", "consent"} <= set(
        problems
    )


@pytest.mark.parametrize("raw", ["{not json", "[]", "null", '"text"', ""])
def test_malformed_json_is_422(client: TestClient, raw: str) -> None:
    response = client.post(
        "/cases", content=raw.encode(), headers={**new_key(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["problems"]


def test_locale_defaults_to_simplified_chinese(client: TestClient) -> None:
    body = application()
    del body["locale"]
    assert client.post("/cases", json=body, headers=new_key()).json()["locale"] == "zh_Hans"


def test_phone_and_id_are_normalised_before_storing(client: TestClient) -> None:
    body = application(phone="+86 138-0013-8000", id_number="4408 0219 8003 1203 10")
    case = client.post("/cases", json=body, headers={**new_key(), **STAFF}).json()
    assert case["applicant"]["phone"] == "138****8000"
    assert case["applicant"]["id_number"] == "4408**********0310"
    assert re.fullmatch(r"\d{6}-\d{8}-\d{4}", case["case_id"])
