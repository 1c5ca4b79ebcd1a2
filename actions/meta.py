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

from common.chat_contract import (
    META_ANSWER_ID,
    META_CASE_ID,
    META_CONFIDENCE,
    META_FALLBACK,
    META_HANDOFF_REQUEST,
    META_INTENT,
    META_KEY,
    META_REQUESTED_SLOT,
    NO_ANSWER_KINDS,
    REASON_ASKED,
    REQUESTED_SLOT,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_CASE_ID,
    SLOT_HANDOFF_REQUESTED,
)


def turn_meta(tracker: Tracker, events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Meta of this turn: the tracker's slots with this action's slot events applied.

    An action that sets `handoff_requested` asks the gateway for a person (`handoff_request`);
    the gateway opens the hand-off and sets `meta.handoff` itself.
    """
    slots = dict(tracker.slots)
    asked = False
    for event in events:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
            asked = asked or (event["name"] == SLOT_HANDOFF_REQUESTED and event["value"] is True)
    intent = tracker.latest_message.get("intent") or {}
    meta = {
        META_INTENT: intent.get("name"),
        META_CONFIDENCE: intent.get("confidence"),
        META_FALLBACK: slots.get(SLOT_ANSWER_KIND) in NO_ANSWER_KINDS,
        META_REQUESTED_SLOT: slots.get(REQUESTED_SLOT),
        META_CASE_ID: slots.get(SLOT_CASE_ID),
        META_ANSWER_ID: slots.get(SLOT_ANSWER_ID),
    }
    if asked:
        meta[META_HANDOFF_REQUEST] = {"reason": REASON_ASKED}
    return meta


def finish(
    dispatcher: CollectingDispatcher, tracker: Tracker, events: List[Dict[str, Any]],
    extra: Dict[str, Any] | None = None,
) -> List[Dict[str, Any]]:
    """Sends the turn's meta (with `extra` keys) as the last (invisible) message and returns `events`."""
    dispatcher.utter_message(json_message={META_KEY: {**turn_meta(tracker, events), **(extra or {})}})
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
