"""Trackers for the application form: the form's slots, and a message as the gateway sends it."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from actions.constants import APPLICATION_SLOTS

FORM_SLOTS = (
    *APPLICATION_SLOTS, "requested_slot", "form_hint", "form_failures", "application_key", "application_preview",
    "confirmed_at", "case_id", "answer_kind", "answer_id", "region", "pending_topic", "handoff_requested",
)
PREVIEW = {
    "process": {"key": "zhanjiang-low", "region": "湛江", "voltage": "low", "time_limit_working_days": 8,
                "source": "seed 004", "verified": True},
    "stages": [
        {"key": "application", "names": {"zh_Hans": "用电申请", "zh_Hant": "用電申請", "en": "Application"}},
        {"key": "survey_and_connection", "names": {"zh_Hans": "现场勘查和装表接电", "zh_Hant": "現場勘查和裝表接電",
                                                   "en": "Survey and connection"}},
    ],
    "deadline": "2026-12-04",
    "deadline_basis": "statutory_calendar",
    "zero_investment": True,
    "voltage": "low",
    "customer_type": "resident",
    "low_voltage_max_kw": 160,
}


def form_tracker(
    text: str,
    intent: str = "inform",
    confidence: float = 0.95,
    requested: Optional[str] = None,
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[list] = None,
    locale: str = "zh_Hans",
) -> Tracker:
    """A tracker in the middle of `application_form`, whose latest message is `text`."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": entities or [],
        "metadata": {"locale": locale, "channel": "web", "text": text},
    }
    values: Dict[str, Any] = {name: None for name in FORM_SLOTS}
    values.update({"requested_slot": requested, "application_key": "app-test"})
    values.update(slots or {})
    return Tracker(
        "form-sender", values, message, [], False, None, {"name": "application_form"}, "action_listen"
    )
