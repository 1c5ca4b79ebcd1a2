"""The app as a whole: health, docs, error shape for unknown routes and oversized bodies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cases.conftest import STAFF, new_key


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/cases", "/cases/{case_id}", "/cases/{case_id}/transitions", "/cases/{case_id}/verify",
            "/cases/{case_id}/items/{item_id}", "/events", "/processes/preview", "/webhooks/deliveries",
            "/healthz"} <= set(paths)


def test_unknown_routes_and_methods_answer_in_the_error_shape(client: TestClient) -> None:
    assert client.get("/nothing").json() == {"error": "Not Found"}
    response = client.delete("/cases/440800-20261124-0001")
    assert response.status_code == 405 and response.json()["error"]


def test_an_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/cases", content=b"{" + b" " * 70000 + b"}",
                           headers={**new_key(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]


def test_a_non_numeric_item_id_is_422(client: TestClient) -> None:
    response = client.patch("/cases/440800-20261124-0001/items/abc", json={"status": "done"},
                            headers=STAFF)
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "path.item_id"
