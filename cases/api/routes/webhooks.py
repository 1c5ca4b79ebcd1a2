"""`GET /webhooks/deliveries`: every webhook delivery attempt (staff key)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cases.deps import get_session, require_key
from cases.webhooks import list_attempts

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("/deliveries", summary="Webhook delivery attempts, oldest first")
def read_deliveries(
    event_id: Optional[int] = Query(None, ge=1),
    _key: None = Depends(require_key),
    session: Session = Depends(get_session),
) -> Dict[str, Any]:
    return {"deliveries": list_attempts(event_id, session=session)}
