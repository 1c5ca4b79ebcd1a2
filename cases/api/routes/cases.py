"""`/cases`: create (idempotent), read (redacted but for staff), search, verify, move, items (roles: cases/auth.py)."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from cases import clocks, codes, crud
from cases.auth import ACTIONS, GATEWAY, STAFF, Caller, allow, staff_only
from cases.context import CaseContext
from cases.deps import get_context, get_session
from cases.errors import ApiError, invalid, problem
from cases.schemas import (
    IDEMPOTENCY_KEY,
    MAX_ID,
    STAFF_USER,
    CaseCreate,
    CodeRequest,
    ItemUpdate,
    TransitionCreate,
    VerifyRequest,
)
from cases.views import case_json

router = APIRouter(prefix="/cases", tags=["cases"])

ERRORS: Dict[int | str, Dict[str, Any]] = {
    401: {"description": "Missing or unknown `X-Api-Key`"},
    403: {"description": "This client's role may not do this"},
    404: {"description": "No such case"},
    422: {"description": "Invalid request: `{\"error\", \"problems\": [{\"field\", \"reason\"}]}`"},
}


@router.post(
    "",
    status_code=201,
    summary="Create a case (idempotent)",
    responses={
        200: {"description": "Replay: this Idempotency-Key already made this case (`Idempotent-Replayed: true`)"},
        400: {"description": "Missing or malformed Idempotency-Key"},
        401: ERRORS[401],
        403: ERRORS[403],
        409: {"description": "This Idempotency-Key was used with a different body"},
        422: ERRORS[422],
    },
)
def create_case(
    body: CaseCreate,
    idempotency_key: Optional[str] = Header(None, description="1-128 characters of A-Za-z0-9_.:-"),
    who: Caller = Depends(allow(ACTIONS, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> JSONResponse:
    """Checks the application, asks the e-licence registry, and opens the case at its first stage."""
    if not idempotency_key or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApiError(400, "Idempotency-Key header required: 1-128 characters of A-Za-z0-9_.:-")
    application = crud.check_application(body, ctx=ctx)
    case, replayed = crud.create_case(application, idempotency_key, session=session, ctx=ctx)
    session.commit()
    body_json = case_json(case, cipher=ctx.cipher, full=who.is_staff)
    if replayed:
        return JSONResponse(body_json, headers={"Idempotent-Replayed": "true"})
    ctx.on_events()
    return JSONResponse(body_json, status_code=201)


@router.get(
    "", summary="A channel sender's cases, newest first",
    responses={401: ERRORS[401], 403: ERRORS[403], 422: ERRORS[422]},
)
def search_cases(
    channel: str = Query(..., min_length=1, max_length=16),
    sender_id: str = Query(..., min_length=1, max_length=128),
    # The gateway too: hand-offs order the queue by the resident's case deadlines and show
    # staff the resident's open cases (redacted unless it acts for a logged-in staff member).
    who: Caller = Depends(allow(ACTIONS, GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    found = crud.cases_of(channel, sender_id, session=session)
    return {"cases": [case_json(case, cipher=ctx.cipher, full=who.is_staff) for case in found]}


@router.get("/{case_id}", summary="A case (redacted but for staff)", responses=ERRORS)
def read_case(
    case_id: str,
    who: Caller = Depends(allow(ACTIONS, GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    """The case with its stage, history, deadline and `next_stages`; the id may omit hyphens.

    Staff also get `clock`: the current stage's time limit, days used and left and its light
    (`cases.clocks`; null once completed).
    """
    case = crud.get_case(case_id, session=session)
    if who.is_staff:
        return staff_case_json(case, session=session, ctx=ctx)
    return case_json(case, cipher=ctx.cipher, full=False)


@router.post(
    "/{case_id}/codes",
    status_code=202,
    summary="Text a one-time status-check code to the phone on the case",
    responses={
        202: {"description": "Accepted: a code was sent if such a case exists (the answer never says)"},
        401: ERRORS[401], 403: ERRORS[403], 422: ERRORS[422],
        429: {"description": "Too many codes asked for (this requester, or this case, within an hour)"},
        503: {"description": "No SMS gateway configured, or it failed"},
    },
)
def request_code(
    case_id: str,
    body: CodeRequest,
    _who: Caller = Depends(allow(ACTIONS, GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> JSONResponse:
    """For someone who names a case that is not their own sender's (cases/codes.py)."""
    try:
        sent = codes.request_code(case_id, body.requester, session=session, ctx=ctx, sms=ctx.sms)
    finally:
        session.commit()
    if not sent:
        raise codes.too_many()
    return JSONResponse({"accepted": True}, status_code=202)


def staff_case_json(case: Any, *, session: Session, ctx: CaseContext) -> Dict[str, Any]:
    """The Case JSON as staff see it, with the current stage's clock."""
    return {**case_json(case, cipher=ctx.cipher, full=True), "clock": clocks.case_clock(case, session=session, ctx=ctx)}


@router.post(
    "/{case_id}/verify",
    summary="Check a one-time status-check code",
    responses={
        200: {"description": "`{\"verified\": bool}`; false for a wrong, spent or expired code and for no such case"},
        401: ERRORS[401], 403: ERRORS[403], 422: ERRORS[422],
        429: {"description": "Too many checks by this requester within an hour"},
    },
)
def verify_case(
    case_id: str,
    body: VerifyRequest,
    _who: Caller = Depends(allow(ACTIONS, GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, bool]:
    try:
        verified = codes.check_code(case_id, body.requester, body.code, session=session, ctx=ctx)
    finally:
        session.commit()
    return {"verified": verified}


@router.post(
    "/{case_id}/transitions",
    summary="Move a case to its next stage",
    responses={**ERRORS, 409: {"description": "Not the next stage: `{\"error\", \"next_stages\"}`"}},
)
def create_transition(
    case_id: str,
    body: TransitionCreate,
    who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    """Staff only: a staff key, or the gateway's console with `X-Staff-User` (or body `actor`)."""
    staff_only(who)
    actor = body.actor or who.staff_user
    if actor is not None and not re.match(STAFF_USER, actor):
        raise invalid([problem("X-Staff-User", "format")])
    if actor is not None and not re.match(STAFF_USER, actor):
        raise invalid([problem("X-Staff-User", "format")])
    case = crud.get_case(case_id, session=session)
    crud.move_case(case, body.to_stage, body.note, session=session, ctx=ctx, actor=actor)
    session.commit()
    ctx.on_events()
    return staff_case_json(case, session=session, ctx=ctx)


@router.patch("/{case_id}/items/{item_id}", summary="Update a linked water/gas application", responses=ERRORS)
def update_item(
    case_id: str,
    body: ItemUpdate,
    item_id: int = Path(..., ge=1, le=MAX_ID),
    _who: Caller = Depends(allow(STAFF)),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    case = crud.get_case(case_id, session=session)
    crud.update_item(case, item_id, body.status, body.note, session=session, ctx=ctx)
    session.commit()
    ctx.on_events()
    return case_json(case, cipher=ctx.cipher, full=True)
