"""The report as the console gets it: the case API's figures over HTTP plus the fallback
questions of the application database, and each table as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import httpx
import pytest

from bot.casework.models import FallbackQuestion
from bot.casework.reports import service_report, to_csv
from common.case_client import CaseClient
from common.db import create_all, make_engine, make_session_factory, session_scope
from tests.bot.test_casework_warnings import CaseApi, _at, case_api, clock  # noqa: F401 - fixtures
from tests.cases.conftest import CHEN, KEY, STAFF, Clock

pytestmark = pytest.mark.asyncio


async def test_report_tables_and_csv(tmp_path: Any, case_api: CaseApi, clock: Clock) -> None:  # noqa: F811
    fast = case_api.create(CHEN)
    case_api.create(CHEN)
    clock.now = _at("2026-12-02")
    httpx.post(f"{case_api.url}/cases/{fast}/transitions", json={"to_stage": "survey_and_connection"},
               headers=STAFF).raise_for_status()
    engine = make_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    create_all(engine)
    sessions = make_session_factory(engine)
    at = dt.datetime(2026, 11, 25, 3, tzinfo=dt.timezone.utc)
    with session_scope(sessions) as session:
        for text, times in (("能查违章吗", 3), ("=cmd|' /C calc'!A0", 1), ("充电桩怎么装", 2)):
            for n in range(times):
                session.add(FallbackQuestion(at=at + dt.timedelta(minutes=n), channel="web", locale="zh_Hans",
                                             text=text, intent="out_of_scope"))
        session.add(FallbackQuestion(at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), channel="web",
                                     locale="zh_Hans", text="太早了", intent=None))
    async with httpx.AsyncClient() as http:
        report = await service_report(CaseClient(case_api.url, KEY, http), sessions, dt.date(2026, 11, 23),
                                      dt.date(2026, 12, 6))
    assert [(w["week"], w["region"], w["opened"], w["connected"]) for w in report["weeks"]] == [
        ("2026-11-23", "湛江", 2, 0), ("2026-11-30", "湛江", 0, 1)]
    assert report["processes"][0]["median_working_days"] == 6.0
    assert [(f["text"], f["count"]) for f in report["fallbacks"]] == [
        ("能查违章吗", 3), ("充电桩怎么装", 2), ("=cmd|' /C calc'!A0", 1)]
    weeks = list(csv.DictReader(io.StringIO(to_csv(report, "weeks").lstrip("\ufeff"))))
    assert weeks[1] == {"week": "2026-11-30", "region": "湛江", "opened": "0", "connected": "1",
                        "connected_within_limit": "1", "share_within_limit": "1.0"}
    processes = to_csv(report, "processes")
    assert processes.startswith("\ufeffprocess,region,promise_working_days") and "zhanjiang-low,湛江,8," in processes
    fallbacks = list(csv.DictReader(io.StringIO(to_csv(report, "fallbacks").lstrip("\ufeff"))))
    assert fallbacks[2]["text"] == "'=cmd|' /C calc'!A0"  # no formula injection
    engine.dispose()
