"""Joint applications (一次办): linked water/gas items and PATCH /cases/{id}/items/{item_id}."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import pytest
from fastapi.testclient import TestClient

from tests.cases.conftest import CHEN, HUANG, NO_KEY, STAFF


def _patch(
    client: TestClient, case_id: str, item_id: int, body: Dict[str, Any], headers: Dict[str, str] = STAFF
) -> Any:
    return client.patch(f"/cases/{case_id}/items/{item_id}", json=body, headers=headers)


def _states(case: Dict[str, Any]) -> List[Tuple[str, str]]:
    return [(item["kind"], item["status"]) for item in case["linked_applications"]]


def test_linked_applications_are_created_submitted(create: Callable[..., Dict[str, Any]]) -> None:
    case = create(CHEN, linked=["water", "gas"])
    assert _states(case) == [("water", "submitted"), ("gas", "submitted")]
    assert all(isinstance(i["id"], int) for i in case["linked_applications"])


def test_updating_a_linked_item_records_an_event(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case = create(CHEN, linked=["water", "gas"])
    gas = case["linked_applications"][1]
    response = _patch(client, case["case_id"], gas["id"], {"status": "accepted", "note": "燃气已受理"})
    assert response.status_code == 200
    updated = response.json()
    assert _states(updated) == [("water", "submitted"), ("gas", "accepted")]
    event = client.get("/events").json()["events"][-1]
    assert event["type"] == "item.updated"
    assert event["item"] == {"id": gas["id"], "kind": "gas", "status": "accepted", "note": "燃气已受理"}
    assert event["note"] == "燃气已受理" and event["previous_stage"] is None


def test_a_pending_item_can_be_marked_done(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case = create(HUANG)
    item = case["pending_items"][0]
    updated = _patch(client, case["case_id"], item["id"], {"status": "done", "note": "村委会已审批"}).json()
    assert updated["pending_items"][0]["status"] == "done"
    assert _patch(client, case["case_id"], item["id"], {"status": "accepted"}).status_code == 422


@pytest.mark.parametrize("status", ["finished", ""])
def test_an_unknown_status_is_422(client: TestClient, create: Callable[..., Dict[str, Any]], status: str) -> None:
    case = create(CHEN, linked=["water"])
    assert _patch(client, case["case_id"], case["linked_applications"][0]["id"], {"status": status}).status_code == 422


def test_an_item_of_another_case_is_404(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    first = create(CHEN, linked=["water"])
    second = create(CHEN)
    item_id = first["linked_applications"][0]["id"]
    assert _patch(client, second["case_id"], item_id, {"status": "done"}).status_code == 404
    assert _patch(client, first["case_id"], 999, {"status": "done"}).status_code == 404


def test_updating_items_needs_the_key(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case = create(CHEN, linked=["water"])
    response = _patch(client, case["case_id"], case["linked_applications"][0]["id"], {"status": "done"}, headers=NO_KEY)
    assert response.status_code == 401
