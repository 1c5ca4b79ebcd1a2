"""Case events: the feed behind `GET /events` and the webhooks.

An event is written in the same transaction as the change it reports, together with one
webhook delivery per configured URL, so a committed change always has its event and its
deliveries, and a rolled-back change has neither. Events carry ids, stages and dates only:
never a name, an ID number or a phone.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cases.models import Case, CaseItem, Event, WebhookDelivery, optional_dt

CASE_CREATED = "case.created"
STAGE_CHANGED = "case.stage_changed"
ITEM_UPDATED = "item.updated"


def current_waits_on(case: Case) -> Optional[str]:
    """Who the case waits on in its current stage (None once completed)."""
    if case.status == "completed":
        return None
    return next((s["waits_on"] for s in case.stages if s["key"] == case.stage), None)


def item_payload(item: CaseItem) -> Dict[str, Any]:
    return {"id": item.id, "kind": item.kind, "status": item.status, "note": item.note}


def event_payload(
    event_type: str,
    case: Case,
    *,
    at: str,
    previous_stage: Optional[str] = None,
    note: Optional[str] = None,
    item: Optional[CaseItem] = None,
) -> Dict[str, Any]:
    """The event's JSON without its id (the id is the row's)."""
    return {
        "type": event_type,
        "case_id": case.case_id,
        "at": at,
        "stage": case.stage,
        "previous_stage": previous_stage,
        "status": case.status,
        "channel": case.channel,
        "sender_id": case.sender_id,
        "locale": case.locale,
        "deadline": case.deadline.isoformat(),
        "waits_on": current_waits_on(case),
        "note": note,
        "item": item_payload(item) if item is not None else None,
    }


def record_event(
    event_type: str,
    case: Case,
    *,
    session: Session,
    webhook_urls: Sequence[str],
    previous_stage: Optional[str] = None,
    note: Optional[str] = None,
    item: Optional[CaseItem] = None,
) -> Event:
    """Adds the event and its webhook deliveries to the session's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent transactions could commit event ids out of order and a reader at cursor N
        # would skip the late one; this lock makes event writers commit one after another.
        # (SQLite serialises writers already.)
        session.execute(text("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"))
    at = case.updated_at
    payload = event_payload(
        event_type, case, at=optional_dt(at) or "", previous_stage=previous_stage, note=note, item=item
    )
    event = Event(type=event_type, case_id=case.case_id, at=at, payload=payload)
    session.add(event)
    session.flush()
    for url in webhook_urls:
        session.add(WebhookDelivery(event_id=event.id, url=url, state="pending", attempts=0, next_attempt_at=at))
    return event


def event_json(event: Event) -> Dict[str, Any]:
    return {"id": event.id, **event.payload}


def list_events(after: int, limit: int, *, session: Session) -> Tuple[List[Dict[str, Any]], int]:
    """Events with an id above `after`, oldest first, and the cursor to ask with next."""
    rows = session.execute(select(Event).where(Event.id > after).order_by(Event.id).limit(limit)).scalars().all()
    events = [event_json(row) for row in rows]
    return events, (rows[-1].id if rows else after)
