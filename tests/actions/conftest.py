"""Trackers and dispatchers for running actions directly, without Rasa."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import install_knowledge

SLOTS = ("region", "answer_kind", "answer_id", "pending_topic", "pending_bill", "handoff_requested")


@pytest.fixture(autouse=True)
def _knowledge(kb) -> None:
    install_knowledge(kb)


def make_tracker(
    text: str,
    intent: str,
    confidence: float = 0.95,
    ranking: Optional[List[Dict[str, Any]]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    locale: str = "zh_Hans",
) -> Tracker:
    """A tracker whose latest message is `text`, classified as `intent`."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": entities or [],
        "metadata": {"locale": locale, "channel": "test"},
    }
    values = {name: None for name in SLOTS}
    values.update(slots or {})
    return Tracker("test-sender", values, message, [], False, None, {}, "action_listen")


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def sent_text(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m["text"] for m in dispatcher.messages if m.get("text"))


def sent_buttons(dispatcher: CollectingDispatcher) -> List[Dict[str, str]]:
    return [b for m in dispatcher.messages for b in m.get("buttons") or []]
