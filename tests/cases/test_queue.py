"""Time-limit clocks and the staff queue: lights in working days (调休 included), filters,
order, pages, the clock waiting on the customer, who moved a case, and the start-up backfill."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable, Dict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from cases.app import build_app
from cases.clocks import CaseClock
from cases.models import Case
from cases.processes import ProcessFileError, load_catalog, parse_catalog
from cases.timelimits import WorkCalendar, amber_count
from cases.workdays import add_working_days, load_holiday_file
from common.db import make_engine, make_session_factory, session_scope
from common.settings import Settings, SettingsError
from tests.cases.conftest import CHEN, NO_KEY, STAFF, WANG, Clock

ROOT_HOLIDAYS = load_holiday_file(Settings().holidays_file)


def _queue(client: TestClient, **params: Any) -> Dict[str, Any]:
    response = client.get("/queue", params=params, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


def _move(client: TestClient, case_id: str, stage: str, **headers: str) -> Any:
    return client.post(f"/cases/{case_id}/transitions", json={"to_stage": stage}, headers={**STAFF, **headers})


def _clock(client: TestClient, case_id: str) -> Dict[str, Any]:
    return client.get(f"/cases/{case_id}", headers=STAFF).json()["clock"]


def test_the_calendar_agrees_with_the_deadline_rule_across_holidays_and_make_up_days() -> None:
    calendar = WorkCalendar(ROOT_HOLIDAYS)
    start = dt.date(2026, 9, 1)
    for offset in range(0, 150, 3):  # National Day 2026, its make-up Sunday 9-20 and Saturday 10-10
        day = start + dt.timedelta(days=offset)
        for count in (0, 1, 5, 8, 25, 40):
            expected = add_working_days(day, count, ROOT_HOLIDAYS).day
            assert calendar.add(day, count) == expected, (day, count)
            assert calendar.between(day, expected) == count
    assert calendar.between(dt.date(2026, 9, 30), dt.date(2026, 10, 8)) == 1  # only 10-08 works
    assert calendar.between(dt.date(2026, 9, 19), dt.date(2026, 9, 20)) == 1  # 调休 Sunday
    assert calendar.add(dt.date(2026, 12, 30), 3) == add_working_days(dt.date(2026, 12, 30), 3, ROOT_HOLIDAYS).day
    assert [amber_count(n) for n in (0, 1, 5, 7, 8, 10)] == [0, 1, 4, 6, 7, 8]


def _at(day: str) -> dt.datetime:
    """10:00 in China on `day`."""
    return dt.datetime.fromisoformat(day).replace(hour=2, tzinfo=dt.timezone.utc)


def test_a_stage_turns_amber_at_80_percent_and_red_when_overdue(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    case_id = create(CHEN)["case_id"]  # 湛江 low voltage, created Tuesday 2026-11-24: 8 working days
    assert _clock(client, case_id) == {
        "stage": "application", "light": "green", "clock": "running", "waits_on": "utility",
        "stage_started_on": "2026-11-24", "time_limit_working_days": 8, "working_days_used": 0,
        "working_days_left": 8, "stage_deadline": "2026-12-04",
    }
    clock.now = _at("2026-12-02")
    assert (_clock(client, case_id)["light"], _clock(client, case_id)["working_days_used"]) == ("green", 6)
    clock.now = _at("2026-12-03")  # 7 of 8 working days used: 80 % reached
    assert (_clock(client, case_id)["light"], _clock(client, case_id)["working_days_left"]) == ("amber", 1)
    clock.now = _at("2026-12-04")
    assert _clock(client, case_id)["light"] == "amber"
    clock.now = _at("2026-12-05")  # Saturday after the deadline: overdue, no working day used
    assert (_clock(client, case_id)["light"], _clock(client, case_id)["working_days_left"]) == ("red", 0)
    clock.now = _at("2026-12-07")
    overdue = _clock(client, case_id)
    assert (overdue["light"], overdue["working_days_used"], overdue["working_days_left"]) == ("red", 9, -1)


def test_moving_restarts_the_clock_and_records_who_moved(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    case_id = create(CHEN, customer_type="hv", capacity_kw=630)["case_id"]  # 湛江 high: 13 + 27 days
    assert _clock(client, case_id)["time_limit_working_days"] == 13
    clock.advance(days=2)
    moved = _move(client, case_id, "supply_plan", **{"X-Staff-User": "agent.li"}).json()
    assert moved["history"][-1]["actor"] == "agent.li" and moved["history"][0]["actor"] is None
    expected = add_working_days(dt.date(2026, 11, 26), 27, ROOT_HOLIDAYS).day
    assert moved["clock"]["stage"] == "supply_plan" and moved["clock"]["stage_started_on"] == "2026-11-26"
    assert moved["clock"]["stage_deadline"] == expected.isoformat() and moved["clock"]["light"] == "green"
    assert moved["stages"][1]["time_limit_working_days"] == 27 and moved["stages"][2]["time_limit_working_days"] is None
    assert _queue(client)["cases"][0]["stage"] == "supply_plan"


def test_a_stage_that_waits_on_the_customer_stops_the_clock(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    case_id = create(WANG, customer_type="hv", capacity_kw=630)["case_id"]  # 金华 high voltage
    assert _move(client, case_id, "supply_plan").status_code == 200
    assert _move(client, case_id, "completion_inspection").status_code == 200
    clock.advance(days=120)
    waiting = _clock(client, case_id)
    assert waiting["clock"] == "waiting_on_resident" and waiting["waits_on"] == "customer"
    assert waiting["light"] == "green" and waiting["stage_deadline"] is None and waiting["working_days_left"] is None
    assert _queue(client, light="red")["cases"] == []
    assert _queue(client)["cases"][0]["clock"] == "waiting_on_resident"
    assert _move(client, case_id, "connection").json()["clock"] is None
    assert _queue(client)["total"] == 0


def test_the_queue_filters_sorts_and_pages(
    client: TestClient, clock: Clock, create: Callable[..., Dict[str, Any]]
) -> None:
    old = create(CHEN)["case_id"]  # 湛江 low, 11-24: deadline 12-04
    clock.now = _at("2026-12-01")
    amber = create(WANG)["case_id"]  # 金华 resident, 5 working days: deadline 12-08, amber from 12-07
    clock.now = _at("2026-12-07")
    newer = create(CHEN)["case_id"]  # deadline 12-17
    jinhua = create(WANG)["case_id"]  # deadline 12-14
    waiting = create(WANG, customer_type="hv", capacity_kw=630)["case_id"]
    _move(client, waiting, "supply_plan")
    _move(client, waiting, "completion_inspection")
    everything = _queue(client)
    assert everything["total"] == 5 and everything["today"] == "2026-12-07"
    ids = [row["case_id"] for row in everything["cases"]]
    assert ids == [old, amber, jinhua, newer, waiting]  # least time left first, the paused clock last
    assert [r["working_days_left"] for r in everything["cases"][:4]] == [-1, 1, 5, 8]
    assert [r["light"] for r in everything["cases"]] == ["red", "amber", "green", "green", "green"]
    assert [r["case_id"] for r in _queue(client, light="red")["cases"]] == [old]
    assert [r["case_id"] for r in _queue(client, light="amber")["cases"]] == [amber]
    assert [r["case_id"] for r in _queue(client, light="green")["cases"]] == [jinhua, newer, waiting]
    assert [r["case_id"] for r in _queue(client, light="amber,red")["cases"]] == [old, amber]
    assert [r["case_id"] for r in _queue(client, region="金华")["cases"]] == [amber, jinhua, waiting]
    assert [r["case_id"] for r in _queue(client, process="jinhua-high")["cases"]] == [waiting]
    assert [r["case_id"] for r in _queue(client, stage="application")["cases"]] == [old, newer]
    assert _queue(client, region="金华", light="green")["total"] == 2
    assert _queue(client, region="金华,湛江")["total"] == 5 and _queue(client, region="广州")["total"] == 0
    page = _queue(client, limit=2, offset=2)
    assert [r["case_id"] for r in page["cases"]] == ids[2:4] and page["total"] == 5
    line = everything["cases"][0]
    assert set(line) >= {"case_id", "stage", "light", "stage_deadline", "deadline", "working_days_left", "region",
                         "process"}
    assert line["deadline"] == "2026-12-04" and line["region"] == "湛江" and line["process"] == "zhanjiang-low"
    assert "applicant" not in line
    due = client.get("/queue/due", headers=STAFF).json()
    assert due["columns"] == ["case_id", "stage", "light", "region", "process", "stage_deadline", "working_days_left"]
    assert due["cases"] == [[old, "application", "red", "湛江", "zhanjiang-low", "2026-12-04", -1],
                            [amber, "acceptance", "amber", "金华", "jinhua-resident", "2026-12-08", 1]]
    assert due["stage_names"]["acceptance"]["zh_Hans"] == "申请受理"
    first = client.get("/queue/due", params={"limit": 1}, headers=STAFF).json()
    rest = client.get("/queue/due", params={"after": first["next_after"]}, headers=STAFF).json()
    assert [r[0] for r in first["cases"] + rest["cases"]] == [old, amber]
    assert client.get("/queue/due", headers=NO_KEY).status_code == 401
    assert client.get("/queue", params={"light": "blue"}, headers=STAFF).status_code == 422
    assert client.get("/queue", params={"limit": 0}, headers=STAFF).status_code == 422
    assert client.get("/queue", headers=NO_KEY).status_code == 401


def test_the_actor_is_checked(client: TestClient, create: Callable[..., Dict[str, Any]]) -> None:
    case_id = create(CHEN)["case_id"]
    assert _move(client, case_id, "survey_and_connection", **{"X-Staff-User": "bad user!"}).status_code == 422
    body = {"to_stage": "survey_and_connection", "actor": "supervisor.wu"}
    moved = client.post(f"/cases/{case_id}/transitions", json=body, headers=STAFF).json()
    assert moved["history"][-1]["actor"] == "supervisor.wu" and moved["history"][0]["actor"] is None
    assert moved["clock"] is None and moved["status"] == "completed"


def test_open_cases_without_a_clock_get_one_at_start_up(
    settings: Settings, clock: Clock, create: Callable[..., Dict[str, Any]], client: TestClient
) -> None:
    case_id = create(CHEN)["case_id"]
    engine = make_engine(settings.case_database_url)
    with session_scope(make_session_factory(engine)) as session:
        session.execute(delete(CaseClock))
        # A case written before stage limits existed: its stage snapshot has none.
        row = session.execute(select(Case)).scalar_one()
        row.stages = [{k: v for k, v in stage.items() if k != "time_limit_working_days"} for stage in row.stages]
    engine.dispose()
    assert _queue(client)["total"] == 0
    with TestClient(build_app(settings, clock=clock)) as restarted:
        assert [r["case_id"] for r in _queue(restarted)["cases"]] == [case_id]
        assert _clock(restarted, case_id)["stage_deadline"] == "2026-12-04"  # limits from processes.yml


def test_stage_limits_must_add_up_to_the_time_limit() -> None:
    catalog = load_catalog()
    for region in catalog.regions:
        for process in region.processes:
            assert sum(process.stage_limits) == process.time_limit_working_days, process.key
    data = {
        "stages": {"a": {"names": {"zh_Hans": "甲", "zh_Hant": "甲", "en": "A"}},
                   "b": {"names": {"zh_Hans": "乙", "zh_Hant": "乙", "en": "B"}}},
        "regions": [{"key": "r", "name": "R", "province": "广东省", "processes": [
            {"key": "p", "voltage": "low", "time_limit_working_days": 5, "stages": ["a", "b"], "source": "s",
             "stage_limits": {"a": 1, "b": 3}}]}],
    }
    with pytest.raises(ProcessFileError, match="every stage but the last"):
        parse_catalog(data)
    data["regions"][0]["processes"][0]["stage_limits"] = {"a": 4}
    with pytest.raises(ProcessFileError, match="sum 4"):
        parse_catalog(data)
    data["regions"][0]["processes"][0]["stage_limits"] = {"a": 5}
    assert parse_catalog(data).regions[0].processes[0].stage_limits == (5,)
    data["regions"][0]["processes"][0].pop("stage_limits")
    assert parse_catalog(data).regions[0].processes[0].stage_limits == (5,)


def test_a_made_up_clock_is_refused_outside_tests(settings: Settings, clock: Clock) -> None:
    with pytest.raises(SettingsError, match="APP_ENV=test"):
        build_app(dataclasses.replace(settings, app_env="production"), clock=clock)
    build_app(dataclasses.replace(settings, app_env="production"))  # the system clock is fine
