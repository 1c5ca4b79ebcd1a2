"""The resident names their city: remember it, and finish what was waiting for it."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.bill import send_bill
from actions.constants import (
    KIND_CHITCHAT,
    KIND_FALLBACK,
    PENDING_BILL,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_PENDING_BILL,
    SLOT_PENDING_TOPIC,
)
from actions.context import knowledge, locale_of
from actions.faq import answer_entry, region_for_turn
from actions.meta import with_meta
from common.i18n import t


class ActionSetRegion(Action):
    """Stores the region; answers the pending question, or re-answers the last regional one."""

    def name(self) -> str:
        return "action_set_region"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        kb = knowledge()
        locale = locale_of(tracker)
        region, events = region_for_turn(kb, tracker, remembered=False)
        if region is None:
            dispatcher.utter_message(text=t("region.unknown", locale))
            return [SlotSet(SLOT_ANSWER_KIND, KIND_FALLBACK), SlotSet(SLOT_ANSWER_ID, None)]
        pending = tracker.get_slot(SLOT_PENDING_TOPIC)
        if pending == PENDING_BILL and tracker.get_slot(SLOT_PENDING_BILL):
            return events + send_bill(dispatcher, kb, tracker.get_slot(SLOT_PENDING_BILL), region, locale)
        topic = pending or tracker.get_slot(SLOT_ANSWER_ID)
        entry = kb.by_id.get(topic or "")
        # Re-answer a topic whose answer depends on the region (one region's rule included).
        if entry is not None and (len(entry.answers) > 1 or entry.answers[0].covers != "national"):
            return events + answer_entry(dispatcher, kb, entry, region, locale)
        dispatcher.utter_message(text=t("region.noted", locale, region=kb.gazetteer.display(region.name, locale)))
        return events + [
            SlotSet(SLOT_ANSWER_KIND, KIND_CHITCHAT),
            SlotSet(SLOT_ANSWER_ID, None),
            SlotSet(SLOT_PENDING_BILL, None),
        ]

