"""The staff API (a public contract: tests, the console and outside tools use it).

Served by the gateway under `/staff/api`. A cookie session from the login; every
state-changing call also needs `X-CSRF-Token` with the token the login returned.

- `POST /staff/api/login` `{"username", "password"}` → `{"csrf_token", "username", "role"}`
  and an HttpOnly, SameSite=Strict session cookie; 401 otherwise (failed logins slowed).
- `POST /staff/api/logout`.
- `GET /staff/api/handoffs?state=waiting|active|closed` → `{"handoffs": [{"id", "ticket",
  "state", "channel", "sender_id", "reason", "priority", "emergency", "lead", "locale",
  "opened_at", "waiting_s", "assignee"}]}` (waiting ones in queue order).
- `GET /staff/api/handoffs/{id}` → the same plus `"transcript": [{"role", "text", "at"}]`
  and `"cases": [...]` (masked).
- `POST /staff/api/handoffs/{id}/claim` → 200, or 409 when someone else holds it.
- `POST /staff/api/handoffs/{id}/messages` `{"text", "internal"}` or `{"canned": "<entry id>"}`.
- `POST /staff/api/handoffs/{id}/close` → 200.
- `GET /staff/api/ratings` → `{"count", "average", "distribution", "by_week", "by_staff",
  "flagged"}` (agents see their own `by_staff` row only).
- `GET /staff/api/canned?locale=` → knowledge entries staff can send (`id`, `title`).
Without a session: 401; without the CSRF header on a state change: 403; acting on a
hand-off held by another: 409; no such hand-off: 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr, root_validator

from bot.handoff import models as m
from bot.handoff.service import AlreadyClaimed, HandoffClosed, HandoffNotFound, HandoffService, UnknownCanned
from bot.staff import auth
from bot.staff.cases import case_summary
from common.db import session_scope
from common.scripts import ZH_HANS, normalize_locale

router = APIRouter(prefix="/staff/api", tags=["staff"])


class LoginRequest(BaseModel):
    username: StrictStr = Field(..., min_length=1, max_length=64)
    password: StrictStr = Field(..., min_length=1, max_length=1024)


class MessageRequest(BaseModel):
    text: Optional[StrictStr] = Field(None, max_length=4000)
    internal: StrictBool = False
    canned: Optional[StrictStr] = Field(None, max_length=64)

    @root_validator(skip_on_failure=True)
    def _text_or_canned(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        text, canned = (values.get("text") or "").strip(), values.get("canned")
        if bool(text) == bool(canned):
            raise ValueError("give either a non-empty text or a canned entry id")
        if canned and values.get("internal"):
            raise ValueError("a canned answer is sent to the resident; it cannot be internal")
        return values


def _service(request: Request) -> HandoffService:
    return request.app.state.handoffs


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    value = m.aware(value)
    return value.isoformat() if value else None


def handoff_json(handoff: m.Handoff) -> Dict[str, Any]:
    return {
        "id": handoff.id,
        "ticket": handoff.ticket,
        "state": handoff.state,
        "channel": handoff.channel,
        "sender_id": handoff.sender_id,
        "reason": handoff.reason,
        "priority": handoff.priority,
        "emergency": handoff.emergency,
        "lead": handoff.lead,
        "deferred": handoff.deferred,
        "locale": handoff.locale,
        "opened_at": _iso(handoff.opened_at),
        "claimed_at": _iso(handoff.claimed_at),
        "closed_at": _iso(handoff.closed_at),
        "waiting_s": round(handoff.waiting_s(), 1),
        "assignee": handoff.assignee,
    }


async def _handoff_or_404(service: HandoffService, handoff_id: int) -> m.Handoff:
    handoff = await service.get(handoff_id)
    if handoff is None:
        raise HTTPException(404, "no such hand-off")
    return handoff


def _conflict(exc: Exception) -> HTTPException:
    if isinstance(exc, AlreadyClaimed):
        return HTTPException(409, f"held by {exc.holder}")
    if isinstance(exc, HandoffClosed):
        return HTTPException(409, "the hand-off is closed")
    if isinstance(exc, HandoffNotFound):
        return HTTPException(404, "no such hand-off")
    if isinstance(exc, UnknownCanned):
        return HTTPException(422, "no such knowledge entry")
    raise exc


@router.post("/login")
async def login(body: LoginRequest, request: Request, response: Response) -> Dict[str, Any]:
    throttle: auth.LoginThrottle = request.app.state.staff_throttle
    client = request.client.host if request.client else "-"
    await throttle.wait(body.username, client)
    settings = request.app.state.settings
    with session_scope(request.app.state.sessions) as session:
        account = auth.verify(body.username, body.password, session=session)
        if account is None:
            throttle.failed(body.username, client)
            raise HTTPException(401, "wrong username or password")
        token, csrf = auth.open_session(account, settings.staff_session_minutes, session=session)
        username, role = account.username, account.role
    throttle.succeeded(username)
    response.set_cookie(
        auth.COOKIE, token, max_age=settings.staff_session_minutes * 60, httponly=True, samesite="strict",
        secure=settings.public_base_url.startswith("https://"), path="/staff",
    )
    return {"csrf_token": csrf, "username": username, "role": role}


@router.post("/logout")
async def logout(
    request: Request, response: Response, staff: auth.Staff = Depends(auth.require_csrf)
) -> Dict[str, Any]:
    with session_scope(request.app.state.sessions) as session:
        auth.close_session(request.cookies.get(auth.COOKIE, ""), session=session)
    response.delete_cookie(auth.COOKIE, path="/staff")
    return {"ok": True}


@router.get("/me")
async def me(staff: auth.Staff = Depends(auth.current_staff)) -> Dict[str, Any]:
    """Who is logged in, and the CSRF token of this session (the console reloads with it)."""
    return {"username": staff.username, "role": staff.role, "csrf_token": staff.csrf_token}


@router.get("/handoffs")
async def list_handoffs(
    request: Request,
    state: Optional[str] = Query(None, regex="^(waiting|active|closed)$"),
    staff: auth.Staff = Depends(auth.current_staff),
) -> Dict[str, Any]:
    handoffs = await _service(request).list(state)
    return {"handoffs": [handoff_json(h) for h in handoffs]}


@router.get("/handoffs/{handoff_id}")
async def read_handoff(
    request: Request, handoff_id: int = Path(..., ge=1), staff: auth.Staff = Depends(auth.current_staff)
) -> Dict[str, Any]:
    service = _service(request)
    handoff = await _handoff_or_404(service, handoff_id)
    transcript = await service.transcript(handoff_id)
    cases = await service.cases_of(handoff)
    return {
        **handoff_json(handoff),
        "transcript": [
            {"role": msg.role, "text": msg.text, "at": _iso(msg.at), "author": msg.author,
             **({"photo_url": msg.photo_url} if msg.photo_url else {})}
            for msg in transcript
        ],
        "cases": [case_summary(case, handoff.locale) for case in cases],
    }


async def _change(request: Request, handoff_id: int, staff: auth.Staff, change: str) -> Dict[str, Any]:
    """Claims or closes a hand-off as `staff`: 404 when there is none, 409 when someone else
    holds it or it is closed."""
    service = _service(request)
    await _handoff_or_404(service, handoff_id)
    try:
        handoff = await getattr(service, change)(handoff_id, staff.username)
    except (AlreadyClaimed, HandoffClosed) as exc:
        raise _conflict(exc) from exc
    return handoff_json(handoff)


@router.post("/handoffs/{handoff_id}/claim")
async def claim(
    request: Request, handoff_id: int = Path(..., ge=1), staff: auth.Staff = Depends(auth.require_csrf)
) -> Dict[str, Any]:
    return await _change(request, handoff_id, staff, "claim")


@router.post("/handoffs/{handoff_id}/messages")
async def post_message(
    body: MessageRequest, request: Request, handoff_id: int = Path(..., ge=1),
    staff: auth.Staff = Depends(auth.require_csrf),
) -> Dict[str, Any]:
    service = _service(request)
    await _handoff_or_404(service, handoff_id)
    try:
        if body.canned:
            row = await service.canned(handoff_id, staff.username, body.canned)
        else:
            row = await service.staff_message(handoff_id, staff.username, body.text or "", internal=body.internal)
    except (AlreadyClaimed, HandoffClosed, HandoffNotFound, UnknownCanned) as exc:
        raise _conflict(exc) from exc
    return {"role": row.role, "text": row.text, "at": _iso(row.at), "relayed": row.role == m.ROLE_STAFF}


@router.post("/handoffs/{handoff_id}/close")
async def close(
    request: Request, handoff_id: int = Path(..., ge=1), staff: auth.Staff = Depends(auth.require_csrf)
) -> Dict[str, Any]:
    return await _change(request, handoff_id, staff, "close")


@router.get("/ratings")
async def ratings(request: Request, staff: auth.Staff = Depends(auth.current_staff)) -> Dict[str, Any]:
    summary = await _service(request).ratings()
    if not staff.is_supervisor:  # an agent sees the totals and their own figures
        summary["by_staff"] = {k: v for k, v in summary["by_staff"].items() if k == staff.username}
    return summary


@router.get("/canned")
async def canned_entries(
    request: Request, locale: str = Query(ZH_HANS, max_length=16), staff: auth.Staff = Depends(auth.current_staff)
) -> Dict[str, List[Dict[str, str]]]:
    loc = normalize_locale(locale) or ZH_HANS
    return {"entries": [{"id": e.id, "title": e.title.get(loc)} for e in request.app.state.knowledge.entries]}
