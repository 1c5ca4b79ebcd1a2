"""POST /cases/{id}/transitions: only the next stage; the key is required."""

from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from fastapi.testclient import TestClient

from tests.cases.conftest import CHEN, STAFF, Clock


def _move(client: TestClient, case_id: str, stage: str, **extra: Any) -> Any:
    return client.post(f"/cases/{case_id}/transitions", json={"to_stage": stage, **extra}, headers=STAFF)


@pytest.fixture()
def high_voltage(create: Callable[..., Dict[str, Any]]) -> Dict[str, Any]:
    """A 湛江 high-voltage case: application → supply_plan → inspection_and_connection."""
    return create(CHEN, customer_type="hv", capacity_kw=630)


def test_moving_to_the_next_stage(client: TestClient, clock: Clock, high_voltage: Dict[str, Any]) -> None:
    case_id = high_voltage["case_id"]
    clock.advance(days=2)
    response = _move(client, case_id, "supply_plan", note="方案已答复")
    assert response.status_code == 200
    case = response.json()
    assert case["stage"] == "supply_plan"
    assert case["status"] == "open"
    assert case["next_stages"] == ["inspection_and_connection"]
    assert case["history"][-1] == {"stage": "supply_plan", "at": "2026-11-26T02:00:00+00:00", "note": "方案已答复",
                                   "actor": None}
    assert case["updated_at"] == "2026-11-26T02:00:00+00:00"


def test_reaching_the_last_stage_completes_the_case(client: TestClient, high_voltage: Dict[str, Any]) -> None:
    case_id = high_voltage["case_id"]
    assert _move(client, case_id, "supply_plan").status_code == 200
    case = _move(client, case_id, "inspection_and_connection").json()
    assert case["status"] == "completed"
    assert case["next_stages"] == []
    assert [h["stage"] for h in case["history"]] == ["application", "supply_plan", "inspection_and_connection"]


def test_skipping_a_stage_is_a_conflict(client: TestClient, high_voltage: Dict[str, Any]) -> None:
    response = _move(client, high_voltage["case_id"], "inspection_and_connection")
    assert response.status_code == 409
    assert response.json()["next_stages"] == ["supply_plan"]
    assert response.json()["error"]


def test_going_back_or_repeating_is_a_conflict(client: TestClient, high_voltage: Dict[str, Any]) -> None:
    case_id = high_voltage["case_id"]
    assert _move(client, case_id, "supply_plan").status_code == 200
    for stage in ("application", "supply_plan"):
        response = _move(client, case_id, stage)
        assert response.status_code == 409
        assert response.json()["next_stages"] == ["inspection_and_connection"]


def test_a_completed_case_cannot_move(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    assert _move(client, case_id, "survey_and_connection").json()["status"] == "completed"
    response = _move(client, case_id, "survey_and_connection")
    assert response.status_code == 409
    assert response.json()["next_stages"] == []


@pytest.mark.parametrize("stage", ["teleport", "acceptance"])  # unknown, or another process's stage
def test_a_stage_the_process_lacks_is_422(client: TestClient, high_voltage: Dict[str, Any], stage: str) -> None:
    response = _move(client, high_voltage["case_id"], stage)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "to_stage"


@pytest.mark.parametrize("headers", [{"X-Api-Key": "wrong"}, {"X-Api-Key": ""}])
def test_the_key_is_required(client: TestClient, high_voltage: Dict[str, Any], headers: Dict[str, str]) -> None:
    response = client.post(
        f"/cases/{high_voltage['case_id']}/transitions", json={"to_stage": "supply_plan"}, headers=headers
    )
    assert response.status_code == 401
    assert client.get(f"/cases/{high_voltage['case_id']}").json()["stage"] == "application"


def test_unknown_case_is_404_and_bad_body_422(client: TestClient) -> None:
    assert _move(client, "440800-20261124-0042", "supply_plan").status_code == 404
    response = client.post("/cases/440800-20261124-0042/transitions", json={}, headers=STAFF)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "to_stage"
