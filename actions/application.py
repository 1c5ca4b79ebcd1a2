"""Submits a confirmed application to the case API and gives the receipt.

Runs when `application_form` ends. A cancelled form ends with nothing to submit. Otherwise
the case is created with the form's idempotency key (a retry, or a double click, cannot make
a second case); when the case API is down the application is queued
(`actions.submissions`) and delivered exactly once when it is back. It is written down
before the call (`actions.submitting`), so a crash mid-call is delivered by the queue too.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import replies
from actions.constants import (
    APPLY_PAYLOAD,
    FORM_APPLICATION,
    KIND_FORM,
    SLOT_ADDRESS,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_APPLICATION_KEY,
    SLOT_CAPACITY,
    SLOT_CASE_ID,
    SLOT_CONFIRM,
    SLOT_CONFIRMED_AT,
    SLOT_CUSTOMER_TYPE,
    SLOT_ID_NUMBER,
    SLOT_LINKED,
    SLOT_NAME,
    SLOT_PHONE,
)
from actions.context import case_client, channel_of, cipher, locale_of, raw_text_of, sessions, settings, unseal
from actions.faq import answer_question
from actions.forms.application import reset_events
from actions.meta import finish, with_meta
from actions.receipts import receipt_messages
from actions.submitting import begin, defer, landed, receipt_sent, refused
from common.case_client import CaseApiRejected, CaseApiUnavailable
from common.chat_contract import META_HANDOFF_REQUEST, REASON_LEAD
from common.db import session_scope
from common.i18n import t
from common.identity import find_id_number, find_mobile
from common.timeouts import SUBMIT_RETRIES

logger = logging.getLogger(__name__)


def application_body(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The case API's request body from the form's slots; None if a value is missing."""
    id_number, phone = unseal(tracker.get_slot(SLOT_ID_NUMBER)), unseal(tracker.get_slot(SLOT_PHONE))
    name, address = tracker.get_slot(SLOT_NAME), tracker.get_slot(SLOT_ADDRESS)
    capacity, customer_type = tracker.get_slot(SLOT_CAPACITY), tracker.get_slot(SLOT_CUSTOMER_TYPE)
    if not all((id_number, phone, name, address, capacity, customer_type)):
        return None
    return {
        "name": name,
        "id_number": id_number,
        "phone": phone,
        "address": address,
        "customer_type": customer_type,
        "capacity_kw": float(capacity),
        "channel": channel_of(tracker),
        "sender_id": tracker.sender_id,
        "locale": locale_of(tracker),
        "consent": {"registry": True, "esign": True, "confirmed_at": tracker.get_slot(SLOT_CONFIRMED_AT)},
        "linked": list(tracker.get_slot(SLOT_LINKED) or []),
    }


def journal(body: Dict[str, Any], key: str, sender_id: str, locale: str) -> Optional[Dict[str, Any]]:
    """Writes the application down before the call (`actions.submitting`) and returns the
    body to submit; None if the database cannot be written (disk full): the turn goes on
    without the crash safety net."""
    try:
        with session_scope(sessions()) as session:
            return begin(body, key, sender_id, body["channel"], locale, cipher(), settings().rasa_action_timeout_s,
                         session=session)
    except SQLAlchemyError as exc:
        logger.error("application of %s not journalled: %s", sender_id, type(exc).__name__)
        return None


def already_receipted(key: str) -> bool:
    """`actions.submitting.receipt_sent`; False when the database cannot be read (a second
    receipt is better than none)."""
    try:
        with session_scope(sessions()) as session:
            return receipt_sent(key, session=session)
    except SQLAlchemyError as exc:
        logger.error("receipt of %s not looked up: %s", key[:12], type(exc).__name__)
        return False


def settle(outcome: Callable[..., None], key: str, value: Any) -> None:
    """Marks the journal row; a failure leaves it to the queue's worker (same idempotency key)."""
    try:
        with session_scope(sessions()) as session:
            outcome(key, value, session=session)
    except SQLAlchemyError as exc:
        logger.error("submission journal not updated: %s", type(exc).__name__)


class ActionFinishApplication(Action):
    """Creates the case and sends the receipt with its QR code, or queues the application."""

    def name(self) -> str:
        return "action_finish_application"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        events = await self._submit(dispatcher, tracker)
        created = any(e.get("event") == "slot" and e.get("name") == SLOT_CASE_ID and e.get("value") for e in events)
        # A high-voltage application goes to a customer manager as a lead (a hand-off).
        lead = created and tracker.get_slot(SLOT_CUSTOMER_TYPE) == "hv"
        return finish(dispatcher, tracker, events, {META_HANDOFF_REQUEST: {"reason": REASON_LEAD}} if lead else None)

    async def _submit(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        if tracker.get_slot(SLOT_CONFIRM) is not True:
            # Cancelled, or a question answered instead of starting: the form said what
            # it had to (and its answer's kind stands); nothing is created.
            return []
        events: List[EventType] = [SlotSet(SLOT_ANSWER_KIND, KIND_FORM), SlotSet(SLOT_ANSWER_ID, None)]
        locale = locale_of(tracker)
        key = tracker.get_slot(SLOT_APPLICATION_KEY)
        body = application_body(tracker)
        if body is None or not key:
            dispatcher.utter_message(text=t("form.incomplete", locale), buttons=[replies.human_button(locale)])
            return events + reset_events()
        journalled = journal(body, key, tracker.sender_id, locale)
        if journalled is not None:
            body = journalled
        try:
            case = await case_client().create_case(body, key, retries=SUBMIT_RETRIES)
        except CaseApiUnavailable:
            if journalled is None:  # neither the case API nor our database: nothing was kept
                dispatcher.utter_message(text=t("service.unavailable", locale), buttons=[replies.human_button(locale)])
                return events + reset_events()
            settle(lambda k, _none, session: defer(k, session=session), key, None)
            logger.warning("case API unavailable; application of %s queued", tracker.sender_id)
            dispatcher.utter_message(text=t("form.queued", locale))
            return events + reset_events()
        except CaseApiRejected as exc:
            settle(refused, key, exc.status)
            logger.warning("case API refused the application of %s: HTTP %s", tracker.sender_id, exc.status)
            reasons = "; ".join(str(p.get("reason")) for p in exc.body.get("problems") or []) or str(
                exc.body.get("error", "")
            )
            dispatcher.utter_message(
                text=t("form.rejected", locale, reason=reasons), buttons=[replies.human_button(locale)]
            )
            return events + reset_events()
        settle(landed, key, str(case["case_id"]))
        logger.info("case %s created for %s", case.get("case_id"), tracker.sender_id)
        if already_receipted(key):  # confirmed again; the worker's receipt went out (submitting.receipt_sent)
            dispatcher.utter_message(text=t("form.already_submitted", locale, case_id=case["case_id"]))
            return events + reset_events() + [SlotSet(SLOT_CASE_ID, case["case_id"])]
        for message in receipt_messages(case, locale, settings()):
            dispatcher.utter_message(text=message["text"], image=message.get("image_url"))
        return events + reset_events() + [SlotSet(SLOT_CASE_ID, case["case_id"])]


APPLY_CUE = re.compile(r"报装|報裝|新装|新裝|申请用电|申請用電|申请接电|申請接電|办电|辦電|apply", re.IGNORECASE)


class ActionValuesOutsideForm(Action):
    """Values given with no form active: "我要报装，我叫…，身份证…" (classified as `inform`) or a
    bare ID number and phone start the application with them; anything else goes through the
    FAQ gate, which says honestly when it has no answer."""

    def name(self) -> str:
        return "action_values_outside_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        text = raw_text_of(tracker)
        if APPLY_CUE.search(text) or (find_id_number(text) and find_mobile(text)):
            return [FollowupAction(FORM_APPLICATION)]
        return finish(dispatcher, tracker, answer_question(dispatcher, tracker))


class ActionNoApplication(Action):
    """"不办了" or "地址填错了" with no application in progress: says so, offers to start one."""

    def name(self) -> str:
        return "action_no_application"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        locale = locale_of(tracker)
        dispatcher.utter_message(
            text=t("form.none_active", locale),
            buttons=[{"title": t("status.button.apply", locale), "payload": APPLY_PAYLOAD}],
        )
        return [SlotSet(SLOT_ANSWER_KIND, KIND_FORM), SlotSet(SLOT_ANSWER_ID, None)]
