"""Time-limit warnings (系统预警): a periodic job in the gateway.

Every `WARNINGS_POLL_S` the job reads the case API's staff queue for open cases whose stage
is amber (80 % of its working days used) or red (overdue), and raises one warning per case,
stage and level. "Once" holds across restarts and with several gateway processes: the
warning is a row with a unique (case, stage, level) key, inserted with conflict-ignore, so of
two runners inserting the same warning one row results. New warnings go to the staff
supergroup (`TELEGRAM_STAFF_CHAT_ID`) as one digest message, the digest claimed with a token
by one runner (a crashed runner's claim expires). Each line links to the case's console page
and has an acknowledge button (`warn:ack:<id>`). Red warnings nobody acknowledged within
`WARNING_ESCALATE_AFTER_S` are repeated once to the supervisors
(`TELEGRAM_SUPERVISOR_CHAT_ID`, else the staff group), claimed the same way. A warning whose
case has left the stage (or whose amber turned red) is resolved: it leaves the console's list
and is never escalated.

Telegram allows about 20 messages a minute per group: a run sends at most one digest and one
escalation, each listing at most `DIGEST_LINES` warnings and counting the rest (the console
lists them all).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.models import AMBER, RED, CaseWarning, utcnow
from common.case_client import CaseApiRejected, CaseApiUnavailable, CaseClient
from common.db import session_scope
from common.i18n import t
from common.settings import Settings

logger = logging.getLogger(__name__)

DUE_PAGE = 5000
MAX_PAGES = 200
CHUNK = 400
DIGEST_LINES = 30
CLAIM_EXPIRES = dt.timedelta(minutes=10)
ACK_PREFIX = "warn:ack:"
MAX_BACKOFF_S = 300.0

# chat id, HTML text, inline buttons (title, callback data)
Sender = Callable[[str, str, List[Tuple[str, str]]], Awaitable[None]]


@dataclass(frozen=True)
class RunResult:
    raised: int
    digested: int
    escalated: int


def _insert_ignore(session: Session, rows: List[Dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on the warning's unique key (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(CaseWarning).on_conflict_do_nothing(index_elements=["case_id", "stage", "level"])
    session.execute(statement, rows)


def warning_rows(items: Iterable[Dict[str, Any]], now: dt.datetime) -> List[Dict[str, Any]]:
    """The warnings the queue's amber and red lines call for (an overdue stage: red only)."""
    rows = []
    for item in items:
        light = item.get("light")
        if light not in (AMBER, RED) or item.get("clock") != "running":
            continue
        deadline = item.get("stage_deadline")
        rows.append({
            "case_id": str(item["case_id"]), "stage": str(item["stage"]), "level": light,
            "region": str(item.get("region") or ""), "process": str(item.get("process") or ""),
            "stage_names": item.get("stage_names") or {},
            "stage_deadline": dt.date.fromisoformat(deadline) if deadline else None,
            "working_days_left": item.get("working_days_left"), "raised_at": now,
        })
    return rows


def raise_warnings(items: Iterable[Dict[str, Any]], now: dt.datetime, *, session: Session) -> int:
    """Inserts the warnings not raised yet; returns how many this call inserted (about)."""
    rows = warning_rows(items, now)
    added = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        keys = [(r["case_id"], r["stage"], r["level"]) for r in chunk]
        existing = {tuple(row) for row in session.execute(
            select(CaseWarning.case_id, CaseWarning.stage, CaseWarning.level)
            .where(tuple_(CaseWarning.case_id, CaseWarning.stage, CaseWarning.level).in_(keys))
        )}
        fresh = [r for r, key in zip(chunk, keys, strict=True) if key not in existing]
        if fresh:
            _insert_ignore(session, fresh)
            added += len(fresh)
    return added


def resolve_gone(items: Iterable[Dict[str, Any]], now: dt.datetime, *, session: Session) -> int:
    """Resolves open warnings whose case is no longer at that stage and level (moved, completed,
    or amber turned red), given every amber and red clock of this run; returns how many."""
    current = {(str(i["case_id"]), str(i["stage"]), i.get("light")) for i in items}
    stale = [
        warning_id
        for warning_id, case_id, stage, level in session.execute(
            select(CaseWarning.id, CaseWarning.case_id, CaseWarning.stage, CaseWarning.level)
            .where(CaseWarning.acked_at.is_(None), CaseWarning.resolved_at.is_(None))
        )
        if (case_id, stage, level) not in current
    ]
    for start in range(0, len(stale), CHUNK):
        session.execute(update(CaseWarning).where(CaseWarning.id.in_(stale[start : start + CHUNK]))
                        .values(resolved_at=now).execution_options(synchronize_session=False))
    return len(stale)


def claim_digest(token: str, now: dt.datetime, *, session: Session) -> List[CaseWarning]:
    """Claims every warning not yet in a digest (or claimed by a runner that died)."""
    session.execute(
        update(CaseWarning)
        .where(CaseWarning.digested_at.is_(None),
               or_(CaseWarning.digest_token.is_(None), CaseWarning.digest_claimed_at < now - CLAIM_EXPIRES))
        .values(digest_token=token, digest_claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return _claimed(CaseWarning.digest_token == token, session=session)


def finish_digest(token: str, now: dt.datetime, *, session: Session, sent: bool) -> None:
    """Marks the claimed warnings digested, or frees them for the next run when sending failed."""
    values = {"digested_at": now} if sent else {"digest_token": None, "digest_claimed_at": None}
    session.execute(update(CaseWarning).where(CaseWarning.digest_token == token, CaseWarning.digested_at.is_(None))
                    .values(**values).execution_options(synchronize_session=False))


def claim_escalations(token: str, now: dt.datetime, after: dt.timedelta, *, session: Session) -> List[CaseWarning]:
    """Claims red warnings unacknowledged for `after`, not yet repeated to supervisors."""
    session.execute(
        update(CaseWarning)
        .where(CaseWarning.level == RED, CaseWarning.acked_at.is_(None), CaseWarning.escalated_at.is_(None),
               CaseWarning.resolved_at.is_(None),
               CaseWarning.raised_at <= now - after,
               or_(CaseWarning.escalation_token.is_(None), CaseWarning.escalation_claimed_at < now - CLAIM_EXPIRES))
        .values(escalation_token=token, escalation_claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return _claimed(and_(CaseWarning.escalation_token == token, CaseWarning.escalated_at.is_(None)), session=session)


def finish_escalations(token: str, now: dt.datetime, *, session: Session, sent: bool) -> None:
    values = {"escalated_at": now} if sent else {"escalation_token": None, "escalation_claimed_at": None}
    session.execute(update(CaseWarning)
                    .where(CaseWarning.escalation_token == token, CaseWarning.escalated_at.is_(None))
                    .values(**values).execution_options(synchronize_session=False))


def _claimed(condition: Any, *, session: Session) -> List[CaseWarning]:
    order = (CaseWarning.level.desc(), CaseWarning.stage_deadline, CaseWarning.id)  # red first
    return list(session.execute(select(CaseWarning).where(condition).order_by(*order)).scalars())


def acknowledge(warning_id: int, by: str, now: dt.datetime, *, session: Session) -> Optional[CaseWarning]:
    """Acknowledges a warning (the first acknowledgement stands); None when there is no such warning."""
    session.execute(update(CaseWarning).where(CaseWarning.id == warning_id, CaseWarning.acked_at.is_(None))
                    .values(acked_at=now, acked_by=by[:64]).execution_options(synchronize_session=False))
    return session.get(CaseWarning, warning_id, populate_existing=True)


def _in_regions(regions: Optional[Sequence[str]]) -> List[Any]:
    return [CaseWarning.region.in_(list(regions))] if regions is not None else []


def open_warnings(
    *, session: Session, limit: int = 200, offset: int = 0, regions: Optional[Sequence[str]] = None,
    case_id: Optional[str] = None,
) -> List[CaseWarning]:
    """Unacknowledged warnings (of `regions` when given), red first, most urgent first (the console's list)."""
    where = [CaseWarning.acked_at.is_(None), CaseWarning.resolved_at.is_(None), *_in_regions(regions)]
    if case_id:
        where = [CaseWarning.case_id == case_id, *_in_regions(regions)]  # a case's page shows them all
    return list(session.execute(
        select(CaseWarning).where(*where)
        .order_by(CaseWarning.level.desc(), CaseWarning.stage_deadline, CaseWarning.id).limit(limit).offset(offset)
    ).scalars())


def count_open(*, session: Session, regions: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """Unacknowledged warnings per level (the console's badge)."""
    rows = session.execute(
        select(CaseWarning.level, func.count())
        .where(CaseWarning.acked_at.is_(None), CaseWarning.resolved_at.is_(None), *_in_regions(regions))
        .group_by(CaseWarning.level)
    ).all()
    counts = {AMBER: 0, RED: 0}
    counts.update({level: int(n) for level, n in rows})
    return counts


def warning_json(warning: CaseWarning) -> Dict[str, Any]:
    return {
        "id": warning.id, "case_id": warning.case_id, "stage": warning.stage, "level": warning.level,
        "region": warning.region, "process": warning.process, "stage_names": warning.stage_names,
        "stage_deadline": warning.stage_deadline.isoformat() if warning.stage_deadline else None,
        "raised_at": _iso(warning.raised_at), "acked_at": _iso(warning.acked_at), "acked_by": warning.acked_by,
        "escalated_at": _iso(warning.escalated_at), "resolved_at": _iso(warning.resolved_at),
    }


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


def chat_id(value: Any) -> str:
    """A configured chat id as text; "" when unset (the setting may be a str or an int, 0 = unset)."""
    text = str(value or "").strip()
    return "" if text in ("", "0") else text


def case_url(base_url: str, case_id: str) -> str:
    return f"{base_url.rstrip('/')}/staff/cases/{case_id}"


def render_line(warning: CaseWarning, base_url: str, locale: str) -> str:
    names = warning.stage_names or {}
    link = f'<a href="{html.escape(case_url(base_url, warning.case_id))}">{html.escape(warning.case_id)}</a>'
    values = {
        "case": link, "region": html.escape(warning.region),
        "stage": html.escape(str(names.get(locale) or names.get("zh_Hans") or warning.stage)),
        "deadline": warning.stage_deadline.isoformat() if warning.stage_deadline else "",
        "left": warning.working_days_left if warning.working_days_left is not None else "",
    }
    return t(f"casework.digest.{warning.level}", locale, **values)


def render_digest(
    warnings: Sequence[CaseWarning], base_url: str, locale: str, *, title_key: str, **title: Any
) -> Tuple[str, List[Tuple[str, str]]]:
    """One message: a title, at most `DIGEST_LINES` lines, the count of the rest; ack buttons."""
    shown = list(warnings[:DIGEST_LINES])
    lines = [t(title_key, locale, count=len(warnings), **title)]
    lines += [render_line(w, base_url, locale) for w in shown]
    if len(warnings) > len(shown):
        lines.append(t("casework.digest.more", locale, count=len(warnings) - len(shown),
                       url=html.escape(f"{base_url.rstrip('/')}/staff/cases")))
    buttons = [(t("casework.ack.button", locale, case=w.case_id), f"{ACK_PREFIX}{w.id}") for w in shown]
    return "\n".join(lines), buttons


class WarningJob:
    """Raises, digests and escalates warnings; `run()` until cancelled, `run_once()` in tests."""

    def __init__(
        self,
        cases: CaseClient,
        sessions: sessionmaker,
        settings: Settings,
        send: Optional[Sender] = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self._cases = cases
        self._sessions = sessions
        self._settings = settings
        self._send = send
        self._clock = clock
        self._locale = settings.default_locale

    async def fetch_due(self) -> List[Dict[str, Any]]:
        """Every open case whose stage is amber or red, in keyset pages of `GET /queue/due`."""
        items: List[Dict[str, Any]] = []
        after = 0
        for _page in range(MAX_PAGES):
            answer = await self._cases.due(after=after, limit=DUE_PAGE)
            columns = answer.get("columns") or []
            names = answer.get("stage_names") or {}
            rows = answer.get("cases") or []
            for row in rows:
                item = dict(zip(columns, row, strict=False))
                item["clock"], item["stage_names"] = "running", names.get(item.get("stage"), {})
                items.append(item)
            if len(rows) < DUE_PAGE:
                break
            after = int(answer.get("next_after") or after)
        return items

    async def run_once(self) -> RunResult:
        now = self._clock()
        items = await self.fetch_due()
        with session_scope(self._sessions) as session:
            raised = raise_warnings(items, now, session=session)
            resolve_gone(items, now, session=session)
        if raised:
            logger.info("time-limit warnings raised: %d", raised)
        digested = await self._digest(now)
        escalated = await self._escalate(now)
        return RunResult(raised, digested, escalated)

    async def _digest(self, now: dt.datetime) -> int:
        chat = chat_id(self._settings.telegram_staff_chat_id)
        if self._send is None or not chat:
            return 0
        token = uuid.uuid4().hex
        with session_scope(self._sessions) as session:
            claimed = claim_digest(token, now, session=session)
        if not claimed:
            return 0
        text, buttons = render_digest(claimed, self._settings.public_base_url, self._locale,
                                      title_key="casework.digest.title")
        sent = await self._deliver(chat, text, buttons)
        with session_scope(self._sessions) as session:
            finish_digest(token, self._clock(), session=session, sent=sent)
        return len(claimed) if sent else 0

    async def _escalate(self, now: dt.datetime) -> int:
        chat = chat_id(self._settings.telegram_supervisor_chat_id) or chat_id(self._settings.telegram_staff_chat_id)
        if self._send is None or not chat:
            return 0
        after = dt.timedelta(seconds=self._settings.warning_escalate_after_s)
        token = uuid.uuid4().hex
        with session_scope(self._sessions) as session:
            claimed = claim_escalations(token, now, after, session=session)
        if not claimed:
            return 0
        hours = round(self._settings.warning_escalate_after_s / 3600, 1)
        text, buttons = render_digest(claimed, self._settings.public_base_url, self._locale,
                                      title_key="casework.escalation.title", hours=f"{hours:g}")
        sent = await self._deliver(chat, text, buttons)
        with session_scope(self._sessions) as session:
            finish_escalations(token, self._clock(), session=session, sent=sent)
        return len(claimed) if sent else 0

    async def _deliver(self, chat: str, text: str, buttons: List[Tuple[str, str]]) -> bool:
        assert self._send is not None
        try:
            await self._send(chat, text, buttons)
        except Exception as exc:  # Telegram down or refusing: the claim is released, retried next run
            logger.warning("warning digest not sent to the staff chat: %s", type(exc).__name__)
            return False
        return True

    async def run(self) -> None:
        """Runs every `WARNINGS_POLL_S`; an unavailable case API or Telegram only delays it."""
        failures = 0
        poll = max(1.0, self._settings.warnings_poll_s)
        while True:
            try:
                await self.run_once()
                failures = 0
                await asyncio.sleep(poll)
            except asyncio.CancelledError:
                raise
            except (CaseApiUnavailable, CaseApiRejected) as exc:
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    logger.warning("warning job: case API unavailable (%s)", type(exc).__name__)
                await asyncio.sleep(min(MAX_BACKOFF_S, poll * failures))
            except Exception as exc:  # a bug or a database hiccup must not end the loop
                failures += 1
                logger.error("warning job failed: %s", type(exc).__name__, exc_info=True)
                await asyncio.sleep(min(MAX_BACKOFF_S, poll * failures))


def telegram_sender(bot: Any) -> Sender:
    """Sends a digest through the gateway's python-telegram-bot `Bot` (HTML, inline buttons)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ParseMode

    async def send(chat_id: str, text: str, buttons: List[Tuple[str, str]]) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(title, callback_data=data)] for title, data in buttons])
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup if buttons else None,
                               disable_web_page_preview=True)

    return send
