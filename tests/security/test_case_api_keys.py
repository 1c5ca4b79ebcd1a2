"""Attacker-style tests of the case API's keys (issue 9): nothing without a client key, each
client limited to its role, and nobody but staff reads `sender_id`, notes or registry results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List

import pytest
from fastapi.testclient import TestClient

from cases.app import build_app
from tests.cases.conftest import (
    ACTIONS,
    CASE_API_KEYS,
    CHEN,
    GATEWAY,
    HUANG,
    NO_KEY,
    STAFF,
    WANG,
    Clock,
    application,
    make_settings,
    new_key,
    staff_client,
)

SAMPLE_CASE = "440800-20261124-0001"


def _requests() -> List[Dict[str, Any]]:
    """One request per route of the OpenAPI schema but /healthz, with a plausible body."""
    return [
        {"method": "POST", "url": "/cases", "json": application(CHEN), "headers": new_key()},
        {"method": "GET", "url": "/cases", "params": {"channel": "web", "sender_id": "web-sender-1"}},
        {"method": "GET", "url": f"/cases/{SAMPLE_CASE}"},
        {"method": "POST", "url": f"/cases/{SAMPLE_CASE}/codes", "json": {"requester": "web:x"}},
        {"method": "POST", "url": f"/cases/{SAMPLE_CASE}/verify", "json": {"code": "123456", "requester": "web:x"}},
        {"method": "POST", "url": f"/cases/{SAMPLE_CASE}/transitions", "json": {"to_stage": "survey_and_connection"}},
        {"method": "PATCH", "url": f"/cases/{SAMPLE_CASE}/items/1", "json": {"status": "done"}},
        {"method": "GET", "url": "/events"},
        {"method": "GET", "url": "/processes/preview",
         "params": {"address": CHEN["address"], "customer_type": "resident", "capacity_kw": 8}},
        {"method": "POST", "url": "/processes/preview",
         "json": {"address": CHEN["address"], "customer_type": "resident", "capacity_kw": 8}},
        {"method": "GET", "url": "/webhooks/deliveries"},
        {"method": "GET", "url": "/queue"},
        {"method": "GET", "url": "/queue/due"},
        {"method": "GET", "url": "/reports/cases", "params": {"since": "2026-11-01", "until": "2026-11-30"}},
    ]


def _send(client: TestClient, request: Dict[str, Any], key: Dict[str, str]) -> Any:
    request = dict(request)
    request["headers"] = {**request.get("headers", {}), **key}
    return client.request(**request)


def test_the_requests_cover_every_route_of_the_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    covered = {(r["method"], r["url"].replace(SAMPLE_CASE, "{case_id}").replace("/items/1", "/items/{item_id}"))
               for r in _requests()}
    assert routes - {("GET", "/healthz")} == covered


# No key, the key the repository used to publish, a staff key with a byte more, a long one.
UNKNOWN_KEYS = [NO_KEY, {"X-Api-Key": "change-me-case-api-key"}, {"X-Api-Key": STAFF["X-Api-Key"] + "0"},
                {"X-Api-Key": "x" * 300}]


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_without_a_known_key_every_route_but_healthz_is_401(client: TestClient, key: Dict[str, str]) -> None:
    for request in _requests():
        response = _send(client, request, key)
        assert response.status_code == 401, (request["url"], response.text)
        assert response.headers["WWW-Authenticate"] == "ApiKey"
    assert client.get("/healthz", headers=NO_KEY).status_code == 200


def test_a_keyless_client_cannot_use_up_case_numbers(client: TestClient) -> None:
    for _ in range(3):
        response = client.post("/cases", json=application(CHEN), headers={**new_key(), **NO_KEY})
        assert response.status_code == 401
    assert client.get("/cases", params={"channel": "web", "sender_id": "web-sender-1"}).json() == {"cases": []}
    assert client.get("/events").json()["events"] == []


def test_each_client_is_held_to_its_role(client: TestClient) -> None:
    case = client.post("/cases", json=application(CHEN, linked=["water"]), headers=new_key()).json()
    case_id, item = case["case_id"], case["linked_applications"][0]["id"]
    refused = {
        "actions": [("GET", "/events", None), ("GET", "/webhooks/deliveries", None),
                    ("POST", f"/cases/{case_id}/transitions", {"to_stage": "survey_and_connection"}),
                    ("PATCH", f"/cases/{case_id}/items/{item}", {"status": "done"})],
        "gateway": [("POST", "/cases", application(WANG)),
                    ("GET", "/processes/preview?address=x&customer_type=resident&capacity_kw=8", None),
                    ("POST", f"/cases/{case_id}/transitions", {"to_stage": "survey_and_connection"}),
                    ("PATCH", f"/cases/{case_id}/items/{item}", {"status": "done"}),
                    ("GET", "/webhooks/deliveries", None)],
    }
    for role, key in (("actions", ACTIONS), ("gateway", GATEWAY)):
        for method, url, body in refused[role]:
            response = client.request(method, url, json=body, headers={**key, **new_key()})
            assert response.status_code == 403, (role, method, url, response.text)
    assert client.get(f"/cases/{case_id}").json()["stage"] == "application"
    assert client.get(f"/cases/{case_id}").json()["linked_applications"][0]["status"] == "submitted"
    # X-Staff-User counts from the gateway only (its console logs staff in), never from the actions.
    as_staff = {"X-Staff-User": "li.ming"}
    assert client.post(f"/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"},
                       headers={**ACTIONS, **as_staff}).status_code == 403
    moved = client.post(f"/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"},
                        headers={**GATEWAY, **as_staff})
    assert moved.status_code == 200 and moved.json()["history"][-1]["actor"] == "li.ming"
    # The gateway reads a resident's cases redacted unless it acts for a staff member.
    mine = {"channel": "web", "sender_id": "web-sender-1"}
    _no_staff_fields(client.get("/cases", params=mine, headers=GATEWAY).json())


def _no_staff_fields(body: Any) -> None:
    text = str(body)
    assert "sender_id" not in text and "web-sender-1" not in text
    assert "documents" not in text and "电子证照库" not in text and "'note'" not in text
    assert "补充材料" not in text


def test_nobody_but_staff_reads_sender_notes_or_registry_results(client: TestClient) -> None:
    # HUANG owns no property there in the registry: a pending item with a registry note.
    created = client.post("/cases", json=application(HUANG, customer_type="hv", capacity_kw=630),
                          headers={**new_key(), **ACTIONS})
    assert created.status_code == 201
    _no_staff_fields(created.json())
    case_id = created.json()["case_id"]
    staff_view = client.post(f"/cases/{case_id}/transitions", json={"to_stage": "supply_plan", "note": "请补充材料"},
                             headers=STAFF).json()
    assert staff_view["sender_id"] == "web-sender-1" and staff_view["documents"]
    assert any(h.get("note") == "请补充材料" for h in staff_view["history"])
    for key in (ACTIONS, GATEWAY):
        _no_staff_fields(client.get(f"/cases/{case_id}", headers=key).json())
    found = client.get("/cases", params={"channel": "web", "sender_id": "web-sender-1"}, headers=ACTIONS).json()
    assert [c["case_id"] for c in found["cases"]] == [case_id]
    _no_staff_fields(found["cases"])
    assert client.get(f"/cases/{case_id}", headers=ACTIONS).json()["pending_items"][0]["kind"]  # the receipt needs it
    # The feed maps cases to senders for the gateway's notifier, and to no other client.
    feed = client.get("/events", headers=GATEWAY).json()["events"]
    assert feed[0]["sender_id"] == "web-sender-1"
    assert client.get("/events", headers=ACTIONS).status_code == 403


def test_a_revoked_key_is_refused_and_a_role_may_hold_two(tmp_path: Path) -> None:
    keys = CASE_API_KEYS.replace(f"gateway:{GATEWAY['X-Api-Key']}", "gateway:the-new-gateway-key")
    keys += ",staff:a-second-staff-tool-key"
    base = make_settings(tmp_path)
    settings = dataclasses.replace(base, secrets={**base.secrets, "CASE_API_KEYS": keys})
    with staff_client(build_app(settings, clock=Clock())) as client:
        assert client.get("/events", headers=GATEWAY).status_code == 401
        assert client.get("/events", headers={"X-Api-Key": "the-new-gateway-key"}).status_code == 200
        assert client.get("/webhooks/deliveries", headers={"X-Api-Key": "a-second-staff-tool-key"}).status_code == 200
        assert client.get("/webhooks/deliveries").status_code == 200
