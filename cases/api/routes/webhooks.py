"""`GET /webhooks/deliveries`: every webhook delivery attempt (staff key)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cases.auth import STAFF, Caller, allow
from cases.deps import get_session
from cases.schemas import MAX_ID
from cases.webhooks import list_attempts

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("/deliveries", summary="Webhook delivery attempts, oldest first")
def read_deliveries(
    event_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
    _who: Caller = Depends(allow(STAFF)),
    session: Session = Depends(get_session),
) -> Dict[str, Any]:
    return {"deliveries": list_attempts(event_id, session=session)}
