"""The zero-document application form (零证办电): reads, checks and asks for its fields.

`validate_application_form` runs after every message while the form is active. It never
lets the form reject a message, so the form stays in control: it takes every field the
message gives (several at once), handles "不办了" (cancel, nothing created), "地址填错了"
(that field is asked again), answers a question asked mid-form from the knowledge base, and
otherwise says why a value was refused. After two failures in a row on one field the prompt
explains the format and offers to continue, cancel or talk to a person.

The prompts are rendered by `action_ask_<slot>` in `actions/forms/application_prompts.py`,
from the `form_hint` slot this action sets. ID numbers and phones are sealed (encrypted) in
their slots and shown masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.applicant import (
    MAX_READ_CHARS,
    Reading,
    correction_field,
    looks_like_question,
    read_address,
    read_capacity,
    read_customer_type,
    read_id_number,
    read_linked,
    read_name,
    read_phone,
    value_after_correction,
    wants_to_cancel,
)
from actions.chitchat import REPLY_KEYS
from actions.constants import (
    APPLICATION_FIELDS,
    APPLICATION_SLOTS,
    APPLY_PAYLOAD,
    ENTITY_CUSTOMER_TYPE,
    ENTITY_FIELD,
    ENTITY_LINKED,
    FAQ_INTENT_PREFIX,
    INTENT_AFFIRM,
    INTENT_CANCEL_FORM,
    INTENT_CONTINUE_FORM,
    INTENT_CORRECT_FIELD,
    INTENT_DENY,
    INTENT_HUMAN_HANDOFF,
    JOINT_APPLICATION_PROVINCES,
    KIND_FORM,
    KIND_KNOWLEDGE,
    MAX_FIELD_FAILURES,
    REQUESTED_SLOT,
    SLOT_ADDRESS,
    SLOT_ANSWER_KIND,
    SLOT_APPLICATION_KEY,
    SLOT_APPLICATION_PREVIEW,
    SLOT_CAPACITY,
    SLOT_CONFIRM,
    SLOT_CONFIRMED_AT,
    SLOT_CUSTOMER_TYPE,
    SLOT_FORM_FAILURES,
    SLOT_FORM_HINT,
    SLOT_HANDOFF_REQUESTED,
    SLOT_ID_NUMBER,
    SLOT_LINKED,
    SLOT_NAME,
    SLOT_PHONE,
)
from actions.context import (
    entity_value,
    intent_of,
    locale_of,
    raw_text_of,
    seal,
    settings,
    text_of,
)
from actions.faq import answer_if_confident, answer_question
from common.i18n import t
from common.identity import find_id_number, find_mobile
from common.scripts import to_simplified

logger = logging.getLogger(__name__)

# Confidence above which an intent is trusted to be a question or small talk mid-form.
QUESTION_CONFIDENCE = 0.8
# Replies to the summary: whole short replies, or these openings ("确认提交", "不对，地址…").
_AFFIRM_REPLIES = set(
    "是 是的 对 对的 好 好的 好呀 可以 没问题 冇问题 系 系呀 系的 啱 提交 确定 yes ok okay sure".split()
)
_AFFIRM_OPENINGS = ("确认", "同意", "confirm", "agree", "submit")
_DENY_REPLIES = {"不", "不是", "否", "唔系", "唔啱", "no", "nope"}
_DENY_OPENINGS = ("不对", "不正确", "有误", "有错", "not right", "incorrect", "wrong")


def reset_events() -> List[EventType]:
    """Forgets the form's values: after a cancel, or once the application is submitted or queued."""
    return [
        *(SlotSet(slot, None) for slot in APPLICATION_SLOTS),
        SlotSet(SLOT_FORM_FAILURES, None),
        SlotSet(SLOT_FORM_HINT, None),
        SlotSet(SLOT_APPLICATION_KEY, None),
        SlotSet(SLOT_APPLICATION_PREVIEW, None),
        SlotSet(SLOT_CONFIRMED_AT, None),
    ]


def cancel_events() -> List[EventType]:
    """Ends the form and forgets every value: nothing was created."""
    return [*reset_events(), SlotSet(REQUESTED_SLOT, None), ActiveLoop(None)]


def read_fields(tracker: Tracker, requested: Optional[str]) -> Dict[str, Reading]:
    """Every field the latest message gives; a bare reply counts for the requested field."""
    text = raw_text_of(tracker)
    area = settings().service_area
    readings = {
        SLOT_NAME: read_name(text, requested == SLOT_NAME),
        SLOT_ID_NUMBER: read_id_number(text, requested == SLOT_ID_NUMBER)[0],
        SLOT_PHONE: read_phone(text, requested == SLOT_PHONE),
        SLOT_ADDRESS: read_address(text, requested == SLOT_ADDRESS, area)[0],
        SLOT_CUSTOMER_TYPE: read_customer_type(
            text, requested == SLOT_CUSTOMER_TYPE, entity_value(tracker, ENTITY_CUSTOMER_TYPE)
        ),
        SLOT_CAPACITY: read_capacity(text, requested == SLOT_CAPACITY),
    }
    return {field: reading for field, reading in readings.items() if reading.found}


def has_personal_data(text: str) -> bool:
    """Whether a message carries an ID number or a phone: data for the form, not a question."""
    return bool(find_id_number(text) or find_mobile(text))


def slot_value(field: str, value: Any) -> Any:
    """What a field's slot holds: ID numbers and phones sealed, the rest as read."""
    return seal(str(value)) if field in (SLOT_ID_NUMBER, SLOT_PHONE) else value


def _reply(tracker: Tracker) -> str:
    return re.sub(r"[\s,，。.!！~～]+", "", to_simplified(raw_text_of(tracker)[:MAX_READ_CHARS])).lower()


def is_affirm(tracker: Tracker) -> bool:
    intent, confidence = intent_of(tracker)
    reply = _reply(tracker)
    by_words = reply in _AFFIRM_REPLIES or reply.startswith(_AFFIRM_OPENINGS)
    return by_words or (intent == INTENT_AFFIRM and confidence >= QUESTION_CONFIDENCE and len(reply) <= 8)


def is_deny(tracker: Tracker) -> bool:
    intent, confidence = intent_of(tracker)
    reply = _reply(tracker)
    by_words = reply in _DENY_REPLIES or reply.startswith(_DENY_OPENINGS)
    return by_words or (intent == INTENT_DENY and confidence >= QUESTION_CONFIDENCE and len(reply) <= 8)


class ValidateApplicationForm(Action):
    """Takes the values a message gives, or says why not; handles cancel, correction, questions."""

    def name(self) -> str:
        return "validate_application_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        requested = tracker.get_slot(REQUESTED_SLOT)
        intent, confidence = intent_of(tracker)
        text = raw_text_of(tracker)
        locale = locale_of(tracker)
        # Always set a slot, so the form never rejects the message and stays in control.
        events: List[EventType] = [SlotSet(SLOT_ANSWER_KIND, KIND_FORM), SlotSet(SLOT_FORM_HINT, None)]
        if not tracker.get_slot(SLOT_APPLICATION_KEY):
            events.append(SlotSet(SLOT_APPLICATION_KEY, f"app-{uuid.uuid4().hex}"))
        if wants_to_cancel(text):
            return events + self.cancel(dispatcher, tracker)
        if intent == INTENT_CONTINUE_FORM and text.startswith("/"):
            return events + [SlotSet(SLOT_FORM_FAILURES, None)]
        if intent == INTENT_HUMAN_HANDOFF and confidence >= QUESTION_CONFIDENCE:
            dispatcher.utter_message(text=t("handoff.hotline", locale) + "\n" + t("form.resume", locale))
            return events + [SlotSet(SLOT_HANDOFF_REQUESTED, True)]

        field = entity_value(tracker, ENTITY_FIELD) if intent == INTENT_CORRECT_FIELD else None
        field = field if field in APPLICATION_FIELDS else correction_field(text)
        if field is not None:
            return events + self.correct(field, tracker)
        if requested == SLOT_CONFIRM:
            confirmed = self.confirm(tracker)
            if confirmed is not None:
                return events + confirmed
        if requested == SLOT_LINKED:
            linked = read_linked(text, entity_value(tracker, ENTITY_LINKED))
            if linked.found:
                return events + [SlotSet(SLOT_LINKED, linked.value), SlotSet(SLOT_FORM_FAILURES, None)]
        # The model's cancel intent counts only after the steps' own short answers ("no" to
        # water and gas, "不对" to the summary) have had their say.
        if intent == INTENT_CANCEL_FORM and confidence >= QUESTION_CONFIDENCE:
            return events + self.cancel(dispatcher, tracker)

        if requested is None and self.is_question(tracker, intent, confidence) and not has_personal_data(text):
            # The message that started the form asks about applying ("去哪里办？"): answer
            # it when the knowledge base clearly does, and offer to apply here instead.
            answered = answer_if_confident(dispatcher, tracker)
            if answered is not None:
                buttons = [b for m in dispatcher.messages for b in m.get("buttons") or []]
                offered = any(b.get("payload") == APPLY_PAYLOAD for b in buttons)
                if not offered:
                    dispatcher.utter_message(text=t("form.offer", locale), buttons=[replies.apply_button(locale)])
                return events + answered + cancel_events()

        readings = read_fields(tracker, requested)
        values = {f: r.value for f, r in readings.items() if r.value is not None}
        if values:
            events += [SlotSet(f, slot_value(f, v)) for f, v in values.items()]
            if SLOT_CUSTOMER_TYPE in values or SLOT_CAPACITY in values or SLOT_ADDRESS in values:
                events.append(SlotSet(SLOT_APPLICATION_PREVIEW, None))
            problem = readings.get(requested).problem if requested in readings else None
            if problem and requested not in values:
                events.append(SlotSet(SLOT_FORM_HINT, {"field": requested, "problem": problem}))
            events.append(SlotSet(SLOT_FORM_FAILURES, None))
            return events + self.offer_joint_application(tracker, values)

        if self.is_question(tracker, intent, confidence):
            answered = answer_question(dispatcher, tracker)
            if any(e.get("name") == SLOT_ANSWER_KIND and e.get("value") == KIND_KNOWLEDGE for e in answered):
                dispatcher.utter_message(text=t("form.resume", locale))
                return events + answered + [SlotSet(SLOT_ANSWER_KIND, KIND_KNOWLEDGE)]
        if intent in REPLY_KEYS and confidence >= QUESTION_CONFIDENCE and requested != SLOT_CONFIRM:
            dispatcher.utter_message(text=t(REPLY_KEYS[intent], locale))
            return events
        if requested is None:
            return events
        problem = readings[requested].problem if requested in readings else None
        return events + self.failure(tracker, requested, problem or "unclear")

    @staticmethod
    def cancel(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        dispatcher.utter_message(text=t("form.cancelled", locale_of(tracker)))
        logger.info("application form cancelled by %s", tracker.sender_id)
        return cancel_events()

    @staticmethod
    def offer_joint_application(tracker: Tracker, values: Dict[str, Any]) -> List[EventType]:
        """Asks about water and gas (一次办) once every field is in, where the province offers it."""
        state = {field: values.get(field, tracker.get_slot(field)) for field in APPLICATION_FIELDS}
        address = str(state[SLOT_ADDRESS] or "")
        eligible = address.startswith(JOINT_APPLICATION_PROVINCES)
        if all(v is not None for v in state.values()) and eligible and tracker.get_slot(SLOT_LINKED) is None:
            return [SlotSet(REQUESTED_SLOT, SLOT_LINKED)]
        return []

    @staticmethod
    def is_question(tracker: Tracker, intent: Optional[str], confidence: float) -> bool:
        text = text_of(tracker)
        faq_intent = bool(intent and intent.startswith(FAQ_INTENT_PREFIX) and confidence >= QUESTION_CONFIDENCE)
        return not text.startswith("/") and (faq_intent or looks_like_question(raw_text_of(tracker)))

    @staticmethod
    def correct(field: str, tracker: Tracker) -> List[EventType]:
        """Forgets `field` (and the confirmation) so the form asks for it again, or takes the
        new value when the message already gives it ("地址填错了，应该是…")."""
        events: List[EventType] = [SlotSet(SLOT_CONFIRM, None), SlotSet(SLOT_APPLICATION_PREVIEW, None)]
        new_text = value_after_correction(raw_text_of(tracker))
        if new_text:
            reading = _read_one(field, new_text)
            if reading.value is not None:
                return events + [SlotSet(field, slot_value(field, reading.value))]
        return events + [SlotSet(field, None), SlotSet(REQUESTED_SLOT, field)]

    @staticmethod
    def confirm(tracker: Tracker) -> Optional[List[EventType]]:
        """The answer to the summary: confirmed (with its time, the signature), or which field
        to change; None when the message is something else."""
        if is_affirm(tracker):
            at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            return [SlotSet(SLOT_CONFIRM, True), SlotSet(SLOT_CONFIRMED_AT, at)]
        if is_deny(tracker):
            return [SlotSet(SLOT_FORM_HINT, {"mode": "choose_field"})]
        return None

    @staticmethod
    def failure(tracker: Tracker, field: str, problem: str) -> List[EventType]:
        """Counts a failed answer; from the second in a row the prompt explains the format."""
        failures = dict(tracker.get_slot(SLOT_FORM_FAILURES) or {})
        failures[field] = int(failures.get(field, 0)) + 1
        hint: Dict[str, Any] = {"field": field, "problem": problem}
        if failures[field] >= MAX_FIELD_FAILURES:
            hint["mode"] = "explain"
        return [SlotSet(SLOT_FORM_FAILURES, failures), SlotSet(SLOT_FORM_HINT, hint)]


def _read_one(field: str, text: str) -> Reading:
    area = settings().service_area
    readers: Dict[str, Any] = {
        SLOT_NAME: lambda: read_name(text, True),
        SLOT_ID_NUMBER: lambda: read_id_number(text, True)[0],
        SLOT_PHONE: lambda: read_phone(text, True),
        SLOT_ADDRESS: lambda: read_address(text, True, area)[0],
        SLOT_CUSTOMER_TYPE: lambda: read_customer_type(text, True),
        SLOT_CAPACITY: lambda: read_capacity(text, True),
        SLOT_LINKED: lambda: read_linked(text),
    }
    return readers[field]()


__all__ = ["ValidateApplicationForm", "cancel_events", "reset_events"]
