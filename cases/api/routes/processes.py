"""`GET /processes/preview`: what a new case would get, shown by the chat form before confirming."""

from __future__ import annotations

from typing import Any, Dict

from fastapi import APIRouter, Depends, Query

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
