"""GET /reports/cases against a fixture of cases with known outcomes (made-up timestamps)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict

from fastapi.testclient import TestClient

from tests.cases.conftest import CHEN, NO_KEY, STAFF, WANG, Clock


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=2, tzinfo=dt.timezone.utc)  # 10:00 in China


def _complete(client: TestClient, clock: Clock, case_id: str, stage: str, day: str) -> None:
    clock.now = _at(day)
    response = client.post(f"/cases/{case_id}/transitions", json={"to_stage": stage}, headers=STAFF)
    assert response.status_code == 200 and response.json()["status"] == "completed"


def test_figures_of_cases_with_known_outcomes(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    clock.now = _at("2026-11-24")
    fast, slow = create(CHEN)["case_id"], create(CHEN)["case_id"]  # 湛江 low voltage: 8 working days, due 12-04
    clock.now = _at("2026-11-25")
    jinhua = create(WANG)["case_id"]  # 金华 resident: 5 working days, due 12-02
    clock.now = _at("2026-12-01")
    create(CHEN)  # still open
    _complete(client, clock, jinhua, "connection", "2026-11-27")  # 2 working days
    _complete(client, clock, fast, "survey_and_connection", "2026-12-02")  # 6 working days, on time
    _complete(client, clock, slow, "survey_and_connection", "2026-12-08")  # 10 working days, late
    clock.now = _at("2026-12-09")
    response = client.get("/reports/cases", params={"since": "2026-11-23", "until": "2026-12-13"}, headers=STAFF)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["weeks"] == [
        {"week": "2026-11-23", "region": "湛江", "opened": 2, "connected": 0, "connected_within_limit": 0,
         "share_within_limit": None},
        {"week": "2026-11-23", "region": "金华", "opened": 1, "connected": 1, "connected_within_limit": 1,
         "share_within_limit": 1.0},
        {"week": "2026-11-30", "region": "湛江", "opened": 1, "connected": 1, "connected_within_limit": 1,
         "share_within_limit": 1.0},
        {"week": "2026-12-07", "region": "湛江", "opened": 0, "connected": 1, "connected_within_limit": 0,
         "share_within_limit": 0.0},
    ]
    assert report["processes"] == [
        {"process": "jinhua-resident", "region": "金华", "promise_working_days": 5, "verified": True,
         "connected": 1, "connected_within_limit": 1, "share_within_limit": 1.0, "median_working_days": 2.0,
         "meets_promise": True},
        {"process": "zhanjiang-low", "region": "湛江", "promise_working_days": 8, "verified": True,
         "connected": 2, "connected_within_limit": 1, "share_within_limit": 0.5, "median_working_days": 8.0,
         "meets_promise": True},
    ]
    # A window that starts after the first week leaves its openings out, keeps later connections.
    later = client.get("/reports/cases", params={"since": "2026-12-07", "until": "2026-12-13"}, headers=STAFF).json()
    assert [(w["week"], w["opened"], w["connected"]) for w in later["weeks"]] == [("2026-12-07", 0, 1)]
    assert later["processes"][0]["median_working_days"] == 10.0 and later["processes"][0]["meets_promise"] is False


def test_report_refusals(client: TestClient) -> None:
    assert client.get("/reports/cases", headers=NO_KEY).status_code == 401
    bad = client.get("/reports/cases", params={"since": "2026-12-10", "until": "2026-12-01"}, headers=STAFF)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "since"
    assert client.get("/reports/cases", params={"since": "not-a-date"}, headers=STAFF).status_code == 422
    default = client.get("/reports/cases", headers=STAFF).json()
    assert default["until"] == "2026-11-24" and default["since"] == "2026-09-07"
