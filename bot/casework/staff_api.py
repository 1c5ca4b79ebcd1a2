"""The case side of the staff API (`/staff/api`, same login, cookie session and CSRF rules).

- `GET /staff/api/cases?light=green|amber|red&region=&process=&stage=&limit=&offset=` →
  `{"cases": [{"case_id", "stage", "stage_name", "light", "stage_deadline", "deadline",
  "working_days_left", "working_days_used", "time_limit_working_days", "clock", "waits_on",
  "region", "process"}], "total", "today"}`, least time left first.
- `GET /staff/api/cases/{case_id}` → the case (name, ID number and phone masked; registry
  documents by status only), its history with who moved it, linked items, the allowed next
  stages, its clock, its warnings and the resident's open hand-offs.
- `POST /staff/api/cases/{case_id}/transitions` `{"to_stage", "note"}` (CSRF) → the case API's
  answer (name masked); 409 `{"error", "next_stages"}` on a stale stage. The case history
  records the staff member (`X-Staff-User`); the staff key never leaves the gateway.
- `GET /staff/api/warnings` → `{"counts": {"amber", "red"}, "warnings": [...]}` (unacknowledged);
  `POST /staff/api/warnings/{id}/ack` (CSRF).
- `GET /staff/api/reports?since=&until=` → the report's tables; `GET /staff/api/reports/{table}.csv`.

Agents listed in `STAFF_REGIONS` see and move only their regions' cases (403 otherwise);
other agents and supervisors see every region.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Sequence

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictStr
from sqlalchemy import select

from bot.casework import reports
from bot.casework import warnings as warn
from bot.casework.models import utcnow
from bot.staff import auth
from common.case_client import CaseApiRejected, CaseApiUnavailable, CaseClient
from common.db import session_scope
from common.pii import mask_text

router = APIRouter(prefix="/staff/api", tags=["staff cases"])
LIGHT = "^(green|amber|red)(,(green|amber|red))*$"


class TransitionRequest(BaseModel):
    to_stage: StrictStr = Field(..., min_length=1, max_length=64)
    note: Optional[StrictStr] = Field(None, max_length=1000)


def staff_regions(setting: str) -> Dict[str, List[str]]:
    """`STAFF_REGIONS` ("li.ming:湛江;wang.fang:金华,湛江") as username → regions."""
    result: Dict[str, List[str]] = {}
    for part in setting.split(";"):
        name, _, regions = part.partition(":")
        if name.strip() and regions.strip():
            result[name.strip().lower()] = [r.strip() for r in regions.split(",") if r.strip()]
    return result


def regions_of(request: Request, staff: auth.Staff) -> Optional[List[str]]:
    """The regions this staff member may see; None for all."""
    if staff.is_supervisor:
        return None
    return staff_regions(request.app.state.settings.staff_regions).get(staff.username)


def _cases(request: Request) -> CaseClient:
    return request.app.state.case_client


def _unavailable() -> HTTPException:
    return HTTPException(503, "the case system is not answering; please try again shortly")


def mask_name(name: str) -> str:
    """张三明 → 张*明, 张三 → 张*."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


def _stage_name(case: Dict[str, Any], key: Optional[str], locale: str = "zh_Hans") -> str:
    for stage in case.get("stages") or []:
        if stage.get("key") == key:
            names = stage.get("names") or {}
            return str(names.get(locale) or names.get("zh_Hans") or key)
    return str(key or "")


def masked_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """The case API's Case with the applicant masked (as staff see it in the console)."""
    applicant = dict(case.get("applicant") or {})
    applicant["name"] = mask_name(str(applicant.get("name") or ""))
    # The case API masks these already; masking again only guards against a back end that does not.
    applicant["id_number"] = mask_text(str(applicant.get("id_number") or ""))
    applicant["phone"] = mask_text(str(applicant.get("phone") or ""))
    return {**case, "applicant": applicant}


def _check_region(case: Dict[str, Any], allowed: Optional[Sequence[str]]) -> None:
    region = (case.get("process") or {}).get("region")
    if allowed is not None and region not in allowed:
        raise HTTPException(403, "this case is outside your regions")


async def _case_or_404(
    request: Request, case_id: str, allowed: Optional[Sequence[str]], staff: auth.Staff
) -> Dict[str, Any]:
    try:
        case = await _cases(request).get_case(case_id, actor=staff.username)
    except CaseApiUnavailable as exc:
        raise _unavailable() from exc
    except CaseApiRejected as exc:
        raise HTTPException(exc.status if exc.status < 500 else 502, str(exc.body.get("error"))) from exc
    if case is None:
        raise HTTPException(404, "no such case")
    _check_region(case, allowed)
    return case


@router.get("/cases")
async def list_cases(
    request: Request,
    light: Optional[str] = Query(None, regex=LIGHT),
    region: Optional[str] = Query(None, max_length=32),
    process: Optional[str] = Query(None, max_length=64),
    stage: Optional[str] = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    staff: auth.Staff = Depends(auth.current_staff),
) -> Dict[str, Any]:
    allowed = regions_of(request, staff)
    if allowed is not None and region and region not in allowed:
        raise HTTPException(403, "this region is outside your regions")
    wanted = region or (",".join(allowed) if allowed is not None else None)
    try:
        answer = await _cases(request).queue(light=light, region=wanted, process=process, stage=stage,
                                             limit=limit, offset=offset)
    except CaseApiUnavailable as exc:
        raise _unavailable() from exc
    except CaseApiRejected as exc:
        raise HTTPException(422, str(exc.body.get("error"))) from exc
    keys = ("case_id", "stage", "light", "stage_deadline", "deadline", "working_days_left", "working_days_used",
            "time_limit_working_days", "clock", "waits_on", "region", "process", "stage_started_on")
    rows = [{**{k: row.get(k) for k in keys},
             "stage_name": (row.get("stage_names") or {}).get("zh_Hans") or row.get("stage")}
            for row in answer.get("cases") or []]
    return {"cases": rows, "total": answer.get("total", len(rows)), "today": answer.get("today")}


def _open_handoffs(request: Request, case: Dict[str, Any]) -> List[Dict[str, Any]]:
    from bot.handoff import models as hm

    sender = case.get("sender_id")
    if not sender:
        return []
    with session_scope(request.app.state.sessions) as session:
        rows = session.execute(
            select(hm.Handoff).where(hm.Handoff.sender_id == sender, hm.Handoff.state != hm.STATE_CLOSED)
            .order_by(hm.Handoff.id)
        ).scalars().all()
        return [{"id": h.id, "ticket": h.ticket, "state": h.state, "assignee": h.assignee,
                 "url": f"/staff#handoff-{h.id}"} for h in rows]


@router.get("/cases/{case_id}")
async def read_case(
    request: Request, case_id: str = Path(..., min_length=1, max_length=40),
    staff: auth.Staff = Depends(auth.current_staff),
) -> Dict[str, Any]:
    allowed = regions_of(request, staff)
    case = await _case_or_404(request, case_id, allowed, staff)
    with session_scope(request.app.state.sessions) as session:
        case_warnings = [warn.warning_json(w)
                         for w in warn.open_warnings(session=session, case_id=str(case["case_id"]))]
    return {
        **masked_case(case),
        "stage_name": _stage_name(case, case.get("stage")),
        "next_stage_names": {key: _stage_name(case, key) for key in case.get("next_stages") or []},
        "warnings": case_warnings,
        "handoffs": _open_handoffs(request, case),
    }


@router.post("/cases/{case_id}/transitions")
async def move_case(
    body: TransitionRequest, request: Request, case_id: str = Path(..., min_length=1, max_length=40),
    staff: auth.Staff = Depends(auth.require_csrf),
) -> Any:
    allowed = regions_of(request, staff)
    await _case_or_404(request, case_id, allowed, staff)
    try:
        moved = await _cases(request).move(case_id, body.to_stage, (body.note or "").strip() or None,
                                           actor=staff.username)
    except CaseApiUnavailable as exc:
        raise _unavailable() from exc
    except CaseApiRejected as exc:
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.body, status_code=exc.status)
    return masked_case(moved)


@router.get("/warnings")
async def list_warnings(
    request: Request, limit: int = Query(200, ge=1, le=1000), staff: auth.Staff = Depends(auth.current_staff)
) -> Dict[str, Any]:
    allowed = regions_of(request, staff)
    with session_scope(request.app.state.sessions) as session:
        counts = warn.count_open(session=session, regions=allowed)
        rows = [warn.warning_json(w) for w in warn.open_warnings(session=session, limit=limit, regions=allowed)]
    return {"counts": counts, "warnings": rows}


@router.post("/warnings/{warning_id}/ack")
async def ack_warning(
    request: Request, warning_id: int = Path(..., ge=1), staff: auth.Staff = Depends(auth.require_csrf)
) -> Dict[str, Any]:
    allowed = regions_of(request, staff)
    with session_scope(request.app.state.sessions) as session:
        from bot.casework.models import CaseWarning

        existing = session.get(CaseWarning, warning_id)
        if existing is None:
            raise HTTPException(404, "no such warning")
        if allowed is not None and existing.region not in allowed:
            raise HTTPException(403, "this warning is outside your regions")
        acked = warn.acknowledge(warning_id, staff.username, utcnow(), session=session)
        assert acked is not None
        return warn.warning_json(acked)


def _period(since: Optional[dt.date], until: Optional[dt.date]) -> tuple[dt.date, dt.date]:
    last = until or dt.datetime.now(reports.CHINA_TZ).date()
    first = since or last - dt.timedelta(weeks=12)
    if first > last or (last - first).days > 370:
        raise HTTPException(422, "since must be on or before until, at most 370 days before")
    return first, last


async def _report(request: Request, since: Optional[dt.date], until: Optional[dt.date]) -> Dict[str, Any]:
    first, last = _period(since, until)
    try:
        return await reports.service_report(_cases(request), request.app.state.sessions, first, last)
    except CaseApiUnavailable as exc:
        raise _unavailable() from exc


@router.get("/reports")
async def read_report(
    request: Request, since: Optional[dt.date] = Query(None), until: Optional[dt.date] = Query(None),
    staff: auth.Staff = Depends(auth.current_staff),
) -> Dict[str, Any]:
    return await _report(request, since, until)


@router.get("/reports/{table}.csv")
async def report_csv(
    request: Request, table: str = Path(..., regex="^(weeks|processes|fallbacks|handoffs)$"),
    since: Optional[dt.date] = Query(None), until: Optional[dt.date] = Query(None),
    staff: auth.Staff = Depends(auth.current_staff),
) -> Response:
    report = await _report(request, since, until)
    return Response(reports.to_csv(report, table), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{table}-{report["since"]}-{report["until"]}.csv"',
    })
