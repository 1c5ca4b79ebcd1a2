"""`GET /events`: the case event feed, read with a cursor (gateway and staff keys only).

Events hold no name, ID number or phone, but they do map cases to channel senders (which the
gateway's notifier needs to tell them) and carry staff notes: hence not for other clients.
"""

from __future__ import annotations

from typing import Any, Dict

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cases.auth import GATEWAY, STAFF, Caller, allow
from cases.deps import get_session
from cases.events import list_events
from cases.schemas import MAX_ID

router = APIRouter(prefix="/events", tags=["events"])


@router.get(
    "", summary="Case events after a cursor, oldest first",
    responses={
        401: {"description": "Missing or unknown `X-Api-Key`"},
        403: {"description": "Not the gateway's or staff's key"},
        422: {"description": "Invalid query"},
    },
)
def read_events(
    after: int = Query(0, ge=0, le=MAX_ID, description="Cursor: the last event id already seen"),
    limit: int = Query(100, ge=1, le=500),
    _who: Caller = Depends(allow(GATEWAY, STAFF)),
    session: Session = Depends(get_session),
) -> Dict[str, Any]:
    events, cursor = list_events(after, limit, session=session)
    return {"events": events, "next_cursor": cursor}
