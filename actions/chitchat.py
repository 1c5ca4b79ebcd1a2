"""Greetings, thanks, goodbyes, affirm/deny, help, out-of-scope, fallback and hand-off requests."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.constants import (
    APPLY_PAYLOAD,
    KIND_CHITCHAT,
    KIND_FALLBACK,
    KIND_HANDOFF,
    KIND_OUT_OF_SCOPE,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_HANDOFF_REQUESTED,
    SLOT_PENDING_TOPIC,
    STATUS_PAYLOAD,
)
from actions.context import gate, knowledge, locale_of, text_of
from actions.faq import answer_entry, answer_question, region_for_turn
from actions.meta import with_meta
from common.i18n import t
from knowledge.retrieval import rescue

# Small talk is short and formulaic: real greetings and thanks score above 0.9. Below this,
# the message (often keyboard mash or a question) goes through the FAQ gate instead.
CHITCHAT_MIN_CONFIDENCE = 0.8

# The catalog key of the reply to each small-talk intent.
REPLY_KEYS = {
    "greet": "chat.greet",
    "goodbye": "chat.goodbye",
    "thank": "chat.thank",
    "affirm": "chat.affirm",
    "deny": "chat.deny",
    "bot_challenge": "chat.bot_challenge",
    "help": "chat.help",
}


class ActionRespond(Action):
    """Replies to small talk in the resident's language."""

    def name(self) -> str:
        return "action_respond"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        intent = tracker.latest_message.get("intent") or {}
        if float(intent.get("confidence") or 0.0) < CHITCHAT_MIN_CONFIDENCE:
            return answer_question(dispatcher, tracker)
        key = REPLY_KEYS.get(intent.get("name") or "", "chat.help")
        buttons = []
        if key in {"chat.greet", "chat.help"}:
            buttons = [
                {"title": t("button.example_process", locale), "payload": "/faq_lv_process"},
                {"title": t("button.example_tariff", locale), "payload": "/faq_residential_tiered_tariff"},
                {"title": t("button.example_documents", locale), "payload": "/faq_required_documents"},
                {"title": t("button.apply", locale), "payload": APPLY_PAYLOAD},
                {"title": t("button.status", locale), "payload": STATUS_PAYLOAD},
                replies.human_button(locale),
            ]
        dispatcher.utter_message(text=t(key, locale), buttons=buttons)
        return [SlotSet(SLOT_ANSWER_KIND, KIND_CHITCHAT), SlotSet(SLOT_ANSWER_ID, None)]


class ActionOutOfScope(Action):
    """Declines questions outside electricity customer service, and says what it can do.

    A message that matches a knowledge entry almost word for word is answered instead: the
    model is sometimes over-confident on out-of-scope for short in-domain questions.
    """

    def name(self) -> str:
        return "action_out_of_scope"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        kb = knowledge()
        saved = rescue(kb.index.scores(text_of(tracker)), gate())
        if saved is not None:
            region, events = region_for_turn(kb, tracker)
            return events + answer_entry(dispatcher, kb, kb.by_id[saved], region, locale)
        dispatcher.utter_message(text=t("oos.reply", locale), buttons=[replies.human_button(locale)])
        return [
            SlotSet(SLOT_ANSWER_KIND, KIND_OUT_OF_SCOPE),
            SlotSet(SLOT_ANSWER_ID, None),
            SlotSet(SLOT_PENDING_TOPIC, None),
        ]


class ActionFallback(Action):
    """The dialogue fallback: no rule fits the conversation."""

    def name(self) -> str:
        return "action_fallback"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        dispatcher.utter_message(text=t("faq.fallback", locale), buttons=[replies.human_button(locale)])
        return [SlotSet(SLOT_ANSWER_KIND, KIND_FALLBACK), SlotSet(SLOT_ANSWER_ID, None)]


class ActionHumanHandoff(Action):
    """Records the request for a person (the model's `human_handoff` intent).

    Setting `handoff_requested` puts `handoff_request` in the turn's meta: the gateway opens
    the hand-off and answers with the resident's place in the queue instead of this reply.
    The hotline text stays as the reply for a gateway without hand-off.
    """

    def name(self) -> str:
        return "action_human_handoff"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        dispatcher.utter_message(text=t("handoff.hotline", locale))
        return [
            SlotSet(SLOT_HANDOFF_REQUESTED, True),
            SlotSet(SLOT_ANSWER_KIND, KIND_HANDOFF),
            SlotSet(SLOT_ANSWER_ID, None),
        ]
