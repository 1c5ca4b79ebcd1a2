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


@router.get("/cases", summary="Cases opened and connected per week and region; median working days per process")
def read_case_report(
    since: Optional[dt.date] = Query(None, description="First day (in China), default 12 weeks ago"),
    until: Optional[dt.date] = Query(None, description="Last day (in China), default today"),
    _who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    last = until or ctx.today_in_china()
    first = since or reports.week_of(last) - dt.timedelta(weeks=11)
    if first > last or (last - first).days > reports.MAX_DAYS:
        raise invalid([problem("since", f"must be on or before until, at most {reports.MAX_DAYS} days before")])
    return reports.case_report(first, last, ctx.calendar, session=session)
