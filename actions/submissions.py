"""Applications waiting for the case API: kept, retried, delivered exactly once.

When the case API is down at submission, the confirmed application is stored here (sealed:
the whole body is encrypted, it holds the ID number and phone) with the idempotency key of
its form. A worker in the action server retries with back-off; the case API's
`Idempotency-Key` makes a retry after a lost response return the same case, so an
application is never lost and never duplicated. When it lands, the receipt goes to the
resident through the one outbox (`common.outbox`), like every later message.

Nothing lost, nothing blocked: rows are delivered one at a time, each in its own
transaction. A row that cannot be read (sealed under a key no longer listed, or corrupt)
goes to the `dead_letter` state with the reason, the resident is told through the outbox
that staff will follow it up, and the next rows go on; staff list (and, once the key is back,
requeue) them with `python -m tools.dead_letters`. 408, 429 and 5xx (and no answer) are
retried with back-off; any other 4xx is final and told to the resident.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from actions.receipts import receipt_messages
from common import claims, outbox
from common.case_client import CaseApiRejected, CaseApiUnavailable, CaseClient
from common.crypto import FieldCipher
from common.db import Base, session_scope
from common.i18n import t
from common.settings import Settings

logger = logging.getLogger(__name__)

QUEUED = "queued"
DELIVERED = "delivered"
REJECTED = "rejected"
DEAD_LETTER = "dead_letter"
MAX_BACKOFF_S = 300.0
# Refusals that say "not now" rather than "never": a proxy's timeout, rate limiting.
RETRYABLE = frozenset({408, 425, 429})
SUBMISSION_CLAIM_TTL_S = 60.0  # longer than a create-case call with its timeout
_HOLDER = claims.new_holder()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PendingApplication(Base):
    __tablename__ = "pending_applications"

    id = Column(Integer, primary_key=True, autoincrement=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    locale = Column(String(8), nullable=False)
    sealed_body = Column(Text, nullable=False)
    status = Column(String(16), nullable=False, default=QUEUED, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_error = Column(String(200), nullable=True)
    case_id = Column(String(40), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


def queue(
    body: Dict[str, Any], key: str, sender_id: str, channel: str, locale: str, cipher: FieldCipher,
    *, session: Session,
) -> bool:
    """Keeps an application for later delivery; False if this key is already queued."""
    exists = session.execute(
        select(PendingApplication.id).where(PendingApplication.idempotency_key == key)
    ).scalar_one_or_none()
    if exists is not None:
        return False
    session.add(
        PendingApplication(
            idempotency_key=key, sender_id=sender_id, channel=channel, locale=locale,
            sealed_body=cipher.encrypt(json.dumps(body, ensure_ascii=False)),
        )
    )
    return True


def due(now: dt.datetime, limit: int, *, session: Session) -> List[PendingApplication]:
    return list(
        session.execute(
            select(PendingApplication)
            .where(PendingApplication.status == QUEUED, PendingApplication.next_attempt_at <= now)
            .order_by(PendingApplication.id)
            .limit(limit)
        ).scalars()
    )


def backoff_s(attempts: int) -> float:
    return min(MAX_BACKOFF_S, 2.0 ** min(attempts, 16))


async def deliver_due(
    client: CaseClient, sessions: sessionmaker, cipher: FieldCipher, settings: Settings, limit: int = 20,
    holder: str = _HOLDER,
) -> int:
    """Delivers the queued applications whose time has come, oldest first, one transaction
    each; returns how many landed. Stops at the first that finds the API still down (that row
    waits out its back-off); an unreadable row is dead-lettered and the rest go on.

    Several action servers may run this at once: each application is claimed first
    (`common.claims`, `submission:<id>`) and re-read, so one server delivers it."""
    with session_scope(sessions) as session:
        ids = [row.id for row in due(utcnow(), limit, session=session)]
    landed = 0
    for row_id in ids:
        name = f"submission:{row_id}"
        if not claims.claim_now(sessions, [name], holder, SUBMISSION_CLAIM_TTL_S):
            continue  # another action server is delivering it
        try:
            with session_scope(sessions) as session:
                row = session.get(PendingApplication, row_id)
                if row is None or row.status != QUEUED:
                    continue
                outcome = await _deliver(row, client, cipher, settings, session=session)
        finally:
            claims.release_now(sessions, [name], holder)
        if outcome is None:
            break
        landed += outcome
    return landed


async def _deliver(
    row: PendingApplication, client: CaseClient, cipher: FieldCipher, settings: Settings, *, session: Session
) -> Optional[int]:
    """Tries one application: 1 landed, 0 refused for good or dead-lettered, None to wait."""
    try:
        body = json.loads(cipher.decrypt(row.sealed_body))
        if not isinstance(body, dict):
            raise ValueError("not an application")
    except ValueError as exc:  # DecryptionError included
        row.status, row.last_error = DEAD_LETTER, f"unreadable: {type(exc).__name__}"
        outbox.enqueue(
            row.sender_id, row.channel, "application",
            {"text": t("form.queued_dead_letter", row.locale), "buttons": []},
            f"dead-letter:{row.idempotency_key}", session=session,
        )
        logger.error("queued application %s is unreadable (%s): dead-lettered for staff", row.id, type(exc).__name__)
        return 0
    try:
        case = await client.create_case(body, row.idempotency_key, retries=0)
    except CaseApiUnavailable as exc:
        _retry_later(row, str(exc))
        return None
    except CaseApiRejected as exc:
        if exc.status in RETRYABLE:
            _retry_later(row, f"HTTP {exc.status}")
            logger.warning("queued application %s: case API answered %s, retrying later", row.id, exc.status)
            return None
        row.status, row.last_error = REJECTED, f"HTTP {exc.status}"
        outbox.enqueue(
            row.sender_id, row.channel, "application",
            {"text": t("form.queued_rejected", row.locale), "buttons": []},
            f"rejected:{row.idempotency_key}", session=session,
        )
        logger.warning("queued application %s refused by the case API: HTTP %s", row.id, exc.status)
        return 0
    row.status, row.case_id, row.delivered_at = DELIVERED, str(case["case_id"]), utcnow()
    for n, message in enumerate(receipt_messages(case, row.locale, settings)):
        outbox.enqueue(
            row.sender_id, row.channel, "receipt", message, receipt_key(row.idempotency_key, n),
            session=session,
        )
    logger.info("queued application %s delivered as case %s", row.id, row.case_id)
    return 1


def receipt_key(key: str, n: int) -> str:
    """The outbox dedupe key of the worker's receipt message `n` for application `key`."""
    return f"receipt:{key}:{n}"


def _retry_later(row: PendingApplication, error: str) -> None:
    row.attempts += 1
    row.last_error = error[:200]
    row.next_attempt_at = utcnow() + dt.timedelta(seconds=backoff_s(row.attempts))


def dead_letters(*, session: Session) -> List[PendingApplication]:
    """The rows no key could read, oldest first (for staff: tools/dead_letters.py)."""
    return list(
        session.execute(
            select(PendingApplication).where(PendingApplication.status == DEAD_LETTER).order_by(PendingApplication.id)
        ).scalars()
    )


async def run_worker(
    client: CaseClient, sessions: sessionmaker, cipher: FieldCipher, settings: Settings, every_s: float = 2.0,
    stop: Optional[asyncio.Event] = None,
) -> None:
    """Delivers queued applications until `stop` is set; never dies on an error."""
    while stop is None or not stop.is_set():
        try:
            await deliver_due(client, sessions, cipher, settings)
        except Exception:  # a bad row or a database hiccup must not end the worker
            logger.exception("delivering queued applications failed; retrying")
        await asyncio.sleep(every_s)
