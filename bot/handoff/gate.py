"""Where a chat turn meets the hand-off: before Rasa (triage, routing to staff, rating) and after.

`ChatService` calls `before()` first: it answers the turn itself, without Rasa, when
- the message is an emergency (safety advice at once and an urgent hand-off),
- staff own the conversation (the text goes to the transcript and to staff; the bot is
  silent; while waiting the resident hears their place in the queue),
- the resident asks for a person, reports a long outage (priority high), or leaves the queue,
- the resident is rating a closed hand-off (score buttons, then solved? / a comment).
Otherwise Rasa answers, and `after()` opens the hand-off an action asked for (the model's
`human_handoff` intent, a high-voltage lead) and offers a person after two fallbacks in a row
or complaint words. `meta.handoff` is true on every turn while staff own the conversation.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy.exc import SQLAlchemyError

from bot.handoff import models as m
from bot.handoff.hours import CHINA, StaffHours
from bot.handoff.service import HandoffService, HistoryItem, HistoryProvider, comment_buttons
from bot.handoff.triage import COMPLAINT, EMERGENCY, OUTAGE, REQUEST, triage
from bot.rasa_client import RasaClient
from common import pii_vault
from common.chat_contract import (
    CANCEL_PAYLOAD,
    HUMAN_PAYLOAD,
    LEAVE_QUEUE_PAYLOAD,
    META_HANDOFF_REQUEST,
    RATE_PAYLOAD_PREFIX,
    RATE_SKIP_PAYLOAD,
    RATE_SOLVED_PAYLOAD,
    RATE_UNSOLVED_PAYLOAD,
    REASON_ASKED,
    REASON_FALLBACKS,
    REASON_LEAD,
)
from common.i18n import format_day, t

logger = logging.getLogger(__name__)
HISTORY_EVENTS = 40
LEAVE_COMMANDS = frozenset({LEAVE_QUEUE_PAYLOAD, CANCEL_PAYLOAD, "/cancel"})

Message = Dict[str, Any]


def _msg(text: str, buttons: Optional[List[Dict[str, str]]] = None) -> Message:
    return {"text": text, "buttons": buttons or []}


def human_button(locale: str) -> Dict[str, str]:
    return {"title": t("button.human", locale), "payload": HUMAN_PAYLOAD}


def leave_button(locale: str) -> Dict[str, str]:
    return {"title": t("handoff.leave_button", locale), "payload": LEAVE_QUEUE_PAYLOAD}


class GateReply:
    """What `before()` decided: the messages, and whether staff own the conversation."""

    def __init__(self, messages: List[Message], handoff: bool):
        self.messages = messages
        self.handoff = handoff


class HandoffGate:
    def __init__(self, service: HandoffService, rasa: Optional[RasaClient], hours: StaffHours):
        self._service = service
        self._rasa = rasa
        self._hours = hours
        self._fallbacks: Dict[str, int] = defaultdict(int)

    # --- before Rasa ----------------------------------------------------------------------

    async def before(self, sender_id: str, text: str, channel: str, locale: str) -> Optional[GateReply]:
        found = triage(text)
        open_handoff = await self._service.open_for(sender_id)
        owned = open_handoff is not None and (open_handoff.state == m.STATE_ACTIVE or not open_handoff.deferred)
        if found is not None and found.kind == EMERGENCY:
            return await self._emergency(sender_id, text, channel, locale, open_handoff)
        if open_handoff is not None and (text in LEAVE_COMMANDS if owned else text == LEAVE_QUEUE_PAYLOAD):
            await self._service.cancel(sender_id)
            self._fallbacks.pop(sender_id, None)
            return GateReply([_msg(t("handoff.left", locale))], handoff=False)
        if owned and open_handoff is not None:
            if found is not None and found.kind == REQUEST:  # "转人工" again while waiting: just the place
                return await self._waiting_reply(open_handoff, locale)
            await self._service.resident_message(sender_id, text)
            if open_handoff.state == m.STATE_ACTIVE:
                return GateReply([], handoff=True)  # staff answer; the bot stays silent
            return await self._waiting_reply(open_handoff, locale)
        rated = await self._rating(sender_id, text, locale, found is None)
        if rated is not None:
            return rated
        if found is not None and found.kind in (REQUEST, OUTAGE):
            intro = [t("handoff.outage", locale)] if found.kind == OUTAGE else []
            return await self._open(sender_id, channel, locale, found.reason, found.priority, intro=intro, said=text)
        return None

    async def _emergency(
        self, sender_id: str, text: str, channel: str, locale: str, open_handoff: Optional[m.Handoff]
    ) -> GateReply:
        if open_handoff is None:  # the words that raised it are the transcript's last line
            handoff = await self._service.request(
                sender_id, channel, locale, "emergency", "urgent", emergency=True,
                history=self._history_with(sender_id, text),
            )
        else:  # an open hand-off becomes urgent and jumps the queue
            handoff = await self._service.request(sender_id, channel, locale, "emergency", "urgent", emergency=True)
            await self._service.resident_message(sender_id, text)
        logger.warning("emergency hand-off %s for sender %s", handoff.ticket, sender_id)
        return GateReply([_msg(t("handoff.emergency", locale, ticket=handoff.ticket))], handoff=True)

    async def _open(
        self, sender_id: str, channel: str, locale: str, reason: str, priority: str,
        intro: Optional[List[str]] = None, lead: bool = False, said: str = "",
    ) -> GateReply:
        """Opens the hand-off; `said` is the resident's message that asked (it never reached Rasa)."""
        now = dt.datetime.now(dt.timezone.utc)
        deferred = lead or not self._hours.is_open(now)
        handoff = await self._service.request(
            sender_id, channel, locale, reason, priority, lead=lead, deferred=deferred,
            history=self._history_with(sender_id, said),
        )
        self._fallbacks.pop(sender_id, None)
        lines = list(intro or [])
        if lead:
            return GateReply([_msg("\n".join([*lines, t("handoff.lead", locale, ticket=handoff.ticket)]))], False)
        if deferred:
            when = self._when(self._hours.next_open(now), locale)
            lines.append(t("handoff.off_hours", locale, when=when, ticket=handoff.ticket))
            return GateReply([_msg("\n".join(lines), [leave_button(locale)])], handoff=False)
        place = await self._service.position(handoff)
        lines.append(t("handoff.queued", locale, ticket=handoff.ticket, place=place.place, minutes=place.minutes))
        return GateReply([_msg("\n".join(lines), [leave_button(locale)])], handoff=True)

    async def _waiting_reply(self, handoff: m.Handoff, locale: str) -> GateReply:
        place = await self._service.position(handoff)
        text = t("handoff.waiting", locale, place=place.place, minutes=place.minutes)
        return GateReply([_msg(text, [leave_button(locale)])], handoff=True)

    async def _rating(self, sender_id: str, text: str, locale: str, plain: bool) -> Optional[GateReply]:
        """Takes the rating buttons' answers, and a comment typed after the score."""
        is_rate_payload = text.startswith(RATE_PAYLOAD_PREFIX)
        step = await self._service.rating_step(sender_id)
        if step is None:
            return GateReply([_msg(t("handoff.rate.thanks", locale))], False) if is_rate_payload else None
        if text in (RATE_SOLVED_PAYLOAD, RATE_UNSOLVED_PAYLOAD):
            await self._service.rate(sender_id, solved=text == RATE_SOLVED_PAYLOAD)
            return GateReply([_msg(t("handoff.rate.thanks", locale))], False)
        if text == RATE_SKIP_PAYLOAD:
            await self._service.rate(sender_id)
            return GateReply([_msg(t("handoff.rate.thanks", locale))], False)
        if is_rate_payload:
            try:
                score = int(text[len(RATE_PAYLOAD_PREFIX):])
                rating = await self._service.rate(sender_id, score=score)
            except ValueError:
                return None
            if rating is None:
                return None
            lines = [t("handoff.rate.comment", locale)]
            if rating.flagged:
                lines.insert(0, t("handoff.rate.callback", locale))
            return GateReply([_msg("\n".join(lines), comment_buttons(locale))], False)
        if step == "comment" and plain and not text.startswith("/"):
            await self._service.rate(sender_id, comment=text)
            return GateReply([_msg(t("handoff.rate.thanks", locale))], False)
        if step == "comment":
            await self._service.end_rating(sender_id)
        return None

    # --- after Rasa -----------------------------------------------------------------------

    async def after(
        self, sender_id: str, text: str, channel: str, locale: str, messages: List[Message],
        payload: Optional[Dict[str, Any]], fallback: bool,
    ) -> Tuple[List[Message], bool]:
        """Returns the turn's messages (possibly changed) and whether staff own the conversation."""
        request = (payload or {}).get(META_HANDOFF_REQUEST)
        if isinstance(request, dict):
            reason = str(request.get("reason") or REASON_ASKED)
            if reason == REASON_LEAD:
                reply = await self._open(sender_id, channel, locale, reason, "normal", lead=True)
                return messages + reply.messages, False
            reply = await self._open(sender_id, channel, locale, reason, str(request.get("priority") or "normal"))
            return reply.messages, reply.handoff
        found = triage(text)
        offer = False
        if fallback:
            self._fallbacks[sender_id] += 1
            offer = self._fallbacks[sender_id] >= 2
        else:
            self._fallbacks.pop(sender_id, None)
        if found is not None and found.kind == COMPLAINT:
            offer = True
        try:
            open_handoff = await self._service.open_for(sender_id)
            if open_handoff is not None:  # waiting outside staff hours, the bot helping meanwhile
                for item in messages:
                    if item.get("text"):
                        await self._service.bot_message(sender_id, str(item["text"]))
                return messages, False
        except SQLAlchemyError as exc:
            # Rasa has answered (and may have created a case: its receipt is in `messages`);
            # losing the transcript copy must not turn that answer into an error.
            logger.error("hand-off of %s not checked after the turn: %s", sender_id, type(exc).__name__)
        if offer:
            reason = REASON_FALLBACKS if fallback else found.reason if found else REASON_FALLBACKS
            logger.info("hand-off offered to %s (%s)", sender_id, reason)
            messages = [*messages, _msg(t("handoff.offer", locale), [human_button(locale)])]
        return messages, False

    # --- helpers --------------------------------------------------------------------------

    def _history_with(self, sender_id: str, said: str) -> HistoryProvider:
        """A provider of the transcript's history: the conversation in Rasa, then `said` (the
        words that asked, which never reached Rasa). Fetched in the background, so a busy Rasa
        does not delay the hand-off."""
        when = dt.datetime.now(dt.timezone.utc)

        async def provide() -> List[HistoryItem]:
            items = await self._history(sender_id)
            if said and not said.startswith("/"):
                items.append((m.ROLE_RESIDENT, said, when))
            return items

        return provide

    async def _history(self, sender_id: str) -> List[HistoryItem]:
        """The conversation so far from Rasa's tracker, as (role, text, when), for the staff transcript."""
        if self._rasa is None:
            return []
        history: List[HistoryItem] = []
        for event in (await self._rasa.events(sender_id) or [])[-HISTORY_EVENTS:]:
            kind = event.get("event")
            try:
                when: Optional[dt.datetime] = dt.datetime.fromtimestamp(float(event["timestamp"]), dt.timezone.utc)
            except (KeyError, TypeError, ValueError):
                when = None
            if kind == "user":
                typed = (event.get("metadata") or {}).get("text") or event.get("text") or ""
                if typed and not str(typed).startswith("/"):
                    history.append((m.ROLE_RESIDENT, pii_vault.label_tokens(str(typed)), when))
            elif kind == "bot" and event.get("text"):
                history.append((m.ROLE_BOT, pii_vault.label_tokens(str(event["text"])), when))
        return history

    @staticmethod
    def _when(moment: dt.datetime, locale: str) -> str:
        local = moment.astimezone(CHINA)
        return f"{format_day(local.date(), locale, 'full')} {local:%H:%M}"
