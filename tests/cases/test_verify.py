"""POST /cases/{id}/verify: the last four ID characters, with a limit on wrong tries."""

from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from fastapi.testclient import TestClient

from tests.cases.conftest import CHEN, HUANG, NO_KEY, STAFF, Clock


def _verify(client: TestClient, case_id: str, last4: str, headers: Dict[str, str] = STAFF) -> Any:
    return client.post(f"/cases/{case_id}/verify", json={"id_last4": last4}, headers=headers)


def test_the_right_last_four_verify(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    assert _verify(client, case_id, "0310").json() == {"verified": True}
    assert _verify(client, case_id, "0311").json() == {"verified": False}


@pytest.mark.parametrize("last4", ["103X", "103x"])
def test_x_is_case_insensitive(client: TestClient, create: Callable[..., Dict[str, Any]], last4: str) -> None:
    case_id = create(HUANG)["case_id"]
    assert _verify(client, case_id, last4).json() == {"verified": True}


def test_five_wrong_tries_in_an_hour_lock_the_case(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    case_id = create(CHEN)["case_id"]
    other = create(CHEN)["case_id"]
    for _ in range(5):
        assert _verify(client, case_id, "9999").json() == {"verified": False}
        clock.advance(minutes=1)
    locked = _verify(client, case_id, "0310")  # even the right answer: no more guessing
    assert locked.status_code == 429
    assert locked.json()["error"]
    assert int(locked.headers["Retry-After"]) > 0
    assert _verify(client, other, "0310").json() == {"verified": True}  # per case
    clock.advance(minutes=56)  # the first wrong try is now more than an hour old
    assert _verify(client, case_id, "0310").json() == {"verified": True}


def test_right_tries_do_not_count_against_the_limit(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    for _ in range(4):
        assert _verify(client, case_id, "0000").status_code == 200
    for _ in range(3):
        assert _verify(client, case_id, "0310").json() == {"verified": True}


@pytest.mark.parametrize("last4", ["31", "03100", "abcd", ""])
def test_a_malformed_last4_is_422(client: TestClient, create: Callable[..., Dict[str, Any]], last4: str) -> None:
    assert _verify(client, create(CHEN)["case_id"], last4).status_code == 422


def test_verify_needs_the_key_and_a_case(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    assert _verify(client, case_id, "0310", headers=NO_KEY).status_code == 401
    assert _verify(client, "440800-20261124-0999", "0310").status_code == 404
