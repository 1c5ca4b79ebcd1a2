"""`GET /events`: the case event feed, read with a cursor (no key: events hold no personal data)."""

from __future__ import annotations

from typing import Any, Dict

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cases.deps import get_session
from cases.events import list_events

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", summary="Case events after a cursor, oldest first")
def read_events(
    after: int = Query(0, ge=0, description="Cursor: the last event id already seen"),
    limit: int = Query(100, ge=1, le=500),
    session: Session = Depends(get_session),
) -> Dict[str, Any]:
    events, cursor = list_events(after, limit, session=session)
    return {"events": events, "next_cursor": cursor}
