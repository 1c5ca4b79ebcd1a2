"""`POST /processes/preview` (and the older `GET`): what a new case would get, shown by the chat
form before confirming. Clients send the address in the POST body: query strings end up in
access and client logs."""

from __future__ import annotations

from typing import Any, Dict

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cases import crud
from cases.auth import ACTIONS, STAFF, Caller, allow
from cases.context import CaseContext
from cases.deps import get_context
from cases.schemas import CustomerType

router = APIRouter(prefix="/processes", tags=["processes"])


@router.get(
    "/preview", summary="Process, stages, deadline and zero investment for an application",
    responses={
        401: {"description": "Missing or unknown `X-Api-Key`"},
        403: {"description": "Not the actions' or staff's key"},
        422: {"description": "Invalid query"},
    },
)
def preview_process(
    address: str = Query(..., min_length=1, max_length=200),
    customer_type: CustomerType = Query(...),
    capacity_kw: float = Query(..., gt=0, le=100000),
    _who: Caller = Depends(allow(ACTIONS, STAFF)),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    return crud.preview(address, customer_type, capacity_kw, ctx=ctx)


class PreviewRequest(BaseModel):
    address: str = Field(..., min_length=1, max_length=200)
    customer_type: CustomerType
    capacity_kw: float = Field(..., gt=0, le=100000)


@router.post(
    "/preview", summary="The same preview, with the address in the body (not in a URL)",
    responses={
        401: {"description": "Missing or unknown `X-Api-Key`"},
        403: {"description": "Not the actions' or staff's key"},
        422: {"description": "Invalid body"},
    },
)
def preview_process_post(
    body: PreviewRequest,
    _who: Caller = Depends(allow(ACTIONS, STAFF)),
    ctx: CaseContext = Depends(get_context),
) -> Dict[str, Any]:
    return crud.preview(body.address, body.customer_type, body.capacity_kw, ctx=ctx)
