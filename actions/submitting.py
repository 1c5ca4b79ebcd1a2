"""The submitting turn's journal: an application is written down before the case API call.

`action_finish_application` records the confirmed application in the submission queue
(`actions.submissions.PendingApplication`, sealed) *before* it calls the case API, due only
after `RASA_ACTION_TIMEOUT_S`. When the call lands in the turn, the row is marked delivered
and the receipt goes out in the turn's reply. When the action server dies in the middle
(`kill -9`, out of memory) or Rasa gives up on it, the row is still there and the queue's
worker, once it is due, creates the case with the same idempotency key (the case API returns
the case if the first call had made it) and sends the receipt through the outbox: the case
exists exactly once and its receipt reaches the resident once. The delay keeps the worker
away from a submission whose turn is still running.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.submissions import DELIVERED, QUEUED, REJECTED, PendingApplication, queue, receipt_key, utcnow
from common.crypto import FieldCipher
from common.outbox import OutboxMessage


def _row(key: str, *, session: Session) -> Optional[PendingApplication]:
    return session.execute(
        select(PendingApplication).where(PendingApplication.idempotency_key == key)
    ).scalar_one_or_none()


def begin(
    body: Dict[str, Any], key: str, sender_id: str, channel: str, locale: str, cipher: FieldCipher,
    grace_s: float, *, session: Session,
) -> Dict[str, Any]:
    """Writes the application down, due for the worker only after `grace_s`; returns the body
    to submit. A form confirmed again after a lost reply (Rasa died mid-turn, so the tracker
    still asks for the confirmation) carries a new confirmation time: the body written down
    the first time is submitted, so the case API's idempotency key finds the same request
    and returns the same case instead of refusing a different body under that key."""
    if queue(body, key, sender_id, channel, locale, cipher, session=session):
        session.flush()
        row = _row(key, session=session)
        if row is not None:
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=grace_s)
        return body
    row = _row(key, session=session)
    return json.loads(cipher.decrypt(row.sealed_body)) if row is not None else body


def receipt_sent(key: str, *, session: Session) -> bool:
    """Whether the queue's worker already sent this application's receipt through the outbox.

    It happens when a confirmation turn created nothing in time (the case API or the database
    unreachable), the worker created the case later and sent the receipt, but the conversation
    still asks for the confirmation (Rasa could not save that turn): the resident confirms
    again, the case API returns the same case, and a second receipt would follow."""
    found = session.execute(
        select(OutboxMessage.seq).where(OutboxMessage.dedupe_key == receipt_key(key, 0))
    ).first()
    return found is not None


def landed(key: str, case_id: str, *, session: Session) -> None:
    """The turn created the case (or found it): the worker has nothing to do."""
    row = _row(key, session=session)
    if row is not None and row.status == QUEUED:
        row.status, row.case_id, row.delivered_at = DELIVERED, case_id, utcnow()


def refused(key: str, status: int, *, session: Session) -> None:
    """The case API refused it for good; the turn told the resident why."""
    row = _row(key, session=session)
    if row is not None and row.status == QUEUED:
        row.status, row.last_error = REJECTED, f"HTTP {status}"


def defer(key: str, *, session: Session) -> None:
    """The case API is down: the worker takes it from now on."""
    row = _row(key, session=session)
    if row is not None and row.status == QUEUED:
        row.next_attempt_at = utcnow()
