"""Builds the hand-off service for the gateway's lifespan, with its listeners and lookups."""

from __future__ import annotations

from typing import Any

from bot.handoff import models  # noqa: F401  (registers the tables before create_all)
from bot.handoff.canned import CannedAnswers
from bot.handoff.rasa_pause import RasaPause
from bot.handoff.service import HandoffService


def build_handoffs(state: Any) -> HandoffService:
    """`state` is the app's state after sessions, knowledge, rasa and case_client are set."""

    def wake() -> None:
        telegram = getattr(state, "telegram", None)
        if telegram is not None:
            telegram.wake_delivery()

    service = HandoffService(
        state.sessions,
        cases=state.case_client.cases_of,
        canned_text=CannedAnswers(state.knowledge, state.rasa),
        on_enqueued=wake,
    )
    service.add_listener(RasaPause(state.rasa))
    return service
