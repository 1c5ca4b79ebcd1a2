"""What a chat turn leaves for staff case work: the fallback question (masked) and the
resident's activity, read by the reminders (催办) so they stop once the resident acts.

`after_turn` is the one hook `bot.chat` calls after each turn; it never fails the turn.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.models import FallbackQuestion, ResidentActivity, utcnow
from bot.subscriptions import CaseSubscription, FollowedCase
from common.db import session_scope
from common.pii import mask_text

if TYPE_CHECKING:
    from bot.chat import Turn

logger = logging.getLogger(__name__)
MAX_TEXT = 500


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def record_fallback(text: str, channel: str, locale: str, intent: Optional[str], *, session: Session) -> None:
    """Keeps a question the assistant could not answer, ID numbers and phones masked."""
    session.add(FallbackQuestion(at=utcnow(), channel=channel[:16], locale=locale[:8],
                                 text=mask_text(text)[:MAX_TEXT], intent=(intent or None) and intent[:128]))


def awaited(sender_id: str, *, session: Session) -> bool:
    """Whether the sender follows an open case whose stage waits on them."""
    return session.execute(
        select(CaseSubscription.id)
        .join(FollowedCase, FollowedCase.case_id == CaseSubscription.case_id)
        .where(CaseSubscription.sender_id == sender_id, FollowedCase.waits_on == "customer",
               FollowedCase.status == "open")
        .limit(1)
    ).first() is not None


def note_activity(sender_id: str, *, session: Session, now: Optional[dt.datetime] = None) -> None:
    """Records that the resident wrote (only while a case of theirs waits on them)."""
    if not awaited(sender_id, session=session):
        return
    row = session.get(ResidentActivity, sender_id)
    if row is None:
        session.add(ResidentActivity(sender_id=sender_id, last_turn_at=now or utcnow()))
    else:
        row.last_turn_at = now or utcnow()


def acted_since(sender_id: str, since: dt.datetime, *, session: Session) -> bool:
    """Whether the resident wrote or pressed a button after `since` (the stage began waiting on them)."""
    row = session.get(ResidentActivity, sender_id)
    return row is not None and _aware(row.last_turn_at) >= _aware(since)


def after_turn(sessions: sessionmaker, sender_id: str, channel: str, text: str, turn: Turn) -> None:
    """The chat's hook: fallback questions kept masked, the resident's activity noted."""
    try:
        with session_scope(sessions) as session:
            if turn.meta.fallback and not text.startswith("/"):
                record_fallback(text, channel, turn.locale, turn.meta.intent, session=session)
            note_activity(sender_id, session=session)
    except Exception as exc:  # the resident's reply matters more than the report
        logger.warning("casework hook failed for sender %s: %s", sender_id, type(exc).__name__)
