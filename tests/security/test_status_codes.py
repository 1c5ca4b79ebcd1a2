"""The status check's one-time codes (issue 9): texted to the phone on the case, no oracle for
case numbers, tries counted atomically, and no stranger can lock the applicant out."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from fastapi.testclient import TestClient

from cases import codes
from cases.app import build_app
from cases.sms import OUTBOX_NAME
from common.pii import mask_phone
from tests.cases.conftest import (
    ACTIONS,
    CHEN,
    GATEWAY,
    PHONE,
    Receiver,
    application,
    make_settings,
    new_key,
    staff_client,
)

STRANGER = "web:stranger-1"
APPLICANT_ON_TELEGRAM = "telegram:tg:5001"


def _sent(settings_dir: Path) -> List[Dict[str, Any]]:
    path = settings_dir / OUTBOX_NAME
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _code_of(message: Dict[str, Any]) -> str:
    match = re.search(r"(?<![0-9])[0-9]{6}(?![0-9])", message["text"].replace(message["case_id"], ""))
    assert match, message
    return match.group(0)


def _ask(client: TestClient, case_id: str, requester: str = STRANGER, key: Dict[str, str] = ACTIONS) -> Any:
    return client.post(f"/cases/{case_id}/codes", json={"requester": requester}, headers=key)


def _check(
    client: TestClient, case_id: str, code: str, requester: str = STRANGER, key: Dict[str, str] = ACTIONS
) -> Any:
    return client.post(f"/cases/{case_id}/verify", json={"code": code, "requester": requester}, headers=key)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture()
def case_id(create: Callable[..., Dict[str, Any]]) -> str:
    return create(CHEN)["case_id"]


def test_the_code_goes_to_the_phone_on_the_case_and_works_once(
    client: TestClient, case_id: str, tmp_path: Path
) -> None:
    assert _ask(client, case_id).status_code == 202
    [message] = _sent(tmp_path)
    assert message["phone"] == mask_phone(PHONE) and message["case_id"] == case_id
    code = _code_of(message)
    assert _check(client, case_id, _wrong(code)).json() == {"verified": False}
    assert _check(client, case_id, code).json() == {"verified": True}
    assert _check(client, case_id, code).json() == {"verified": False}  # spent
    assert _check(client, case_id, code, requester="web:someone-else").json() == {"verified": False}  # not theirs


def test_the_last_four_id_characters_prove_nothing_any_more(client: TestClient, case_id: str) -> None:
    response = client.post(f"/cases/{case_id}/verify", json={"id_last4": CHEN["id_number"][-4:]}, headers=ACTIONS)
    assert response.status_code == 422


def test_no_answer_tells_whether_a_case_number_exists(client: TestClient, case_id: str, tmp_path: Path) -> None:
    missing = case_id[:-4] + "0999"
    for number in (case_id, missing, "nonsense"):
        asked = _ask(client, number, requester=f"web:probe-{number}")
        assert (asked.status_code, asked.json()) == (202, {"accepted": True})
    assert [m["case_id"] for m in _sent(tmp_path)] == [case_id]  # texted only for the real one
    for number in (case_id, missing, "nonsense"):
        for _ in range(codes.MAX_WRONG_PER_CODE + 2):  # past the code's tries: still just "false"
            checked = _check(client, number, "123456", requester=f"web:probe-{number}")
            assert (checked.status_code, checked.json()) == (200, {"verified": False})
    for number in (case_id, missing):  # the request limit counts the number as typed, real or not
        statuses = [_ask(client, number, requester=f"web:prober-{number}").status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]


def test_a_strangers_wrong_codes_do_not_lock_the_applicant_out(
    client: TestClient, case_id: str, tmp_path: Path
) -> None:
    _ask(client, case_id)
    for _ in range(codes.MAX_WRONG_PER_CODE + 3):
        assert _check(client, case_id, "000000").json() == {"verified": False}
    # The applicant, from another channel, gets their own code and it works.
    assert _ask(client, case_id, requester=APPLICANT_ON_TELEGRAM, key=GATEWAY).status_code == 202
    code = _code_of(_sent(tmp_path)[-1])
    assert _check(client, case_id, code, requester=APPLICANT_ON_TELEGRAM, key=GATEWAY).json() == {"verified": True}
    # And their own channel sender needs no code at all to list the case.
    own = client.get("/cases", params={"channel": "web", "sender_id": "web-sender-1"}, headers=ACTIONS).json()
    assert [c["case_id"] for c in own["cases"]] == [case_id]


def _hold_after_reading_the_code(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Every check waits after reading the code row until all have read it: a real race."""
    barrier = threading.Barrier(parties, timeout=10)
    live_code = codes.live_code

    def _held(*args: Any, **kwargs: Any) -> Any:
        row = live_code(*args, **kwargs)
        barrier.wait()
        return row

    monkeypatch.setattr(codes, "live_code", _held)


def test_racing_wrong_tries_are_all_counted(
    client: TestClient, case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask(client, case_id)
    code = _code_of(_sent(tmp_path)[-1])
    parties = codes.MAX_WRONG_PER_CODE + 3
    _hold_after_reading_the_code(monkeypatch, parties)
    with ThreadPoolExecutor(max_workers=parties) as pool:
        results = list(pool.map(lambda _: _check(client, case_id, _wrong(code)).json(), range(parties)))
    assert results == [{"verified": False}] * parties
    monkeypatch.undo()
    assert _check(client, case_id, code).json() == {"verified": False}  # the code is spent


def test_racing_right_answers_verify_once(
    client: TestClient, case_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask(client, case_id)
    code = _code_of(_sent(tmp_path)[-1])
    _hold_after_reading_the_code(monkeypatch, 4)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _check(client, case_id, code).json()["verified"], range(4)))
    assert sorted(results) == [False, False, False, True]


def test_codes_and_checks_are_limited_per_requester(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    numbers = [create(CHEN)["case_id"] for _ in range(codes.MAX_CODES_PER_REQUESTER + 1)]
    statuses = [_ask(client, number).status_code for number in numbers]
    assert statuses == [202] * codes.MAX_CODES_PER_REQUESTER + [429]
    assert _ask(client, numbers[-1], requester="web:another").status_code == 202


def test_outside_development_codes_need_a_real_sms_gateway(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    prod = make_settings(tmp_path, app_env="production")
    with staff_client(build_app(prod)) as client:  # the real clock: no other is allowed outside test
        case_id = client.post("/cases", json=application(CHEN), headers=new_key()).json()["case_id"]
        response = _ask(client, case_id)
        assert response.status_code == 503 and "SMS_GATEWAY_URL" in response.json()["error"]
        assert _ask(client, case_id[:-4] + "0999").status_code == 503  # the same for no case
    assert not (tmp_path / OUTBOX_NAME).exists()
    received = receivers(lambda _path, _headers, _raw: (200, {}))
    gateway = dataclasses.replace(prod, sms_gateway_url=f"{received.url}/sms", sms_gateway_token="t" * 40)
    with staff_client(build_app(gateway)) as client:
        assert _ask(client, case_id).status_code == 202
    [(path, headers, raw)] = received.wait_for(1)
    assert path == "/sms" and headers["Authorization"] == "Bearer " + "t" * 40
    assert json.loads(raw)["phone"] == PHONE and case_id in json.loads(raw)["text"]
