"""`GET /queue` (key): the staff queue of open cases with their time-limit lights.

Filters by region, process, stage and light (several lights comma-separated), least working
time left first, paginated. The console and the warning job of the gateway read it.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from cases import clocks
from cases.auth import GATEWAY, STAFF, Caller, allow
from cases.context import CaseContext
from cases.deps import get_context, get_session
from cases.errors import invalid, problem
from cases.timelimits import LIGHTS

router = APIRouter(prefix="/queue", tags=["staff"])


@router.get("", summary="Open cases with their stage's time-limit light, least time left first")
def read_queue(
    region: Optional[str] = Query(None, max_length=200, description="`process.region` (湛江), or several with commas"),
    process: Optional[str] = Query(None, max_length=64, description="Process key, e.g. zhanjiang-low"),
    stage: Optional[str] = Query(None, max_length=64),
    light: Optional[str] = Query(None, max_length=32, description="green, amber, red, or several comma-separated"),
    limit: int = Query(50, ge=1, le=clocks.MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000),
    _who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> JSONResponse:
    lights = tuple(part.strip() for part in (light or "").split(",") if part.strip())
    if any(item not in LIGHTS for item in lights):
        raise invalid([problem("light", "must be green, amber or red (comma-separated for several)")])
    rows, total = clocks.queue(
        session=session, ctx=ctx, region=region or None, process=process or None, stage=stage or None,
        lights=lights, limit=limit, offset=offset,
    )
    # JSONResponse directly: FastAPI's jsonable_encoder would walk 500 plain dicts again.
    return JSONResponse({"cases": rows, "total": total, "today": ctx.today_in_china().isoformat(), "limit": limit,
                         "offset": offset})


@router.get("/due", summary="Open cases at amber or red, in case order (keyset pages, for the warning job)")
def read_due(
    after: int = Query(0, ge=0, description="Cursor: `next_after` of the previous page"),
    limit: int = Query(clocks.MAX_DUE, ge=1, le=clocks.MAX_DUE),
    _who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> JSONResponse:
    """`{"columns", "cases": [[...]], "stage_names": {stage: names}, "next_after", "today"}`."""
    return JSONResponse(clocks.due(session=session, ctx=ctx, after=after, limit=limit))
