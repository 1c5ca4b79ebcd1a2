""""Where is my application?": the sender's own cases, or one case after a one-time code.

A resident sees the cases their own conversation created, without any check. A case number
that is not theirs is shown only after they type the one-time code the case API texted to the
phone on the case (cases/codes.py): the reply is the same whether the case exists or not, a
wrong code reveals nothing, and the limits are per requester, so a stranger cannot lock the
applicant out. (The form's slot keeps its old name `id_last4`, which the model was trained on.)
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import replies
from actions.applicant import looks_like_question, wants_to_cancel
from actions.constants import (
    APPLY_PAYLOAD,
    FORM_CASE_CHECK,
    INTENT_CANCEL_FORM,
    KIND_FALLBACK,
    KIND_STATUS,
    REQUESTED_SLOT,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_CASE_CHECK,
    SLOT_ID_LAST4,
)
from actions.context import case_client, channel_of, intent_of, locale_of, raw_text_of, sessions
from actions.faq import answer_if_confident
from actions.meta import finish, with_meta
from actions.receipts import status_text
from actions.submissions import QUEUED, PendingApplication
from common.case_client import CaseApiRejected, CaseApiUnavailable
from common.db import session_scope
from common.i18n import t
from common.identity import halfwidth

logger = logging.getLogger(__name__)

CASE_NUMBER = re.compile(r"(?<!\d)(\d{6})-?(\d{8})-?(\d{4})(?!\d)")
CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
MAX_CODE_INPUT_CHARS = 64
MAX_CHECK_TRIES = 3


def find_case_number(text: str) -> Optional[str]:
    """A case number in the text, with or without its hyphens: 440800-20261124-0001."""
    match = CASE_NUMBER.search(halfwidth(text))
    return "-".join(match.groups()) if match else None


def find_code(text: str) -> Optional[str]:
    """The 6-digit code in a short answer ("123456", "１２３ ４５６", "验证码是123456")."""
    compact = re.sub(r"[\s\-]", "", halfwidth(text[:MAX_CODE_INPUT_CHARS]))
    match = CODE.search(compact)
    return match.group(1) if match else None


def requester_of(tracker: Tracker) -> str:
    """Who asks the case API for a code: `<channel>:<sender id>`."""
    return f"{channel_of(tracker)}:{tracker.sender_id}"


def queued_count(sender_id: str) -> int:
    """Applications of this sender still waiting for the case API (see actions.submissions)."""
    with session_scope(sessions()) as session:
        return len(
            session.execute(
                select(PendingApplication.id).where(
                    PendingApplication.sender_id == sender_id, PendingApplication.status == QUEUED
                )
            ).all()
        )


def _unavailable(dispatcher: CollectingDispatcher, locale: str) -> List[EventType]:
    dispatcher.utter_message(text=t("status.unavailable", locale))
    return [SlotSet(SLOT_ANSWER_KIND, KIND_FALLBACK), SlotSet(SLOT_ANSWER_ID, None)]


class ActionCaseStatus(Action):
    """Lists the sender's cases, or shows the case they named once it is theirs or checked."""

    def name(self) -> str:
        return "action_case_status"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        check = tracker.get_slot(SLOT_CASE_CHECK) or {}
        if tracker.latest_action_name == FORM_CASE_CHECK and not check.get("verified"):
            return [SlotSet(SLOT_ANSWER_KIND, KIND_STATUS)]  # the check failed or was stopped: said so
        named = find_case_number(raw_text_of(tracker)) or (check.get("case_id") if check.get("verified") else None)
        events: List[EventType] = [SlotSet(SLOT_ANSWER_KIND, KIND_STATUS), SlotSet(SLOT_ANSWER_ID, None)]
        try:
            own = await case_client().cases_of(channel_of(tracker), tracker.sender_id)
        except (CaseApiUnavailable, CaseApiRejected):
            if queued_count(tracker.sender_id):
                dispatcher.utter_message(text=t("status.queued", locale))
                return events
            return _unavailable(dispatcher, locale)
        if named is None:
            queued = queued_count(tracker.sender_id)
            if queued:
                dispatcher.utter_message(text=t("status.queued", locale))
            if not own and not queued and looks_like_question(raw_text_of(tracker)):
                # "申请提交了，下一步是干嘛？" from someone with no case is a process question.
                answered = answer_if_confident(dispatcher, tracker)
                if answered is not None:
                    return answered
            if not own:
                dispatcher.utter_message(
                    text=t("status.none", locale),
                    buttons=[{"title": t("status.button.apply", locale), "payload": APPLY_PAYLOAD}],
                )
                return events
            dispatcher.utter_message(text=t("status.own_cases", locale, count=len(own)))
            for case in own[:5]:
                dispatcher.utter_message(text=status_text(case, locale))
            return events
        mine = next((c for c in own if c.get("case_id") == named), None)
        if mine is None and check.get("verified") and check.get("case_id") == named:
            try:
                mine = await case_client().get_case(named)
            except CaseApiUnavailable:
                return _unavailable(dispatcher, locale)
        if mine is not None:
            dispatcher.utter_message(text=status_text(mine, locale))
            return events + [SlotSet(SLOT_CASE_CHECK, None)]
        # Not theirs: a one-time code to the phone on the case before saying anything about it.
        try:
            await case_client().request_code(named, requester_of(tracker))
        except CaseApiUnavailable:
            return _unavailable(dispatcher, locale)
        except CaseApiRejected as exc:
            key = "status.check_locked" if exc.status == 429 else "status.check_failed"
            dispatcher.utter_message(text=t(key, locale))
            return events
        return events + [
            SlotSet(SLOT_CASE_CHECK, {"case_id": named, "tries": 0}),
            FollowupAction(FORM_CASE_CHECK),
        ]


class ValidateCaseCheckForm(Action):
    """Checks the one-time code the resident types with the case API."""

    def name(self) -> str:
        return "validate_case_check_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        locale = locale_of(tracker)
        check = dict(tracker.get_slot(SLOT_CASE_CHECK) or {})
        if tracker.get_slot(REQUESTED_SLOT) != SLOT_ID_LAST4 or not check.get("case_id"):
            return [SlotSet(SLOT_ID_LAST4, None)]  # activation: ask
        text = raw_text_of(tracker)
        intent, confidence = intent_of(tracker)
        if wants_to_cancel(text) or (intent == INTENT_CANCEL_FORM and confidence >= 0.5):
            dispatcher.utter_message(text=t("status.check_cancelled", locale))
            return self.stop()
        code = find_code(text)
        if code is None:
            dispatcher.utter_message(text=t("status.code_format", locale))
            return [SlotSet(SLOT_ID_LAST4, None)]
        try:
            verified = await case_client().verify(check["case_id"], code, requester_of(tracker))
        except CaseApiUnavailable:
            dispatcher.utter_message(text=t("status.unavailable", locale))
            return self.stop()
        except CaseApiRejected as exc:
            key = "status.check_locked" if exc.status == 429 else "status.check_failed"
            dispatcher.utter_message(text=t(key, locale))
            return self.stop()
        if verified:
            return [SlotSet(SLOT_ID_LAST4, "verified"), SlotSet(SLOT_CASE_CHECK, {**check, "verified": True})]
        check["tries"] = int(check.get("tries", 0)) + 1
        logger.info("case check failed for sender %s (try %s)", tracker.sender_id, check["tries"])
        if check["tries"] >= MAX_CHECK_TRIES:
            dispatcher.utter_message(text=t("status.check_failed", locale))
            return self.stop()
        dispatcher.utter_message(text=t("status.code_wrong", locale))
        return [SlotSet(SLOT_ID_LAST4, None), SlotSet(SLOT_CASE_CHECK, check)]

    @staticmethod
    def stop() -> List[EventType]:
        return [SlotSet(SLOT_ID_LAST4, None), SlotSet(SLOT_CASE_CHECK, None), SlotSet(REQUESTED_SLOT, None),
                ActiveLoop(None)]


class ActionAskIdLast4(Action):
    """Asks for the one-time code texted to the phone on the case."""

    def name(self) -> str:
        return "action_ask_id_last4"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        locale = locale_of(tracker)
        dispatcher.utter_message(
            text=t("status.ask_code", locale), buttons=[replies.human_button(locale)]
        )
        return finish(dispatcher, tracker, [SlotSet(REQUESTED_SLOT, SLOT_ID_LAST4)])
