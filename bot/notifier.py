"""Tells residents when their case moves, instead of waiting to be asked.

Follows the case API's event feed (`GET /events?after=<cursor>`), subscribes the sender that
applied when a case is created, and for each stage change or item update writes one message
per subscriber, in the subscriber's language, to the one outbox (`common.outbox`), in the
same transaction as advancing the cursor. The dedupe key `event:<id>:<sender>` makes a
replayed event (a crash between reading and committing) produce nothing new, so every event
reaches every subscriber once; channel workers deliver from the outbox (web senders poll
`/api/chat/{sender_id}/updates`, the Telegram worker sends).

While a case's current stage waits on the resident, its subscribers are reminded once a
day at most (dedupe key `reminder:<case>:<sender>:<date>`), from the day after the stage began,
until the case moves on or the resident acts (writes or presses a button in the chat after the
stage began waiting on them: `bot.casework.activity`).

With several gateways on one database, one notifier at a time reads the feed: each poll
claims `notifier:feed` (`common.claims`) for a short lease that the holder renews; the
others skip their poll, and take over within the lease (`10 × NOTIFIER_POLL_S`, at least
5 s) when the holder stops. A reader that lost its lease mid-page still writes nothing
twice (cursor check, dedupe keys).

The case API may be down: the notifier then logs a warning and retries with back-off; it
never stops the gateway.

Run alone (for operators): `python -m bot.notifier --once` reads the feed once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional

from sqlalchemy.orm import Session, sessionmaker

from bot import store
from bot import subscriptions as subs
from bot.casework.activity import acted_since
from common import claims, outbox
from common.case_client import CaseApiRejected, CaseApiUnavailable, CaseClient
from common.case_presentation import deadline_day, stage_name_of
from common.chat_contract import STATUS_PAYLOAD
from common.db import session_scope
from common.i18n import t
from common.scripts import ZH_HANS

logger = logging.getLogger(__name__)

CASE_CREATED = "case.created"
FEED_CLAIM = "notifier:feed"
STAGE_CHANGED = "case.stage_changed"
ITEM_UPDATED = "item.updated"
# Residents are in China: reminder days and hours are Beijing time (no daylight saving).
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8))
REMINDER_HOUR = 9
REMINDER_EVERY_S = 300.0
MAX_BACKOFF_S = 60.0
EVENTS_PER_READ = 100
STAGE_CACHE_SIZE = 2000

Stages = List[Dict[str, Any]]


def _parse_day(value: Optional[str]) -> Optional[dt.date]:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def stage_name(stages: Stages, key: Optional[str], locale: str) -> str:
    """A stage's name in `locale` (common/case_presentation.py, as everywhere a case is shown)."""
    return stage_name_of(stages, key, locale)


def next_stage(stages: Stages, key: Optional[str]) -> Optional[str]:
    """The stage after `key` in the case's process, or None for the last one."""
    keys = [s.get("key") for s in stages]
    if key in keys and keys.index(key) + 1 < len(keys):
        return keys[keys.index(key) + 1]
    return None


def _item_text(item: Dict[str, Any], locale: str) -> str:
    kind, status = item.get("kind"), item.get("status")
    name = t(f"notify.item.{kind}", locale)
    if name == f"notify.item.{kind}":  # a kind the catalogs do not know yet
        name = str(kind)
    state = t(f"notify.item_state.{status}", locale)
    if state == f"notify.item_state.{status}":
        state = str(status)
    return t("notify.item_status", locale, name=name, status=state)


def status_button(locale: str) -> List[Dict[str, str]]:
    return [{"title": t("notify.status_button", locale), "payload": STATUS_PAYLOAD}]


def render_event(event: Dict[str, Any], stages: Stages, locale: str) -> Optional[Dict[str, Any]]:
    """The Message telling a subscriber about `event`; None for events that say nothing new."""
    case_id = event.get("case_id", "")
    lines: List[str] = []
    if event.get("type") == STAGE_CHANGED:
        if event.get("status") == "completed":
            lines.append(t("notify.completed", locale, case_id=case_id))
        else:
            lines.append(t("notify.stage_changed", locale, case_id=case_id,
                           stage=stage_name(stages, event.get("stage"), locale)))
            following = next_stage(stages, event.get("stage"))
            if following:
                lines.append(t("notify.next", locale, stage=stage_name(stages, following, locale)))
            deadline = _parse_day(event.get("deadline"))
            if deadline:
                lines.append(t("notify.deadline", locale, deadline=deadline_day(deadline, locale)))
            if event.get("waits_on") == "customer":
                lines.append(t("notify.waits_on_customer", locale))
        if event.get("note"):
            lines.append(t("notify.note", locale, note=event["note"]))
    elif event.get("type") == ITEM_UPDATED and isinstance(event.get("item"), dict):
        item = event["item"]
        lines.append(t("notify.item_updated", locale, case_id=case_id, item=_item_text(item, locale)))
        note = item.get("note") or event.get("note")
        if note:
            lines.append(t("notify.note", locale, note=note))
    else:
        return None
    return {"text": "\n".join(lines), "buttons": status_button(locale)}


def render_reminder(case: subs.FollowedCase, stages: Stages, locale: str) -> Dict[str, Any]:
    lines = [t("notify.reminder", locale, case_id=case.case_id, stage=stage_name(stages, case.stage, locale))]
    if case.deadline:
        lines.append(t("notify.deadline", locale, deadline=deadline_day(case.deadline, locale)))
    return {"text": "\n".join(lines), "buttons": status_button(locale)}


def subscriber_locale(sender_id: str, fallback: Optional[str], *, session: Session) -> str:
    """The subscriber's own language if the gateway knows it, else the case's."""
    return store.get_locale(sender_id, session=session) or fallback or ZH_HANS


def channel_of(sender_id: str, channel: Optional[str]) -> str:
    if channel:
        return channel
    return "telegram" if sender_id.startswith("tg:") else "web"


def follow_case(case: Dict[str, Any], *, session: Session) -> None:
    """Records a case's current stage from its Case JSON (a chat subscribed by deep link)."""
    stages = case.get("stages") or []
    waits_on = next((s.get("waits_on") for s in stages if s.get("key") == case.get("stage")), None)
    subs.follow(
        case["case_id"], session=session, stage=case.get("stage"),
        waits_on=waits_on if case.get("status") != "completed" else None,
        status=case.get("status") or "open", deadline=_parse_day(case.get("deadline")), locale=case.get("locale"),
    )


class Notifier:
    """Reads the case event feed into the outbox; `run()` until cancelled."""

    def __init__(
        self,
        cases: CaseClient,
        sessions: sessionmaker,
        poll_s: float = 1.0,
        on_enqueued: Optional[Callable[[], None]] = None,
        default_locale: str = ZH_HANS,
    ):
        self._cases = cases
        self._sessions = sessions
        self._poll_s = max(0.05, poll_s)
        self._on_enqueued = on_enqueued
        self._default_locale = default_locale
        self._stages: OrderedDict[str, Stages] = OrderedDict()
        self._last_reminders = 0.0
        self._holder = claims.new_holder()
        self._lease_s = max(5.0, 10 * self._poll_s)

    def _hold_feed(self) -> bool:
        """Claims (or renews) the feed for this notifier; False while another one holds it."""
        return bool(claims.claim_now(self._sessions, [FEED_CLAIM], self._holder, self._lease_s))

    async def run(self) -> None:
        """Follows the feed until cancelled; outages of the case API only slow it down."""
        try:
            await self._run()
        finally:
            try:
                claims.release_now(self._sessions, [FEED_CLAIM], self._holder)
            except Exception:  # the database may be what stopped us
                logger.warning("notifier could not release its claim on the feed", exc_info=True)

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                handled = await self.poll_once()
                if loop.time() - self._last_reminders >= REMINDER_EVERY_S:
                    self._last_reminders = loop.time()
                    await self.remind()
            except (CaseApiUnavailable, CaseApiRejected) as exc:
                failures += 1
                delay = min(MAX_BACKOFF_S, self._poll_s * 2 ** min(failures, 10))
                if failures == 1 or failures % 10 == 0:
                    logger.warning("case API unavailable for the notifier (%s); retrying in %.1fs",
                                   type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a database hiccup must not end the loop
                failures += 1
                logger.error("notifier step failed: %s", type(exc).__name__, exc_info=True)
                await asyncio.sleep(min(MAX_BACKOFF_S, self._poll_s * 2 ** min(failures, 10)))
                continue
            if failures:
                logger.info("notifier reading the case API again")
            failures = 0
            if handled == 0:
                await asyncio.sleep(self._poll_s)

    async def _stages_of(self, case_id: str) -> Stages:
        """The case's stage catalog (fixed once a case exists, so cached)."""
        if case_id in self._stages:
            self._stages.move_to_end(case_id)
            return self._stages[case_id]
        case = await self._cases.get_case(case_id)
        stages = list((case or {}).get("stages") or [])
        self._stages[case_id] = stages
        while len(self._stages) > STAGE_CACHE_SIZE:
            self._stages.popitem(last=False)
        return stages

    async def poll_once(self) -> int:
        """Reads one page of events and commits their messages with the cursor; returns how many."""
        if not self._hold_feed():
            return 0
        with session_scope(self._sessions) as session:
            cursor = subs.get_cursor(session=session)
        page = await self._cases.events(after=cursor, limit=EVENTS_PER_READ)
        events = sorted(page.get("events") or [], key=lambda e: int(e["id"]))
        if not events:
            return 0
        next_cursor = max(int(page.get("next_cursor") or 0), int(events[-1]["id"]))
        # Network first (stage names), then one short transaction for the whole page.
        with session_scope(self._sessions) as session:
            followed = {e["case_id"] for e in events if e.get("type") == CASE_CREATED and e.get("sender_id")}
            followed |= {e["case_id"] for e in events if subs.subscribers(e["case_id"], session=session)}
        stages = {
            case_id: await self._stages_of(case_id)
            for case_id in {e["case_id"] for e in events if e.get("type") != CASE_CREATED} & followed
        }
        queued = 0
        with session_scope(self._sessions) as session:
            if subs.get_cursor(session=session) != cursor:  # another reader got there first
                return 0
            for event in events:
                queued += self._apply(event, stages.get(event["case_id"], []), session=session)
            subs.set_cursor(next_cursor, session=session)
        if queued:
            logger.info("notifier queued %d message(s) for events up to %d", queued, next_cursor)
            self._wake()
        return len(events)

    def _apply(self, event: Dict[str, Any], stages: Stages, *, session: Session) -> int:
        case_id = event["case_id"]
        if event.get("type") == CASE_CREATED and event.get("sender_id"):
            sender = str(event["sender_id"])
            subs.subscribe(case_id, sender, channel_of(sender, event.get("channel")), session=session)
        subscribers = subs.subscribers(case_id, session=session)
        if not subscribers:
            return 0
        subs.follow(
            case_id, session=session, stage=event.get("stage"), waits_on=event.get("waits_on"),
            status=event.get("status") or "open", deadline=_parse_day(event.get("deadline")),
            locale=event.get("locale"), event_id=int(event["id"]),
        )
        queued = 0
        for sub in subscribers:
            locale = subscriber_locale(sub.sender_id, event.get("locale") or self._default_locale, session=session)
            message = render_event(event, stages, locale)
            if message is None:
                continue
            key = f"event:{event['id']}:{sub.sender_id}"
            if outbox.enqueue(sub.sender_id, sub.channel, "status", message, dedupe_key=key, session=session):
                queued += 1
                logger.info("status update queued: case=%s event=%s sender=%s", case_id, event["id"], sub.sender_id)
        return queued

    async def remind(self, now: Optional[dt.datetime] = None) -> int:
        """Queues today's reminders for stages waiting on the resident; returns how many are new."""
        local = (now or dt.datetime.now(dt.timezone.utc)).astimezone(LOCAL_TZ)
        if local.hour < REMINDER_HOUR:
            return 0
        today = local.date()
        if not self._hold_feed():
            return 0
        with session_scope(self._sessions) as session:
            waiting = [
                (case.case_id, case)
                for case in subs.waiting_on_customer(session=session)
                if _local_day(case.stage_since) < today
            ]
        stages = {}
        for case_id, _case in waiting:
            try:
                stages[case_id] = await self._stages_of(case_id)
            except CaseApiUnavailable:
                stages[case_id] = []
        queued = 0
        with session_scope(self._sessions) as session:
            for case_id, case in waiting:
                for sub in subs.subscribers(case_id, session=session):
                    if acted_since(sub.sender_id, case.stage_since, session=session):
                        continue  # the resident answered since the stage began waiting on them
                    locale = subscriber_locale(sub.sender_id, case.locale or self._default_locale, session=session)
                    key = f"reminder:{case_id}:{sub.sender_id}:{today.isoformat()}"
                    message = render_reminder(case, stages[case_id], locale)
                    if outbox.enqueue(sub.sender_id, sub.channel, "reminder", message, dedupe_key=key,
                                      session=session):
                        queued += 1
                        logger.info("reminder queued: case=%s sender=%s", case_id, sub.sender_id)
        if queued:
            self._wake()
        return queued

    def _wake(self) -> None:
        if self._on_enqueued is not None:
            self._on_enqueued()


def _local_day(value: dt.datetime) -> dt.date:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(LOCAL_TZ).date()


async def _main_once() -> None:  # pragma: no cover - operator tool
    import httpx

    from common import migrate
    from common.db import make_engine, make_session_factory
    from common.logs import configure_logging
    from common.settings import Settings

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    async with httpx.AsyncClient() as http:
        key = settings.secret("CASE_API_GATEWAY_KEY")
        cases = CaseClient(settings.case_api_url, key, http, settings.case_api_timeout_s)
        handled = await Notifier(cases, make_session_factory(engine), settings.notifier_poll_s).poll_once()
    print(f"{handled} event(s) read")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if "--once" in sys.argv:
        asyncio.run(_main_once())
    else:
        print("usage: python -m bot.notifier --once   (the gateway runs the notifier itself)")
