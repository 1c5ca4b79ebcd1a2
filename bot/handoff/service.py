"""The hand-off service: the one place that opens, relays, claims, closes and rates hand-offs.

Built once in the gateway's lifespan (`app.state.handoffs`); the web chat, the Telegram front
end, the staff API and the Telegram staff group (branch `handoff-tg`) all go through it.

Interface (a contract between branches; keep its shape):

- `await request(sender_id, channel, locale, reason, priority, emergency=False, lead=False,
  deferred=False, history=()) -> Handoff`: opens a hand-off, or returns the conversation's
  open one (one open hand-off per conversation; an emergency raises its urgency); `history`
  (earlier messages, or an async provider of them) goes into the transcript. The database
  holds the one-open rule (a partial unique index, `models.Handoff`), across gateways.
- `await is_active(sender_id) -> bool`: staff own the conversation (claimed, or waiting and
  not deferred): the gateway routes the resident's text here instead of to Rasa.
- `await resident_message(sender_id, text) -> Handoff | None`: adds to the transcript.
- `await claim(handoff_id, staff) -> Handoff`: atomic; the first claim wins, a later one by
  someone else raises `AlreadyClaimed(holder)`.
- `await staff_message(handoff_id, staff, text, internal=False, photo_url=None) ->
  HandoffMessage`: a reply to the resident through the outbox (claims first if unclaimed),
  or an internal note (never relayed).
- `await canned(handoff_id, staff, entry_id) -> HandoffMessage`: a knowledge-base answer in
  the resident's script (and region, when the gateway can tell it).
- `await close(handoff_id, staff) -> Handoff`: back to the bot, resident told, rating asked
  (not for emergencies).
- `await cancel(sender_id) -> Handoff | None`: the resident leaves the queue.
- `await rate(sender_id, score=None, comment=None, solved=None) -> Rating | None`.
- `await queue() -> list[Handoff]`: waiting hand-offs, emergencies first, then priority, then
  the earliest deadline among the resident's open cases, then waiting time.
- `await get(handoff_id)`, `await transcript(handoff_id)`, `await position(handoff)`.
- `add_listener(obj)`: `obj` implements some of `HandoffListener`: async hooks run after the
  change is committed, in the background, one conversation's hooks in order (`on_opened`
  before that hand-off's other hooks); a failing listener is logged and never undoes the
  change. `await idle()` waits for the hooks scheduled so far.

Staff messages reach the resident through the one outbox (`common/outbox.py`, kind
`handoff`): web clients read them from `GET /api/chat/{sender_id}/updates`; Telegram rows are
sent by the delivery worker (`bot/telegram/delivery.py`), photos too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.handoff import models as m
from bot.handoff.models import Handoff, HandoffMessage, Rating, aware, utcnow
from common import outbox
from common.chat_contract import RATE_PAYLOAD_PREFIX, RATE_SKIP_PAYLOAD, RATE_SOLVED_PAYLOAD, RATE_UNSOLVED_PAYLOAD
from common.db import session_scope
from common.i18n import t
from common.pii import mask_text

logger = logging.getLogger(__name__)

OUTBOX_KIND = "handoff"
PRIORITY_RANK = {m.PRIORITY_URGENT: 0, m.PRIORITY_HIGH: 1, m.PRIORITY_NORMAL: 2}
FAR_FUTURE = dt.date.max
# Estimated minutes per place in the queue until enough hand-offs were claimed to measure it.
DEFAULT_MINUTES_PER_PLACE = 3.0
CASE_LOOKUP_TIMEOUT_S = 2.0
# The queue is read on every waiting resident's turn and every console refresh: each
# resident's cases (for the deadline order and the staff view) are looked up at most this often.
CASES_TTL_S = 30.0
MAX_TEXT_CHARS = 4000

# (channel, sender_id) -> the resident's cases (the case API's Case JSON), for the queue order
# and the staff view. Failing lookups are tolerated.
CasesLookup = Callable[[str, str], Awaitable[List[Dict[str, Any]]]]
# An earlier message for the transcript: (role, text) or (role, text, when).
HistoryItem = Tuple[Any, ...]
HistoryProvider = Callable[[], Awaitable[Iterable[HistoryItem]]]
# Entry id, locale, sender_id -> the answer text, or None for an unknown entry.
CannedLookup = Callable[[str, str, str], Awaitable[Optional[str]]]


class HandoffError(Exception):
    """A hand-off operation that cannot be done (the staff API answers 404 or 409)."""


class HandoffNotFound(HandoffError):
    pass


class HandoffClosed(HandoffError):
    pass


class AlreadyClaimed(HandoffError):
    """Someone else holds the hand-off."""

    def __init__(self, holder: Optional[str]):
        super().__init__(f"held by {holder}")
        self.holder = holder


class UnknownCanned(HandoffError):
    pass


class HandoffListener(Protocol):
    """Hooks of the hand-off's life; each is optional; run after the commit, in order per conversation."""

    async def on_opened(self, handoff: Handoff) -> None: ...

    async def on_resident_message(self, handoff: Handoff, text: str) -> None: ...

    async def on_staff_message(self, handoff: Handoff, message: HandoffMessage) -> None: ...

    async def on_claimed(self, handoff: Handoff) -> None: ...

    async def on_closed(self, handoff: Handoff) -> None: ...


@dataclass(frozen=True)
class Place:
    """Where a waiting hand-off stands: 1-based place and the rough wait in minutes."""

    place: int
    minutes: int


def _clip(text: str) -> str:
    return mask_text((text or "").strip())[:MAX_TEXT_CHARS]


def open_handoff_of(sender_id: str, *, session: Session) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.sender_id == sender_id, Handoff.state.in_(m.OPEN_STATES))
        .order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


def last_closed_of(sender_id: str, *, session: Session) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.sender_id == sender_id, Handoff.state == m.STATE_CLOSED)
        .order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


def add_message(
    handoff: Handoff, role: str, text: str, *, session: Session, author: Optional[str] = None,
    photo_url: Optional[str] = None, at: Optional[dt.datetime] = None,
) -> HandoffMessage:
    row = HandoffMessage(handoff_id=handoff.id, role=role, text=_clip(text), author=author, photo_url=photo_url,
                         at=at or utcnow())
    session.add(row)
    session.flush()
    return row


def to_resident(handoff: Handoff, key: str, message: Dict[str, Any], *, session: Session) -> Optional[int]:
    """Queues a message for the resident on their channel, once per `key`."""
    return outbox.enqueue(
        handoff.sender_id, handoff.channel, OUTBOX_KIND, message, f"handoff:{handoff.id}:{key}", session=session
    )


def rating_buttons(locale: str) -> List[Dict[str, str]]:
    return [{"title": t(f"handoff.rate.{n}", locale), "payload": f"{RATE_PAYLOAD_PREFIX}{n}"} for n in range(1, 6)]


def comment_buttons(locale: str) -> List[Dict[str, str]]:
    return [
        {"title": t("handoff.rate.solved", locale), "payload": RATE_SOLVED_PAYLOAD},
        {"title": t("handoff.rate.unsolved", locale), "payload": RATE_UNSOLVED_PAYLOAD},
        {"title": t("handoff.rate.skip", locale), "payload": RATE_SKIP_PAYLOAD},
    ]


class HandoffService:
    """Hand-offs over the gateway's database; see the module docstring for the interface."""

    def __init__(
        self,
        sessions: sessionmaker,
        *,
        cases: Optional[CasesLookup] = None,
        canned_text: Optional[CannedLookup] = None,
        on_enqueued: Optional[Callable[[], None]] = None,
    ):
        self._sessions = sessions
        self._cases = cases
        self._canned_text = canned_text
        self._on_enqueued = on_enqueued
        self._listeners: List[Any] = []
        self._open_lock = asyncio.Lock()
        self._chains: Dict[str, asyncio.Task] = {}  # sender_id -> the last scheduled listener run
        self._case_cache: Dict[Tuple[str, str], Tuple[float, asyncio.Future[List[Dict[str, Any]]]]] = {}

    # --- wiring ---------------------------------------------------------------------------

    def add_listener(self, listener: Any) -> None:
        self._listeners.append(listener)

    def set_on_enqueued(self, callback: Optional[Callable[[], None]]) -> None:
        """Called after outbox rows were committed (wakes the Telegram delivery worker)."""
        self._on_enqueued = callback

    async def _notify(self, hook: str, handoff: Handoff, *args: Any,
                      before: Optional[Callable[[], Awaitable[None]]] = None) -> None:
        """Runs the listeners' `hook` in the background, in order per conversation.

        The resident's turn and the staff API do not wait for Telegram or Rasa; the hooks of
        one conversation still run one after another in the order of the changes (a topic is
        opened before its first message, a pause before its resume). `before` runs first in
        the same slot (the transcript's history is added before `on_opened`).
        """
        previous = self._chains.get(handoff.sender_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if before is not None:
                try:
                    await before()
                except Exception:
                    logger.exception("hand-off %s: preparing %s failed", handoff.ticket, hook)
            for listener in list(self._listeners):
                method = getattr(listener, hook, None)
                if method is None:
                    continue
                try:
                    await method(handoff, *args)
                except Exception:  # a listener (Telegram, Rasa) must not undo the hand-off
                    logger.exception("hand-off listener %s.%s failed", type(listener).__name__, hook)

        task = asyncio.create_task(run(), name=f"handoff-{hook}-{handoff.id}")
        self._chains[handoff.sender_id] = task

        def forget(done: asyncio.Task) -> None:
            if self._chains.get(handoff.sender_id) is done:
                del self._chains[handoff.sender_id]

        task.add_done_callback(forget)

    async def idle(self) -> None:
        """Waits until every listener hook scheduled so far has run (tests, shutdown)."""
        while self._chains:
            await asyncio.gather(*list(self._chains.values()), return_exceptions=True)

    def _enqueued(self) -> None:
        if self._on_enqueued is not None:
            try:
                self._on_enqueued()
            except Exception:
                logger.exception("outbox wake-up failed")

    # --- resident side --------------------------------------------------------------------

    async def request(
        self,
        sender_id: str,
        channel: str,
        locale: str,
        reason: str,
        priority: str = m.PRIORITY_NORMAL,
        emergency: bool = False,
        lead: bool = False,
        deferred: bool = False,
        history: Iterable[HistoryItem] | HistoryProvider = (),
    ) -> Handoff:
        """Opens a hand-off for the conversation, or returns (and if need be escalates) its open one.

        `history` is the conversation so far as (role, text[, at]) items, copied masked into the
        transcript so staff read what happened before; it may be an async provider, which is
        then awaited in the background (after the hand-off is in the queue, before `on_opened`).
        """
        if priority not in PRIORITY_RANK:
            raise ValueError(f"unknown priority {priority!r}")
        if emergency:
            priority = m.PRIORITY_URGENT
        # One open hand-off per conversation: the database's partial unique index holds it
        # across processes (two gateways); the lock only spares this process's own turns the
        # failed insert. Losing the race means another opened it: escalate and return that one.
        async with self._open_lock:
            handoff: Optional[Handoff] = None
            for _attempt in range(3):
                try:
                    with session_scope(self._sessions) as session:
                        existing = open_handoff_of(sender_id, session=session)
                        if existing is not None:
                            self._escalate(existing, reason, priority, emergency, lead, deferred, session=session)
                            return existing
                        handoff = Handoff(
                            sender_id=sender_id, channel=channel, locale=locale, reason=reason[:32],
                            priority=priority, emergency=emergency, lead=lead, deferred=deferred,
                            state=m.STATE_WAITING,
                        )
                        session.add(handoff)
                        session.flush()  # the unique index answers here
                        if not callable(history):
                            self._add_history(handoff, list(history), session=session)
                        add_message(handoff, m.ROLE_SYSTEM, f"hand-off requested: {reason} ({priority})",
                                    session=session)
                    break
                except IntegrityError:
                    handoff = None
                    logger.info("hand-off for sender=%s opened elsewhere meanwhile: using that one", sender_id)
            if handoff is None:
                raise HandoffError(f"could not open or find the hand-off of {sender_id}")
        logger.info("hand-off %s opened: sender=%s reason=%s priority=%s", handoff.ticket, sender_id, reason, priority)
        provider = history if callable(history) else None

        async def add_history() -> None:
            if provider is not None:
                items = list(await provider())
                with session_scope(self._sessions) as session:
                    self._add_history(handoff, items, session=session)

        await self._notify("on_opened", handoff, before=add_history)
        return handoff

    @staticmethod
    def _escalate(existing: Handoff, reason: str, priority: str, emergency: bool, lead: bool, deferred: bool,
                  *, session: Session) -> None:
        """A new request in a conversation with an open hand-off raises its urgency, never lowers it."""
        changed = False
        if PRIORITY_RANK[priority] < PRIORITY_RANK[existing.priority]:
            existing.priority, changed = priority, True
        if emergency and not existing.emergency:
            existing.emergency, changed = True, True
        if not deferred and existing.deferred:
            existing.deferred, changed = False, True
        existing.lead = existing.lead or lead
        if changed:
            add_message(existing, m.ROLE_SYSTEM, f"escalated: {reason} ({existing.priority})", session=session)

    @staticmethod
    def _add_history(handoff: Handoff, items: List[HistoryItem], *, session: Session) -> None:
        """Earlier messages, each at its own time (the transcript is ordered by time)."""
        opened = aware(handoff.opened_at) or utcnow()
        for index, item in enumerate(items):
            role, text = item[0], item[1]
            at = aware(item[2]) if len(item) > 2 and isinstance(item[2], dt.datetime) else None  # type: ignore[misc]
            if role in m.ROLES and text:
                # Without its own time an item is placed just before the hand-off, in order.
                when = min(at, opened) if at else opened - dt.timedelta(milliseconds=len(items) - index)
                add_message(handoff, role, text, session=session, at=when)

    async def is_active(self, sender_id: str) -> bool:
        """Whether staff own the conversation now (the bot must stay silent)."""
        handoff = await self.open_for(sender_id)
        return handoff is not None and (handoff.state == m.STATE_ACTIVE or not handoff.deferred)

    async def open_for(self, sender_id: str) -> Optional[Handoff]:
        with session_scope(self._sessions) as session:
            return open_handoff_of(sender_id, session=session)

    async def resident_message(self, sender_id: str, text: str) -> Optional[Handoff]:
        """Adds what the resident wrote to their open hand-off's transcript (None if none)."""
        with session_scope(self._sessions) as session:
            handoff = open_handoff_of(sender_id, session=session)
            if handoff is None:
                return None
            add_message(handoff, m.ROLE_RESIDENT, text, session=session)
        await self._notify("on_resident_message", handoff, _clip(text))
        return handoff

    async def bot_message(self, sender_id: str, text: str) -> None:
        """Adds a reply the bot gave while the hand-off waits (deferred) to the transcript."""
        with session_scope(self._sessions) as session:
            handoff = open_handoff_of(sender_id, session=session)
            if handoff is not None:
                add_message(handoff, m.ROLE_BOT, text, session=session)

    async def cancel(self, sender_id: str) -> Optional[Handoff]:
        """The resident leaves the queue (or ends the conversation with staff); no rating asked."""
        with session_scope(self._sessions) as session:
            handoff = open_handoff_of(sender_id, session=session)
            if handoff is None:
                return None
            handoff.state, handoff.closed_at, handoff.closed_by = m.STATE_CLOSED, utcnow(), "resident"
            add_message(handoff, m.ROLE_SYSTEM, "cancelled by the resident", session=session)
        logger.info("hand-off %s cancelled by the resident", handoff.ticket)
        await self._notify("on_closed", handoff)
        return handoff

    async def position(self, handoff: Handoff) -> Place:
        """The hand-off's place in the queue and a rough wait (recent claims' average wait)."""
        waiting = await self.queue()
        place = next((i for i, h in enumerate(waiting, 1) if h.id == handoff.id), len(waiting) or 1)
        with session_scope(self._sessions) as session:
            recent = session.execute(
                select(Handoff.opened_at, Handoff.claimed_at).where(Handoff.claimed_at.is_not(None))
                .order_by(Handoff.claimed_at.desc()).limit(20)
            ).all()
        if recent:
            per_place = sum((aware(c) - aware(o)).total_seconds() for o, c in recent) / len(recent) / 60  # type: ignore[operator]
            per_place = max(1.0, per_place)
        else:
            per_place = DEFAULT_MINUTES_PER_PLACE
        return Place(place=place, minutes=max(1, round(per_place * place)))

    async def rate(
        self, sender_id: str, score: Optional[int] = None, comment: Optional[str] = None,
        solved: Optional[bool] = None,
    ) -> Optional[Rating]:
        """Records the resident's rating of their last closed hand-off (one per hand-off).

        The score comes first (1-5); a comment and "solved?" may follow. Returns None when no
        rating is expected from this resident.
        """
        with session_scope(self._sessions) as session:
            handoff = last_closed_of(sender_id, session=session)
            if handoff is None or handoff.rating_step is None:
                return None
            rating = session.execute(select(Rating).where(Rating.handoff_id == handoff.id)).scalar_one_or_none()
            if score is not None:
                if not 1 <= int(score) <= 5:
                    raise ValueError("score must be 1-5")
                if rating is None:
                    rating = Rating(
                        handoff_id=handoff.id, score=int(score), flagged=int(score) <= 2, assignee=handoff.assignee
                    )
                    try:
                        with session.begin_nested():
                            session.add(rating)
                    except IntegrityError:  # a double press: the first score stands
                        rating = session.execute(
                            select(Rating).where(Rating.handoff_id == handoff.id)
                        ).scalar_one()
                handoff.rating_step = "comment"
                add_message(handoff, m.ROLE_SYSTEM, f"rated {rating.score}", session=session)
                return rating
            if rating is None:
                return None
            if solved is not None:
                rating.solved = solved
            if comment:
                rating.comment = _clip(comment)[:1000]
            if comment or solved is None:  # a comment, or "skip", ends the rating
                handoff.rating_step = None
            return rating

    async def rating_step(self, sender_id: str) -> Optional[str]:
        """"score" while the rating buttons wait, "comment" after the score, else None."""
        with session_scope(self._sessions) as session:
            handoff = last_closed_of(sender_id, session=session)
            return handoff.rating_step if handoff is not None else None

    async def end_rating(self, sender_id: str) -> None:
        """The resident moved on (asked something else): no more rating prompts for this hand-off."""
        with session_scope(self._sessions) as session:
            handoff = last_closed_of(sender_id, session=session)
            if handoff is not None and handoff.rating_step == "comment":
                handoff.rating_step = None

    # --- staff side -----------------------------------------------------------------------

    def _load_open(self, session: Session, handoff_id: int) -> Handoff:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            raise HandoffNotFound(str(handoff_id))
        if handoff.state == m.STATE_CLOSED:
            raise HandoffClosed(handoff.ticket)
        return handoff

    def _claim_in(self, session: Session, handoff_id: int, staff: str) -> Tuple[Handoff, bool]:
        """Claims within `session`; returns the hand-off and whether this call claimed it."""
        won = session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id, Handoff.state == m.STATE_WAITING, Handoff.assignee.is_(None))
            .values(state=m.STATE_ACTIVE, assignee=staff, claimed_at=utcnow(), deferred=False)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            raise HandoffNotFound(str(handoff_id))
        session.refresh(handoff)
        if won:
            add_message(handoff, m.ROLE_SYSTEM, f"claimed by {staff}", session=session)
            to_resident(handoff, "claimed", {"text": t("handoff.claimed", handoff.locale), "buttons": []},
                        session=session)
            return handoff, True
        if handoff.state == m.STATE_CLOSED:
            raise HandoffClosed(handoff.ticket)
        if handoff.assignee != staff:
            raise AlreadyClaimed(handoff.assignee)
        return handoff, False

    async def claim(self, handoff_id: int, staff: str) -> Handoff:
        """Takes the hand-off; the first claim wins, a second by someone else raises `AlreadyClaimed`."""
        with session_scope(self._sessions) as session:
            handoff, won = self._claim_in(session, handoff_id, staff)
        if won:
            logger.info("hand-off %s claimed by %s", handoff.ticket, staff)
            self._enqueued()
            await self._notify("on_claimed", handoff)
        return handoff

    async def staff_message(
        self, handoff_id: int, staff: str, text: str, internal: bool = False, photo_url: Optional[str] = None
    ) -> HandoffMessage:
        """A staff reply (relayed to the resident; claims an unclaimed hand-off first) or an internal note."""
        text = (text or "").strip()
        if not text and not photo_url:
            raise ValueError("empty message")
        claimed = False
        with session_scope(self._sessions) as session:
            if internal:
                handoff = self._load_open(session, handoff_id)
                row = add_message(handoff, m.ROLE_NOTE, text, session=session, author=staff)
            else:
                handoff, claimed = self._claim_in(session, handoff_id, staff)
                row = add_message(handoff, m.ROLE_STAFF, text, session=session, author=staff, photo_url=photo_url)
                if handoff.first_staff_reply_at is None:
                    handoff.first_staff_reply_at = row.at
                message: Dict[str, Any] = {"text": t("handoff.staff_says", handoff.locale, text=text) if text else "",
                                           "buttons": []}
                if photo_url:
                    message["image_url"] = photo_url
                to_resident(handoff, f"msg:{row.id}", message, session=session)
        if claimed:
            await self._notify("on_claimed", handoff)
        if not internal:
            self._enqueued()
        await self._notify("on_staff_message", handoff, row)
        return row

    async def canned(self, handoff_id: int, staff: str, entry_id: str) -> HandoffMessage:
        """Sends a knowledge-base entry's answer, in the resident's script."""
        handoff = await self.get(handoff_id)
        if handoff is None:
            raise HandoffNotFound(str(handoff_id))
        text = await self._canned_text(entry_id, handoff.locale, handoff.sender_id) if self._canned_text else None
        if not text:
            raise UnknownCanned(entry_id)
        return await self.staff_message(handoff_id, staff, text)

    async def close(self, handoff_id: int, staff: str) -> Handoff:
        """Hands the conversation back to the bot, tells the resident, and asks for a rating."""
        with session_scope(self._sessions) as session:
            handoff = self._load_open(session, handoff_id)
            if handoff.assignee not in (None, staff):
                raise AlreadyClaimed(handoff.assignee)
            done = session.execute(
                update(Handoff).where(Handoff.id == handoff_id, Handoff.state.in_(m.OPEN_STATES))
                .values(state=m.STATE_CLOSED, closed_at=utcnow(), closed_by=staff,
                        assignee=handoff.assignee or staff,
                        rating_step=None if handoff.emergency else "score")
                .execution_options(synchronize_session=False)
            ).rowcount
            if done != 1:
                raise HandoffClosed(handoff.ticket)
            session.refresh(handoff)
            add_message(handoff, m.ROLE_SYSTEM, f"closed by {staff}", session=session)
            to_resident(handoff, "closed", {"text": t("handoff.closed", handoff.locale), "buttons": []},
                        session=session)
            if not handoff.emergency:
                to_resident(handoff, "rate", {"text": t("handoff.rate.ask", handoff.locale),
                                              "buttons": rating_buttons(handoff.locale)}, session=session)
        logger.info("hand-off %s closed by %s", handoff.ticket, staff)
        self._enqueued()
        await self._notify("on_closed", handoff)
        return handoff

    # --- reading --------------------------------------------------------------------------

    async def get(self, handoff_id: int) -> Optional[Handoff]:
        with session_scope(self._sessions) as session:
            return session.get(Handoff, handoff_id)

    async def transcript(self, handoff_id: int) -> List[HandoffMessage]:
        with session_scope(self._sessions) as session:
            return list(session.execute(
                select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id)
                .order_by(HandoffMessage.at, HandoffMessage.id)
            ).scalars())

    async def list(self, state: Optional[str] = None, limit: int = 200) -> List[Handoff]:
        """Hand-offs in `state` (waiting ones in queue order), newest first for the others."""
        if state == m.STATE_WAITING:
            return await self.queue()
        with session_scope(self._sessions) as session:
            query = select(Handoff).order_by(Handoff.id.desc()).limit(limit)
            if state is not None:
                query = query.where(Handoff.state == state)
            return list(session.execute(query).scalars())

    async def cases_of(self, handoff: Handoff) -> List[Dict[str, Any]]:
        """The resident's cases (empty when the case API is unreachable), cached for `CASES_TTL_S`.

        Concurrent callers share one lookup: the queue of 20 new hand-offs costs 20 calls to
        the case API, not 20 for each of them.
        """
        if self._cases is None:
            return []
        key = (handoff.channel, handoff.sender_id)
        now = time.monotonic()
        cached = self._case_cache.get(key)
        if cached is None or now - cached[0] >= CASES_TTL_S:
            if len(self._case_cache) > 10_000:  # senders come and go: start afresh rather than grow
                self._case_cache.clear()
            cached = (now, asyncio.ensure_future(self._lookup_cases(handoff)))
            self._case_cache[key] = cached
        return list(await asyncio.shield(cached[1]))

    async def _lookup_cases(self, handoff: Handoff) -> List[Dict[str, Any]]:
        assert self._cases is not None
        try:
            return await asyncio.wait_for(self._cases(handoff.channel, handoff.sender_id), CASE_LOOKUP_TIMEOUT_S)
        except Exception as exc:
            logger.warning("cases of hand-off %s unavailable: %s", handoff.ticket, type(exc).__name__)
            return []

    async def _earliest_deadline(self, handoff: Handoff) -> dt.date:
        deadlines = []
        for case in await self.cases_of(handoff):
            if case.get("status") in ("completed", "cancelled", "rejected"):
                continue
            try:
                deadlines.append(dt.date.fromisoformat(str(case.get("deadline"))))
            except ValueError:
                continue
        return min(deadlines, default=FAR_FUTURE)

    async def queue(self) -> List[Handoff]:
        """Waiting hand-offs: emergencies, priority, the resident's earliest case deadline, waiting time."""
        with session_scope(self._sessions) as session:
            waiting = list(session.execute(
                select(Handoff).where(Handoff.state == m.STATE_WAITING).order_by(Handoff.opened_at, Handoff.id)
            ).scalars())
        deadlines: Sequence[dt.date] = await asyncio.gather(*(self._earliest_deadline(h) for h in waiting))
        keyed = [
            ((not h.emergency, PRIORITY_RANK.get(h.priority, 9), d, aware(h.opened_at), h.id), h)
            for h, d in zip(waiting, deadlines, strict=False)
        ]
        return [h for _key, h in sorted(keyed, key=lambda item: item[0])]

    async def ratings(self) -> Dict[str, Any]:
        """Count, average and distribution of scores, overall, per ISO week and per staff member."""
        with session_scope(self._sessions) as session:
            rows = session.execute(select(Rating.score, Rating.at, Rating.assignee, Rating.flagged)).all()
            count = session.execute(select(func.count(Rating.id))).scalar_one()

        def summary(scores: List[int]) -> Dict[str, Any]:
            return {
                "count": len(scores),
                "average": round(sum(scores) / len(scores), 2) if scores else None,
                "distribution": {str(n): scores.count(n) for n in range(1, 6)},
            }

        weeks: Dict[str, List[int]] = {}
        staff: Dict[str, List[int]] = {}
        for score, at, assignee, _flagged in rows:
            year, week, _ = aware(at).isocalendar()  # type: ignore[union-attr]
            weeks.setdefault(f"{year}-W{week:02d}", []).append(score)
            staff.setdefault(assignee or "-", []).append(score)
        result = summary([r[0] for r in rows])
        result["count"] = count
        result["flagged"] = sum(1 for r in rows if r[3])
        result["by_week"] = {k: summary(v) for k, v in sorted(weeks.items())}
        result["by_staff"] = {k: summary(v) for k, v in sorted(staff.items())}
        return result
