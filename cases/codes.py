"""The status check's second factor: a one-time code sent to the phone on the case.

Someone who names a case that is not theirs (another channel, another sender) asks for a code
(`POST /cases/{id}/codes`); the case API texts a 6-digit code to the applicant's phone and
keeps only its keyed digest. `POST /cases/{id}/verify` checks it. The applicant's own channel
sender never needs a code: the actions list a sender's own cases directly.

Nothing here is an oracle for case numbers: a request for a case that does not exist is
counted and answered exactly like one that does (202; `{"verified": false}`), and a
malformed number is just a case that does not exist. Every limit is an atomic counter
(`INSERT .. ON CONFLICT DO NOTHING` then `UPDATE .. SET n = n + 1 WHERE n < limit`, so two
racing requests cannot both take the last try), keyed by the case number as typed, not by
whether it exists:
- a code lives `CODE_TTL` and allows `MAX_WRONG_PER_CODE` tries; after that it is spent
  (wrong like any other) and a new one must be asked for;
- per requester and case: `MAX_CODES_PER_REQUESTER_CASE` codes an hour; per requester:
  `MAX_CODES_PER_REQUESTER` codes and `MAX_CHECKS_PER_REQUESTER` checks an hour (429);
- per case, over all requesters: `MAX_CODES_PER_CASE` texts an hour (no SMS flood).
Locks are per requester: a stranger's wrong tries spend only the stranger's own code, never
the applicant's, and the applicant's own sender sees the case without any code.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from typing import Optional

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cases.context import CaseContext
from cases.crud import normalize_case_id
from cases.errors import ApiError
from cases.models import Base, Case
from cases.sms import SmsSender, SmsUnavailable
from common.i18n import t

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = dt.timedelta(minutes=10)
CODE_RETENTION = dt.timedelta(days=1)
MAX_WRONG_PER_CODE = 5
WINDOW = dt.timedelta(hours=1)
MAX_CODES_PER_REQUESTER_CASE = 3
MAX_CODES_PER_REQUESTER = 5
MAX_CHECKS_PER_REQUESTER = 30
MAX_CODES_PER_CASE = 10


class StatusCode(Base):
    """A one-time code sent for one case to one requester (its digest only)."""

    __tablename__ = "status_codes"

    id = Column(Integer, primary_key=True)
    case_pk = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    requester = Column(String(160), nullable=False, index=True)
    code_digest = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(DateTime, nullable=True)


class RateCounter(Base):
    """One fixed-window counter (`scope:window`), taken atomically."""

    __tablename__ = "rate_counters"

    key = Column(String(240), primary_key=True)
    count = Column(Integer, nullable=False, default=0)
    expires_at = Column(DateTime, nullable=False, index=True)


def take(scope: str, limit: int, *, session: Session, now: dt.datetime, window: dt.timedelta = WINDOW) -> bool:
    """Counts one use of `scope` in the current window; False (nothing counted) at `limit`."""
    index = int(now.replace(tzinfo=dt.timezone.utc).timestamp() // window.total_seconds())
    key = f"{scope}:{index}"[:240]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(RateCounter).values(key=key, count=0, expires_at=now + window).on_conflict_do_nothing()
    )
    taken = session.execute(
        update(RateCounter)
        .where(RateCounter.key == key, RateCounter.count < limit)
        .values(count=RateCounter.count + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def too_many() -> ApiError:
    """The 429 of a request past its limits."""
    return ApiError(429, "too many status-check requests; try again later",
                    headers={"Retry-After": str(int(WINDOW.total_seconds()))})


def _digest(case: Case, requester: str, code: str, *, ctx: CaseContext) -> list[str]:
    return ctx.cipher.fingerprints(f"status-code:{case.case_id}:{requester}:{code}")


def _find(case_id: str, *, session: Session) -> Optional[Case]:
    normalized = normalize_case_id(case_id)
    if normalized is None:
        return None
    return session.execute(select(Case).where(Case.case_id == normalized)).scalar_one_or_none()


def live_code(case: Case, requester: str, now: dt.datetime, *, session: Session) -> Optional[StatusCode]:
    """The requester's newest unspent, unexpired code for the case."""
    return session.execute(
        select(StatusCode)
        .where(StatusCode.case_pk == case.id, StatusCode.requester == requester,
               StatusCode.used_at.is_(None), StatusCode.expires_at > now)
        .order_by(StatusCode.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def request_code(
    case_id: str, requester: str, *, session: Session, ctx: CaseContext, sms: Optional[SmsSender]
) -> bool:
    """Texts a new code to the case's phone if the case exists; False when a limit is reached.

    Raises 503 when no SMS sender is configured or the provider fails. The caller commits
    either way (the counters are part of the answer); a refused request still counts in the
    limits it passed before the one it hit, which only makes the limits stricter.
    """
    if sms is None:
        raise ApiError(503, "SMS sending is not configured (SMS_GATEWAY_URL)")
    now = ctx.now_naive()
    # Retention: counters go when their window ends, codes a day after they expired.
    session.execute(delete(RateCounter).where(RateCounter.expires_at < now))
    session.execute(delete(StatusCode).where(StatusCode.expires_at < now - CODE_RETENTION))
    typed = (normalize_case_id(case_id) or case_id.strip())[:40]
    for scope, limit in (
        (f"codes:req:{requester}", MAX_CODES_PER_REQUESTER),
        (f"codes:req-case:{requester}:{typed}", MAX_CODES_PER_REQUESTER_CASE),
        (f"codes:case:{typed}", MAX_CODES_PER_CASE),
    ):
        if not take(scope, limit, session=session, now=now):
            logger.warning("status-check code refused: limit %s reached", scope.split(":")[1])
            return False
    case = _find(case_id, session=session)
    if case is None:
        return True
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    session.add(StatusCode(
        case_pk=case.id, requester=requester, code_digest=_digest(case, requester, code, ctx=ctx)[0],
        created_at=now, expires_at=now + CODE_TTL, attempts=0,
    ))
    session.flush()
    minutes = int(CODE_TTL.total_seconds() // 60)
    text = t("sms.status_code", case.locale, case_id=case.case_id, code=code, minutes=minutes)
    try:
        sms.send(ctx.cipher.decrypt(case.phone_enc), text, case_id=case.case_id)
    except SmsUnavailable as exc:
        logger.warning("status-check code for case %s not sent: %s", case.case_id, exc)
        raise ApiError(503, "the code could not be sent; please try again later") from exc
    return True


def check_code(case_id: str, requester: str, code: str, *, session: Session, ctx: CaseContext) -> bool:
    """Whether `code` is the live code this requester was sent for this case (spent on success)."""
    now = ctx.now_naive()
    case = _find(case_id, session=session)
    row = live_code(case, requester, now, session=session) if case is not None else None
    if not take(f"checks:req:{requester}", MAX_CHECKS_PER_REQUESTER, session=session, now=now):
        raise too_many()
    if case is None or row is None:
        return False
    # Count the try first, atomically: of racing tries only MAX_WRONG_PER_CODE get this far.
    counted = session.execute(
        update(StatusCode)
        .where(StatusCode.id == row.id, StatusCode.attempts < MAX_WRONG_PER_CODE, StatusCode.used_at.is_(None))
        .values(attempts=StatusCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        return False  # spent: wrong like any other answer, so it tells nothing
    if not any(hmac.compare_digest(row.code_digest, d) for d in _digest(case, requester, code, ctx=ctx)):
        return False
    used = session.execute(
        update(StatusCode)
        .where(StatusCode.id == row.id, StatusCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return used.rowcount == 1
