"""`/cases`: create (idempotent), read (redacted without the key), search, verify, move, items."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from cases import clocks, crud
from cases.context import CaseContext
from cases.deps import get_context, get_session, has_key, require_key
from cases.errors import ApiError, invalid, problem
from cases.schemas import IDEMPOTENCY_KEY, STAFF_USER, CaseCreate, ItemUpdate, TransitionCreate, VerifyRequest
from cases.views import case_json

router = APIRouter(prefix="/cases", tags=["cases"])

ERRORS: Dict[int | str, Dict[str, Any]] = {
    401: {"description": "Missing or wrong `X-Api-Key`"},
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
        409: {"description": "This Idempotency-Key was used with a different body"},
        422: ERRORS[422],
    },
)
def create_case(
    body: CaseCreate,
    idempotency_key: Optional[str] = Header(None, description="1-128 characters of A-Za-z0-9_.:-"),
    full: bool = Depends(has_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> JSONResponse:
    """Checks the application, asks the e-licence registry, and opens the case at its first stage."""
    if not idempotency_key or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApiError(400, "Idempotency-Key header required: 1-128 characters of A-Za-z0-9_.:-")
    application = crud.check_application(body, ctx=ctx)
    case, replayed = crud.create_case(application, idempotency_key, session=session, ctx=ctx)
    session.commit()
    if replayed:
        return JSONResponse(case_json(case, cipher=ctx.cipher, full=full), headers={"Idempotent-Replayed": "true"})
    ctx.on_events()
    return JSONResponse(case_json(case, cipher=ctx.cipher, full=full), status_code=201)


@router.get("", summary="A channel sender's cases, newest first", responses={401: ERRORS[401]})
def search_cases(
    channel: str = Query(..., min_length=1, max_length=16),
    sender_id: str = Query(..., min_length=1, max_length=128),
    _key: None = Depends(require_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    found = crud.cases_of(channel, sender_id, session=session)
    return {"cases": [case_json(case, cipher=ctx.cipher, full=True) for case in found]}


@router.get("/{case_id}", summary="A case (redacted without X-Api-Key)", responses={404: ERRORS[404]})
def read_case(
    case_id: str,
    full: bool = Depends(has_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    """The case with its stage, history, deadline and `next_stages`; the id may omit hyphens.

    With the key it also has `clock`: the current stage's time limit, days used and left and
    its light (`cases.clocks`; null once completed).
    """
    case = crud.get_case(case_id, session=session)
    if full:
        return staff_case_json(case, session=session, ctx=ctx)
    return case_json(case, cipher=ctx.cipher, full=False)


def staff_case_json(case: Any, *, session: Session, ctx: CaseContext) -> Dict[str, Any]:
    """The Case JSON as staff see it, with the current stage's clock."""
    return {**case_json(case, cipher=ctx.cipher, full=True), "clock": clocks.case_clock(case, session=session, ctx=ctx)}


@router.post(
    "/{case_id}/verify",
    summary="Check the last four ID characters",
    responses={**ERRORS, 429: {"description": "Five wrong tries for this case within an hour"}},
)
def verify_case(
    case_id: str,
    body: VerifyRequest,
    _key: None = Depends(require_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, bool]:
    case = crud.get_case(case_id, session=session)
    verified = crud.verify_last4(case, body.id_last4, session=session, ctx=ctx)
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
    x_staff_user: Optional[str] = Header(None, description="The staff member moving the case (or body `actor`)"),
    _key: None = Depends(require_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    actor = body.actor or (x_staff_user or "").strip() or None
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
    item_id: int,
    body: ItemUpdate,
    _key: None = Depends(require_key),
    session: Session = Depends(get_session),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    case = crud.get_case(case_id, session=session)
    crud.update_item(case, item_id, body.status, body.note, session=session, ctx=ctx)
    session.commit()
    ctx.on_events()
    return case_json(case, cipher=ctx.cipher, full=True)
