"""Answers FAQ questions from the knowledge base, region-aware, behind its own confidence gate."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.constants import (
    ENTITY_REGION,
    FAQ_INTENT_PREFIX,
    KIND_ASK_REGION,
    KIND_FALLBACK,
    KIND_KNOWLEDGE,
    KIND_SUGGEST,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_PENDING_TOPIC,
    SLOT_REGION,
)
from actions.context import entity_value, gate, intent_ranking, knowledge, locale_of, text_of
from actions.meta import with_meta
from common.i18n import t
from knowledge.regions import Region, resolve
from knowledge.retrieval import ANSWER, SUGGEST, Decision, blend, decide
from knowledge.schema import Entry
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)


def region_for_turn(
    kb: KnowledgeBase, tracker: Tracker, remembered: bool = True
) -> tuple[Optional[Region], List[EventType]]:
    """The region of this turn: a button's entity, a place named in the text, or the one
    the resident named earlier. A newly named region is remembered in the `region` slot."""
    named = entity_value(tracker, ENTITY_REGION)
    region = kb.gazetteer.get(named) if named else None
    if region is None and not text_of(tracker).startswith("/"):
        region = kb.gazetteer.find(text_of(tracker))
    if region is not None:
        events: List[EventType] = []
        if tracker.get_slot(SLOT_REGION) != region.name:
            events.append(SlotSet(SLOT_REGION, region.name))
        return region, events
    earlier = tracker.get_slot(SLOT_REGION) if remembered else None
    return (kb.gazetteer.get(earlier) if earlier else None), []


def answer_entry(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, entry: Entry, region: Optional[Region], locale: str
) -> List[EventType]:
    """Sends the entry's answer for `region`, or the general rule and a question for the city."""
    resolution = resolve(entry, region)
    offer = [replies.apply_button(locale)] if entry.id in OFFER_APPLY else []
    if resolution.answer is not None:
        if resolution.applies:
            text = replies.answer_text(resolution.answer, locale)
        else:  # one region's rule only: said to be that region's, never the resident's
            text = replies.only_region_text(resolution.answer, kb.gazetteer, locale, resolution.unknown_region)
        dispatcher.utter_message(text=text, buttons=offer)
        return [
            SlotSet(SLOT_ANSWER_KIND, KIND_KNOWLEDGE),
            SlotSet(SLOT_ANSWER_ID, entry.id),
            SlotSet(SLOT_PENDING_TOPIC, None),
        ]
    assert entry.general is not None  # the schema requires it for multi-region entries
    if resolution.unknown_region:
        follow_up = t("faq.unknown_region", locale, region=kb.gazetteer.display(resolution.unknown_region, locale))
    else:
        follow_up = t("faq.ask_region", locale)
    dispatcher.utter_message(
        text=replies.answer_text(entry.general, locale) + "\n" + follow_up,
        buttons=replies.region_buttons(entry, kb.gazetteer, locale) + offer,
    )
    return [
        SlotSet(SLOT_ANSWER_KIND, KIND_KNOWLEDGE if resolution.unknown_region else KIND_ASK_REGION),
        SlotSet(SLOT_ANSWER_ID, entry.id),
        SlotSet(SLOT_PENDING_TOPIC, None if resolution.unknown_region else entry.id),
    ]


def fallback(dispatcher: CollectingDispatcher, locale: str) -> List[EventType]:
    """Says honestly that no answer was found and offers a person."""
    dispatcher.utter_message(text=t("faq.fallback", locale), buttons=[replies.human_button(locale)])
    return [SlotSet(SLOT_ANSWER_KIND, KIND_FALLBACK), SlotSet(SLOT_ANSWER_ID, None)]


class ActionAnswerFaq(Action):
    """Ranks entries (DIET + lexical), then answers, offers choices, or falls back."""

    def name(self) -> str:
        return "action_answer_faq"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        return answer_question(dispatcher, tracker)


# Topics whose answer ends with the offer to apply right here (the 在线申请用电 button).
OFFER_APPLY = frozenset({"how_to_apply", "zero_document", "required_documents"})

# Overruling NLU's choice of a non-FAQ intent takes more evidence than the gate's own answer
# threshold: the blended score must reach this too.
OVERRIDE_MIN_SCORE = 0.55


def faq_decision(kb: KnowledgeBase, tracker: Tracker, among_faq_only: bool = False) -> Decision:
    """The gate's decision on the latest message: DIET's FAQ confidences blended with lexical
    similarity. `among_faq_only` rescales DIET's FAQ confidences to sum to one, for a message
    whose top intent is not a FAQ one ("我想给新开的店申请用电，去哪里办" → apply_connection)
    but which may still be a question the knowledge base answers."""
    diet = {
        item["name"][len(FAQ_INTENT_PREFIX):]: float(item.get("confidence") or 0.0)
        for item in intent_ranking(tracker)
        if str(item.get("name", "")).startswith(FAQ_INTENT_PREFIX)
    }
    total = sum(diet.values())
    if among_faq_only and total > 0:
        diet = {entry_id: confidence / total for entry_id, confidence in diet.items()}
    candidates = blend(diet, kb.index.scores(text_of(tracker)), gate())
    decision = decide(candidates, gate())
    logger.info("faq decision %s %s", decision.kind, [(c.entry_id, round(c.score, 3)) for c in candidates[:3]])
    return decision


def answer_if_confident(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """Answers a question the knowledge base clearly answers although NLU chose another
    intent (applying, status); None when the gate would not answer it."""
    kb = knowledge()
    decision = faq_decision(kb, tracker, among_faq_only=True)
    if decision.kind != ANSWER or decision.candidates[0].score < OVERRIDE_MIN_SCORE:
        return None
    region, events = region_for_turn(kb, tracker)
    return events + answer_entry(dispatcher, kb, kb.by_id[decision.candidates[0].entry_id], region, locale_of(tracker))


def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
    """Answers the latest message from the knowledge base, behind the gate."""
    kb = knowledge()
    locale = locale_of(tracker)
    text = text_of(tracker)
    region, events = region_for_turn(kb, tracker)
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    chosen = kb.entry_for_intent(intent) if text.startswith("/") else None
    if chosen is not None:  # a button the resident pressed
        return events + answer_entry(dispatcher, kb, chosen, region, locale)

    decision = faq_decision(kb, tracker)
    if decision.kind == ANSWER:
        entry = kb.by_id[decision.candidates[0].entry_id]
        return events + answer_entry(dispatcher, kb, entry, region, locale)
    if decision.kind == SUGGEST:
        buttons = [
            {"title": kb.by_id[c.entry_id].title.get(locale), "payload": replies.faq_payload(kb.by_id[c.entry_id])}
            for c in decision.candidates
        ]
        buttons.append(replies.human_button(locale))
        dispatcher.utter_message(text=t("faq.suggest", locale), buttons=buttons)
        return events + [SlotSet(SLOT_ANSWER_KIND, KIND_SUGGEST), SlotSet(SLOT_ANSWER_ID, None)]
    return events + fallback(dispatcher, locale)
