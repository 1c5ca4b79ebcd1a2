"""The case side of the staff API against the real gateway app (in process) and the real case
API (over HTTP, its clock set by the test): queue, case page, transitions recorded with the
staff member, warnings with acknowledgement, reports and CSV; access control (no session, no
CSRF, an agent restricted to a region)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any, Dict, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import build_app
from bot.casework.warnings import WarningJob
from bot.handoff import models as hm
from bot.staff import auth
from common.case_client import CaseClient
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import Settings
from tests.bot.test_casework_warnings import CaseApi, _at
from tests.cases.conftest import CHEN, GATEWAY, KEY, WANG, Clock, make_settings
from tools.services import free_port

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("casework-staff")
    clock = Clock()
    case_api = CaseApi(make_settings(tmp / "cases"), clock)
    zhanjiang, jinhua = case_api.create(CHEN), case_api.create(WANG)  # 2026-11-24; sender web-sender-1
    settings = Settings(
        app_env="test", var_dir=tmp, database_url=f"sqlite:///{tmp / 'app.db'}", case_api_url=case_api.url,
        rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_s=1.0, notifier_poll_s=5.0,
        staff_regions="li.ming:金华", secrets={"CASE_API_GATEWAY_KEY": GATEWAY["X-Api-Key"]},
    )
    engine = make_engine(settings.database_url)
    create_all(engine)
    with session_scope(make_session_factory(engine)) as session:
        auth.set_account("sue", PASSWORD, "supervisor", session=session)
        auth.set_account("bob", PASSWORD, "agent", session=session)
        auth.set_account("li.ming", PASSWORD, "agent", session=session)
        opened = _at("2026-11-25")
        session.add(hm.Handoff(id=1, sender_id="web-sender-1", channel="web", reason="asked", locale="zh_Hans",
                               opened_at=opened, first_staff_reply_at=opened + dt.timedelta(seconds=90)))
        session.flush()
        session.add(hm.Rating(handoff_id=1, score=2, flagged=True, at=_at("2026-11-26")))
    with TestClient(build_app(settings), base_url="http://127.0.0.1") as client:
        yield {"client": client, "clock": clock, "case_api": case_api, "settings": settings, "engine": engine,
               "zhanjiang": zhanjiang, "jinhua": jinhua, "tokens": {}}
    engine.dispose()
    case_api.stop()


def login(world: Dict[str, Any], username: str) -> Dict[str, str]:
    client: TestClient = world["client"]
    client.cookies.clear()
    tokens = world["tokens"]
    if username not in tokens:
        response = client.post("/staff/api/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        tokens[username] = (response.cookies[auth.COOKIE], response.json()["csrf_token"])
        client.cookies.clear()
    cookie, csrf = tokens[username]
    client.cookies.set(auth.COOKIE, cookie, domain="127.0.0.1", path="/staff")
    return {"X-CSRF-Token": csrf}


def test_access_needs_a_session_and_changes_need_csrf(world: Dict[str, Any]) -> None:
    client: TestClient = world["client"]
    client.cookies.clear()
    case_id = world["zhanjiang"]
    for path in ("/staff/api/cases", f"/staff/api/cases/{case_id}", "/staff/api/warnings", "/staff/api/reports",
                 "/staff/api/reports/weeks.csv"):
        assert client.get(path).status_code == 401, path
    body = {"to_stage": "survey_and_connection"}
    assert client.post(f"/staff/api/cases/{case_id}/transitions", json=body).status_code == 401
    login(world, "bob")
    assert client.post(f"/staff/api/cases/{case_id}/transitions", json=body).status_code == 403
    assert client.post(f"/staff/api/cases/{case_id}/transitions", json=body,
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/staff/api/warnings/1/ack").status_code == 403
    assert client.get("/staff/api/cases", params={"light": "purple"}).status_code == 422
    page = client.get("/staff/cases")
    assert page.status_code == 200 and "工单时限工作台" in page.text and "http" not in page.text.split("<script>")[0]
    assert client.get(f"/staff/cases/{case_id}").status_code == 200
    assert KEY not in page.text


def test_queue_and_an_agent_restricted_to_a_region(world: Dict[str, Any]) -> None:
    client: TestClient = world["client"]
    world["clock"].now = _at("2026-11-30")  # 金华 resident 5 days: due 12-01, amber; 湛江 low 8 days: green
    login(world, "sue")
    everything = client.get("/staff/api/cases").json()
    assert [c["case_id"] for c in everything["cases"]] == [world["jinhua"], world["zhanjiang"]]
    first = everything["cases"][0]
    assert {k: first[k] for k in ("stage", "light", "stage_deadline", "deadline", "working_days_left", "region",
                                  "process", "stage_name")} == {
        "stage": "acceptance", "light": "amber", "stage_deadline": "2026-12-01", "deadline": "2026-12-01",
        "working_days_left": 1, "region": "金华", "process": "jinhua-resident", "stage_name": "申请受理"}
    assert [c["case_id"] for c in client.get("/staff/api/cases", params={"light": "amber"}).json()["cases"]] == [
        world["jinhua"]]
    assert [c["region"] for c in client.get("/staff/api/cases", params={"region": "湛江"}).json()["cases"]] == ["湛江"]
    headers = login(world, "li.ming")
    assert [c["case_id"] for c in client.get("/staff/api/cases").json()["cases"]] == [world["jinhua"]]
    assert client.get("/staff/api/cases", params={"region": "湛江"}).status_code == 403
    assert client.get(f"/staff/api/cases/{world['zhanjiang']}").status_code == 403
    moved = client.post(f"/staff/api/cases/{world['zhanjiang']}/transitions",
                        json={"to_stage": "survey_and_connection"}, headers=headers)
    assert moved.status_code == 403
    assert client.get(f"/staff/api/cases/{world['jinhua']}").status_code == 200
    login(world, "bob")  # an agent not listed in STAFF_REGIONS sees every region
    assert len(client.get("/staff/api/cases").json()["cases"]) == 2


def test_case_page_and_transition_recorded_with_the_staff_member(world: Dict[str, Any]) -> None:
    client: TestClient = world["client"]
    headers = login(world, "bob")
    case_id = world["zhanjiang"]
    page = client.get(f"/staff/api/cases/{case_id}").json()
    assert page["applicant"] == {"name": "陈*明", "id_number": "4408**********0310", "phone": "138****8000"}
    assert page["next_stages"] == ["survey_and_connection"]
    assert page["next_stage_names"] == {"survey_and_connection": "现场勘查和装表接电"}
    assert page["documents"] == {"identity": "verified", "property": "verified"}
    assert page["clock"]["time_limit_working_days"] == 8 and page["clock"]["light"] == "green"
    assert [h["ticket"] for h in page["handoffs"]] == ["H000001"] and page["handoffs"][0]["url"] == "/staff#handoff-1"
    assert client.get("/staff/api/cases/440800-20990101-9999").status_code == 404
    bad = client.post(f"/staff/api/cases/{case_id}/transitions", json={"to_stage": "nowhere"}, headers=headers)
    assert bad.status_code == 422
    moved = client.post(f"/staff/api/cases/{case_id}/transitions",
                        json={"to_stage": "survey_and_connection", "note": "装表完成"}, headers=headers)
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert answer["status"] == "completed" and answer["applicant"]["name"] == "陈*明"
    assert answer["history"][-1]["actor"] == "bob" and answer["history"][-1]["note"] == "装表完成"
    stale = client.post(f"/staff/api/cases/{case_id}/transitions", json={"to_stage": "survey_and_connection"},
                        headers=headers)
    assert stale.status_code == 409 and stale.json()["next_stages"] == []
    direct = httpx.get(f"{world['case_api'].url}/cases/{case_id}", headers={"X-Api-Key": KEY}).json()
    assert direct["history"][-1]["actor"] == "bob"


def test_warnings_listed_and_acknowledged_in_the_console(world: Dict[str, Any]) -> None:
    client: TestClient = world["client"]
    settings: Settings = world["settings"]
    world["case_api"].create(CHEN)  # a 湛江 case, created 11-30: green
    world["clock"].now = _at("2026-12-02")  # the 金华 case is overdue

    async def run() -> None:
        async with httpx.AsyncClient() as http:
            job = WarningJob(CaseClient(settings.case_api_url, KEY, http),
                             make_session_factory(world["engine"]), settings)
            assert (await job.run_once()).raised == 1

    asyncio.run(run())
    login(world, "li.ming")
    listed = client.get("/staff/api/warnings").json()
    assert listed["counts"] == {"amber": 0, "red": 1}
    warning = listed["warnings"][0]
    assert (warning["case_id"], warning["level"], warning["region"]) == (world["jinhua"], "red", "金华")
    headers = login(world, "sue")
    acked = client.post(f"/staff/api/warnings/{warning['id']}/ack", headers=headers)
    assert acked.status_code == 200 and acked.json()["acked_by"] == "sue"
    assert client.get("/staff/api/warnings").json()["counts"] == {"amber": 0, "red": 0}
    assert client.post("/staff/api/warnings/999/ack", headers=headers).status_code == 404
    page = client.get(f"/staff/api/cases/{world['jinhua']}").json()
    assert page["warnings"][0]["acked_by"] == "sue"


def test_reports_and_csv_through_the_staff_api(world: Dict[str, Any]) -> None:
    client: TestClient = world["client"]
    login(world, "bob")
    params = {"since": "2026-11-23", "until": "2026-12-06"}
    report = client.get("/staff/api/reports", params=params).json()
    assert set(report) >= {"weeks", "processes", "fallbacks", "handoffs"}
    assert report["processes"][0]["process"] == "zhanjiang-low"  # connected by bob above
    assert report["handoffs"] == [{"week": "2026-11-23", "handoffs": 1, "answered": 1, "median_first_response_s": 90.0,
                                   "ratings": 1, "average_rating": 2.0, "flagged": 1}]
    response = client.get("/staff/api/reports/processes.csv", params=params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="processes-2026-11-23-2026-12-06.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0]["process"] == "zhanjiang-low" and rows[0]["promise_working_days"] == "8"
    assert client.get("/staff/api/reports/secrets.csv").status_code == 422
    assert client.get("/staff/api/reports", params={"since": "2026-12-06", "until": "2026-11-23"}).status_code == 422
