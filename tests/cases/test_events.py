"""GET /events: every change in order, read with a cursor."""

from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from fastapi.testclient import TestClient

from tests.cases.conftest import CHEN, HUANG, STAFF

EVENT_FIELDS = {
    "id", "type", "case_id", "at", "stage", "previous_stage", "status", "channel", "sender_id", "locale",
    "deadline", "waits_on", "note", "item",
}


def test_events_follow_the_changes_in_order(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    first = create(CHEN, customer_type="hv", capacity_kw=630)["case_id"]
    second = create(HUANG, linked=["gas"])["case_id"]
    client.post(f"/cases/{first}/transitions", json={"to_stage": "supply_plan", "note": "已答复"}, headers=STAFF)
    client.post(f"/cases/{first}/transitions", json={"to_stage": "inspection_and_connection"}, headers=STAFF)
    events = client.get("/events").json()["events"]
    assert [(e["type"], e["case_id"]) for e in events] == [
        ("case.created", first), ("case.created", second),
        ("case.stage_changed", first), ("case.stage_changed", first),
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert all(set(e) == EVENT_FIELDS for e in events)
    created, _, moved, completed = events
    assert (created["stage"], created["previous_stage"], created["status"]) == ("application", None, "open")
    assert created["waits_on"] == "utility" and created["deadline"] == "2027-01-20"
    assert (moved["stage"], moved["previous_stage"], moved["note"]) == ("supply_plan", "application", "已答复")
    assert completed["status"] == "completed" and completed["waits_on"] is None
    assert (created["channel"], created["sender_id"], created["locale"]) == ("web", "web-sender-1", "zh_Hans")


def test_the_cursor_pages_through_the_feed(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    for _ in range(5):
        create(CHEN)
    page = client.get("/events", params={"limit": 2}).json()
    assert [e["id"] for e in page["events"]] == [1, 2] and page["next_cursor"] == 2
    page = client.get("/events", params={"after": page["next_cursor"], "limit": 2}).json()
    assert [e["id"] for e in page["events"]] == [3, 4] and page["next_cursor"] == 4
    page = client.get("/events", params={"after": 4}).json()
    assert [e["id"] for e in page["events"]] == [5] and page["next_cursor"] == 5
    page = client.get("/events", params={"after": 5}).json()
    assert page == {"events": [], "next_cursor": 5}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}])
def test_bad_cursor_or_limit_is_422(client: TestClient, params: Dict[str, Any]) -> None:
    response = client.get("/events", params=params)
    assert response.status_code == 422
    assert response.json()["problems"]
