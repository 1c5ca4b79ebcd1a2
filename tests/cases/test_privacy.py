"""Personal data: masked in every response, redacted but for staff, encrypted at rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Dict, List

from fastapi.testclient import TestClient

from common.settings import Settings
from tests.cases.conftest import ACTIONS, CHEN, GATEWAY, HUANG, PHONE, STAFF, application, new_key

SECRETS = [CHEN["id_number"], HUANG["id_number"], HUANG["id_number"].lower(), PHONE]


def _every_response(client: TestClient, case_id: str) -> List[Any]:
    return [
        client.get(f"/cases/{case_id}", headers=ACTIONS),
        client.get(f"/cases/{case_id}", headers=STAFF),
        client.get("/cases", params={"channel": "web", "sender_id": "web-sender-1"}, headers=STAFF),
        client.post(f"/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"}, headers=STAFF),
        client.get("/events"),
        client.get("/processes/preview", params={"address": CHEN["address"], "customer_type": "resident",
                                                 "capacity_kw": 8}, headers=ACTIONS),
    ]


def test_no_full_id_number_or_phone_in_any_response(client: TestClient) -> None:
    created = [
        client.post("/cases", json=application(CHEN), headers={**new_key(), **ACTIONS}),
        client.post("/cases", json=application(HUANG), headers={**new_key(), **STAFF}),
    ]
    responses = created + _every_response(client, created[0].json()["case_id"])
    for response in responses:
        assert response.status_code in (200, 201), response.text
        for secret in SECRETS:
            assert secret not in response.text
    events = client.get("/events").json()["events"]
    assert events and all(CHEN["name"] not in str(event) for event in events)


def test_other_clients_see_the_name_and_the_address_detail_hidden(
    client: TestClient, create: Callable[..., Dict[str, Any]]
) -> None:
    case = create(CHEN)
    for key in (ACTIONS, GATEWAY):
        public = client.get(f"/cases/{case['case_id']}", headers=key).json()
        assert public["applicant"] == {"name": "陈*明", "id_number": "4408**********0310", "phone": "138****8000"}
        assert "detail" not in public["address"]
        assert public["address"]["text"] == "广东省湛江市赤坎区"
        assert "人民大道" not in str(public)
    staff = client.get(f"/cases/{case['case_id']}", headers=STAFF).json()
    assert staff["applicant"]["name"] == "陈海明"
    assert staff["address"]["detail"] == "人民大道中28号"


def test_a_wrong_key_reads_nothing(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case = create(CHEN)
    response = client.get(f"/cases/{case['case_id']}", headers={"X-Api-Key": "wrong"})
    assert response.status_code == 401
    assert "陈" not in response.text


def test_creation_by_the_actions_answers_redacted(client: TestClient) -> None:
    case = client.post("/cases", json=application(CHEN, name="王五"), headers={**new_key(), **ACTIONS}).json()
    assert case["applicant"]["name"] == "王*"
    assert "detail" not in case["address"]
    assert "sender_id" not in case and "documents" not in case


def _read(path: Path) -> bytes:
    """The file's bytes; empty when SQLite removed it meanwhile (-wal/-shm on the last close)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_personal_data_is_encrypted_at_rest(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    for person in (CHEN, HUANG):
        assert client.post("/cases", json=application(person), headers=new_key()).status_code == 201
    with sqlite3.connect(tmp_path / "cases.db") as conn:  # the WAL's pages into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [p for p in tmp_path.iterdir() if p.name.startswith("cases.db")]
    assert files, "the SQLite file (and its WAL) should exist"
    stored = b"".join(_read(p) for p in files)
    assert b"440802198003120310" not in stored
    assert b"44080319850710103X" not in stored
    assert PHONE.encode() not in stored
    assert "陈海明".encode() not in stored and "黄志强".encode() not in stored
    assert "人民大道中28号".encode() in stored  # the check can see plain text: the address is stored as such


def test_not_found_is_404(client: TestClient) -> None:
    for case_id in ("440800-20261124-9999", "nonsense", "1" * 30):
        response = client.get(f"/cases/{case_id}")
        assert response.status_code == 404
        assert response.json() == {"error": "no such case"}


def test_case_id_is_accepted_without_hyphens(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    assert client.get(f"/cases/{case_id.replace('-', '')}").json()["case_id"] == case_id
