"""The turn's `meta` for the gateway, sent by the action as a custom payload.

The gateway would otherwise read the tracker after each turn, which makes Rasa replay the
conversation from the tracker store a second time. The action already knows everything:
the intent it was called for, and the slots after its own events.
"""

from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import NO_ANSWER_KINDS, SLOT_ANSWER_ID, SLOT_ANSWER_KIND

META_KEY = "meta"


def turn_meta(tracker: Tracker, events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Meta of this turn: the tracker's slots with this action's slot events applied."""
    slots = dict(tracker.slots)
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
    intent = tracker.latest_message.get("intent") or {}
    return {
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "fallback": slots.get(SLOT_ANSWER_KIND) in NO_ANSWER_KINDS,
        "requested_slot": slots.get("requested_slot"),
        "case_id": slots.get("case_id"),
        "answer_id": slots.get(SLOT_ANSWER_ID),
    }


def finish(dispatcher: CollectingDispatcher, tracker: Tracker, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Sends the turn's meta as the last (invisible) message and returns `events`."""
    dispatcher.utter_message(json_message={META_KEY: turn_meta(tracker, events)})
    return events


RunMethod = Callable[[Any, CollectingDispatcher, Tracker, Dict[str, Any]], Awaitable[List[Dict[str, Any]]]]


def with_meta(run: RunMethod) -> RunMethod:
    """Decorates an action's `run` so that every turn ends with its meta payload."""

    @functools.wraps(run)
    async def wrapper(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        return finish(dispatcher, tracker, await run(self, dispatcher, tracker, domain))

    return wrapper
