"""`GET /reports/cases` (key): service figures per week and region and per process."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cases import reports
from cases.auth import GATEWAY, STAFF, Caller, allow
from cases.context import CaseContext
from cases.deps import get_context, get_session
from cases.errors import invalid, problem

router = APIRouter(prefix="/reports", tags=["staff"])
# YYYY-MM-DD only (pydantic 1 would also take a number as a Unix time).
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day(value: Optional[str], name: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid([problem(name, "not a calendar day (YYYY-MM-DD)")]) from None


@router.get("/cases", summary="Cases opened and connected per week and region; median working days per process")
def read_case_report(
    since: Optional[str] = Query(None, regex=ISO_DAY, description="First day (in China), default 12 weeks ago"),
    until: Optional[str] = Query(None, regex=ISO_DAY, description="Last day (in China), default today"),
    _who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    last = _day(until, "until") or ctx.today_in_china()
    first = _day(since, "since") or reports.week_of(last) - dt.timedelta(weeks=11)
    if first > last or (last - first).days > reports.MAX_DAYS:
        raise invalid([problem("since", f"must be on or before until, at most {reports.MAX_DAYS} days before")])
    return reports.case_report(first, last, ctx.calendar, session=session)
