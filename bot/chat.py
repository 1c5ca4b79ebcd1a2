"""One conversational turn, the same for every channel.

Cleans the text, decides the locale (the script the question is written in), converts it
for NLU, sends it to Rasa, and turns Rasa's reply and tracker into messages plus `meta`.
Turns of one sender run one at a time, in order; different senders run concurrently. At most
`MAX_TURNS_IN_FLIGHT` turns run or wait at once in a process: beyond it a turn is answered
"busy" at once (`Turn.shed`), so overload costs a retry, not a timeout per turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from bot import store, turn_journal
from bot.casework import activity as casework_activity
from bot.handoff.gate import HandoffGate
from bot.handoff.hours import StaffHours
from bot.handoff.service import HandoffService
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.sanitize import clean
from common import pii_vault
from common.chat_contract import DATA_SLOTS, NO_ANSWER_KINDS
from common.crypto import assistant_cipher
from common.db import session_scope
from common.i18n import t
from common.scripts import detect_locale, normalize_for_nlu, normalize_locale
from common.settings import Settings
from common.web import DATABASE_DOWN

logger = logging.getLogger(__name__)

# NO_ANSWER_KINDS (reply kinds that give no answer from knowledge) and DATA_SLOTS (form slots
# whose answers say nothing about the resident's script) come from `common.chat_contract`.
__all__ = ["ChatService", "DATA_SLOTS", "NO_ANSWER_KINDS", "Meta", "Turn", "message"]


@dataclass
class Meta:
    intent: Optional[str] = None
    confidence: Optional[float] = None
    fallback: bool = False
    handoff: bool = False
    requested_slot: Optional[str] = None
    case_id: Optional[str] = None
    answer_id: Optional[str] = None


@dataclass
class Turn:
    messages: List[Dict[str, Any]] = field(default_factory=list)
    meta: Meta = field(default_factory=Meta)
    locale: str = "zh_Hans"
    shed: bool = False  # refused at once under overload (the web API answers 503)


def message(
    text: str, buttons: Optional[List[Dict[str, str]]] = None, image_url: Optional[str] = None
) -> Dict[str, Any]:
    """A Message of the web chat contract."""
    result: Dict[str, Any] = {"text": text, "buttons": buttons or []}
    if image_url:
        result["image_url"] = image_url
    return result


def meta_payload(items: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The meta the actions attach to a turn as a custom payload (the last one wins)."""
    for item in reversed(items):
        custom = item.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("meta"), dict):
            return custom["meta"]
    return None


def from_rasa(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Maps Rasa's REST output to contract Messages; an image alone becomes its own message.

    Custom payloads are for the gateway (meta), not for the resident, and are left out.
    """
    messages = []
    for item in items:
        if "custom" in item:
            continue
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in item.get("buttons") or []
        ]
        text = item.get("text") or ""
        image = item.get("image")
        if text or buttons or image:
            messages.append(message(text, buttons, image))
    return messages


class ChatService:
    """Runs turns for any channel against Rasa."""

    def __init__(
        self, settings: Settings, rasa: RasaClient, sessions: sessionmaker, handoffs: Optional[HandoffService] = None
    ):
        self._settings = settings
        # The hand-off gate (bot/handoff/gate.py) runs before and after Rasa when hand-offs are on.
        self._gate = (
            HandoffGate(handoffs, rasa, StaffHours.parse(settings.staff_hours, settings.holidays_file))
            if handoffs is not None else None
        )
        self._rasa = rasa
        self._sessions = sessions
        self._cipher = assistant_cipher(settings)  # seals tokenised values
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: Counter[str] = Counter()
        # sender_id -> (locale, channel) as last stored; bounded by the number of senders seen.
        self._known: Dict[str, tuple[Optional[str], Optional[str]]] = {}
        # sender_id -> the form slot the last reply asked for (only while one is asked).
        self._asking: Dict[str, str] = {}
        self._in_flight = 0

    def stored_locale(self, sender_id: str) -> Optional[str]:
        """The sender's last locale: from this process's cache, else the database."""
        if sender_id not in self._known:
            with session_scope(self._sessions) as session:
                self._known[sender_id] = (store.get_locale(sender_id, session=session), None)
        return self._known[sender_id][0]

    def remember(self, sender_id: str, channel: str, locale: str) -> None:
        """Records the sender's locale and channel; writes only when they change. A database
        that cannot be written (disk full) costs the record, not the turn: tried again next turn."""
        if self._known.get(sender_id) != (locale, channel):
            try:
                with session_scope(self._sessions) as session:
                    store.remember_sender(sender_id, channel, locale, session=session)
            except SQLAlchemyError as exc:
                logger.error("sender %s not recorded: %s", sender_id, type(exc).__name__)
                return
            self._known[sender_id] = (locale, channel)

    def locale_for(self, sender_id: str, text: str, requested: Optional[str]) -> str:
        hint = normalize_locale(requested) or self.stored_locale(sender_id)
        if text.startswith("/"):  # a button payload says nothing about the script
            return hint or self._settings.default_locale
        if hint and self._asking.get(sender_id) in DATA_SLOTS:
            return hint
        return detect_locale(text, hint) or self._settings.default_locale

    async def handle(self, sender_id: str, text: str, channel: str, requested_locale: Optional[str] = None) -> Turn:
        """Runs one turn for `sender_id` and returns the replies with their meta."""
        if self._in_flight >= self._settings.max_turns_in_flight:
            logger.warning("overloaded: %d turns in flight; turn of %s shed", self._in_flight, sender_id)
            locale = normalize_locale(requested_locale) or self._known.get(sender_id, (None, None))[0]
            locale = locale or detect_locale(text, None) or self._settings.default_locale
            busy = [message(t("service.busy", locale))]
            return Turn(messages=busy, meta=Meta(fallback=True), locale=locale, shed=True)
        self._in_flight += 1
        lock = self._locks[sender_id]
        self._users[sender_id] += 1
        try:
            async with lock:
                return await self._handle(sender_id, text, channel, requested_locale)
        except DATABASE_DOWN as exc:
            # The database is unreachable (its token vault, hand-offs): the busy reply, on every
            # channel, instead of an exception (the web API's 500). Nothing reached Rasa unless
            # the failure came after it, and what may fail after it is guarded where it is.
            logger.error("turn of %s failed: database unavailable (%s)", sender_id, type(exc).__name__)
            locale = normalize_locale(requested_locale) or self._known.get(sender_id, (None, None))[0]
            locale = locale or detect_locale(text, None) or self._settings.default_locale
            return Turn(messages=[message(t("service.unavailable", locale))], meta=Meta(fallback=True), locale=locale)
        finally:
            self._in_flight -= 1
            self._users[sender_id] -= 1
            if self._users[sender_id] == 0:  # nobody holds or waits for it: forget the lock
                del self._users[sender_id]
                self._locks.pop(sender_id, None)

    async def _handle(self, sender_id: str, text: str, channel: str, requested_locale: Optional[str]) -> Turn:
        cleaned = clean(text, self._settings.max_message_chars)
        locale = self.locale_for(sender_id, cleaned.text, requested_locale)
        turn = Turn(locale=locale)
        if not cleaned.text:
            turn.messages.append(message(t("input.empty", locale)))
            turn.meta.fallback = True
            return turn
        if not cleaned.has_words:
            turn.messages.append(message(t("input.no_text", locale)))
            turn.meta.fallback = True
            return turn
        self.remember(sender_id, channel, locale)
        if cleaned.truncated:
            turn.messages.append(message(t("input.truncated", locale, limit=self._settings.max_message_chars)))
        if self._gate is not None:
            # Staff read what the resident typed (masked by the hand-off's transcript), not tokens.
            early = await self._gate.before(sender_id, cleaned.text, channel, locale)
            if early is not None:  # an emergency, staff own the conversation, a hand-off, a rating
                turn.messages.extend(early.messages)
                turn.meta.handoff = early.handoff
                return turn
        # ID numbers and phones never reach Rasa: tokens instead, the values sealed here.
        with session_scope(self._sessions) as session:
            typed = pii_vault.tokenize(cleaned.text, sender_id, self._cipher, session=session)
        nlu_text = typed if typed.startswith("/") else normalize_for_nlu(typed)
        try:
            # The text as typed goes along: names and addresses are read from it, not from
            # the NLU form (which is converted to Simplified script).
            metadata = {"locale": locale, "channel": channel, "text": typed}
            replies = await self._send(sender_id, channel, nlu_text, metadata)
        except RasaUnavailable as exc:
            logger.error("turn failed for sender %s: %s", sender_id, exc)
            replies = []
        converted = from_rasa(replies)
        if not converted:
            # Rasa down, or up but its action server down (Rasa then replies with nothing).
            turn.messages.append(message(t("service.unavailable", locale)))
            turn.meta.fallback = True
            return turn
        turn.messages.extend(converted)
        payload = meta_payload(replies)
        if payload is not None:
            turn.meta = self._meta_from_payload(payload)
        else:  # a turn no custom action finished: read the conversation's state instead
            turn.meta = self._meta_from_tracker(await self._rasa.tracker(sender_id))
        if self._gate is not None:
            turn.messages, turn.meta.handoff = await self._gate.after(
                sender_id, cleaned.text, channel, locale, turn.messages, payload, turn.meta.fallback
            )
        casework_activity.after_turn(self._sessions, sender_id, channel, cleaned.text, turn)
        if turn.meta.requested_slot:
            self._asking[sender_id] = turn.meta.requested_slot
        else:
            self._asking.pop(sender_id, None)
        return turn

    async def _send(self, sender_id: str, channel: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Sends the turn to Rasa; the submitting one is journalled (`bot.turn_journal`)."""
        if self._asking.get(sender_id) != "confirm":
            return await self._rasa.send(sender_id, text, metadata)
        try:
            with session_scope(self._sessions) as session:
                turn_id: Optional[int] = turn_journal.begin(sender_id, channel, session=session)
        except SQLAlchemyError as exc:  # disk full: the turn goes on without its safety net
            logger.error("submitting turn of %s not journalled: %s", sender_id, type(exc).__name__)
            turn_id = None
        try:
            return await self._rasa.send(sender_id, text, metadata)
        finally:
            if turn_id is not None:
                try:
                    with session_scope(self._sessions) as session:
                        turn_journal.end(turn_id, session=session)
                except SQLAlchemyError as exc:  # the next start resends its reply: one duplicate at most
                    logger.error("submitting turn of %s not crossed out: %s", sender_id, type(exc).__name__)

    @staticmethod
    def _meta_from_payload(payload: Dict[str, Any]) -> Meta:
        confidence = payload.get("confidence")
        return Meta(
            intent=payload.get("intent"),
            confidence=float(confidence) if confidence is not None else None,
            fallback=bool(payload.get("fallback")),
            requested_slot=payload.get("requested_slot"),
            case_id=payload.get("case_id"),
            answer_id=payload.get("answer_id"),
        )

    @staticmethod
    def _meta_from_tracker(tracker: Optional[Dict[str, Any]]) -> Meta:
        if tracker is None:
            return Meta()
        latest = tracker.get("latest_message") or {}
        intent = latest.get("intent") or {}
        slots = tracker.get("slots") or {}
        confidence = intent.get("confidence")
        return Meta(
            intent=intent.get("name"),
            confidence=float(confidence) if confidence is not None else None,
            fallback=slots.get("answer_kind") in NO_ANSWER_KINDS,
            requested_slot=slots.get("requested_slot"),
            case_id=slots.get("case_id"),
            answer_id=slots.get("answer_id"),
        )
