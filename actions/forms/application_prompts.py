"""The application form's prompts: one `action_ask_<slot>` per slot, and the summary.

Each prompt first says why the last answer was refused (the `form_hint` slot set by
`validate_application_form`), then asks; from the second failure in a row it explains the
format and offers to continue, cancel or talk to a person. The summary shows every value
(ID and phone masked), the process, time limit and deadline the case API previews, and asks
for consent to fetch the documents and to sign electronically.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.constants import (
    APPLICATION_FIELDS,
    CANCEL_PAYLOAD,
    CONTINUE_PAYLOAD,
    REQUESTED_SLOT,
    SLOT_ADDRESS,
    SLOT_APPLICATION_PREVIEW,
    SLOT_CAPACITY,
    SLOT_CONFIRM,
    SLOT_CUSTOMER_TYPE,
    SLOT_FORM_HINT,
    SLOT_ID_NUMBER,
    SLOT_LINKED,
    SLOT_NAME,
    SLOT_PHONE,
)
from actions.context import case_client, intent_of, locale_of, unseal
from actions.meta import finish
from actions.receipts import process_summary
from common.case_client import CaseApiRejected, CaseApiUnavailable
from common.i18n import format_number, t
from common.pii import mask_id, mask_phone

logger = logging.getLogger(__name__)


def customer_type_label(value: Optional[str], locale: str) -> str:
    return t(f"form.customer_type.{value}", locale) if value else "-"


def linked_lines(linked: Optional[List[str]], locale: str) -> List[str]:
    """The summary line of a joint application (一次办), if water or gas was chosen."""
    if not linked:
        return []
    names = (", " if locale == "en" else "、").join(t(f"form.linked.{kind}", locale) for kind in linked)
    return [t("form.summary.linked", locale, utilities=names)]


def capacity_label(value: Optional[float], locale: str) -> str:
    return t("form.capacity_value", locale, kw=format_number(value or 0, locale))


def _field_buttons(slot: str, locale: str) -> List[Dict[str, str]]:
    if slot == SLOT_LINKED:
        return [
            {"title": t(f"form.linked.{choice}", locale), "payload": f'/inform{{"linked": "{choice}"}}'}
            for choice in ("water", "gas", "both", "none")
        ]
    if slot == SLOT_CUSTOMER_TYPE:
        return [
            {"title": t(f"form.customer_type.{value}", locale),
             "payload": f'/inform{{"customer_type": "{value}"}}'}
            for value in ("resident", "lv_business", "hv")
        ]
    return []


def _hint_lines(hint: Optional[Dict[str, Any]], slot: str, locale: str) -> List[str]:
    if not hint or hint.get("field") not in (None, slot):
        return []
    lines = []
    if hint.get("problem"):
        lines.append(t(f"form.problem.{hint['problem']}", locale))
    if hint.get("mode") == "explain":
        lines.append(t(f"form.explain.{slot}", locale))
    return lines


def _explain_buttons(locale: str) -> List[Dict[str, str]]:
    return [
        {"title": t("form.button.continue", locale), "payload": CONTINUE_PAYLOAD},
        {"title": t("form.button.cancel", locale), "payload": CANCEL_PAYLOAD},
        replies.human_button(locale),
    ]


class _AskSlot:
    """Renders the prompt for one slot: the reason for a re-ask first, then the question."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        locale = locale_of(tracker)
        hint = tracker.get_slot(SLOT_FORM_HINT)
        lines = _hint_lines(hint, self.slot, locale)
        events: List[EventType] = [SlotSet(SLOT_FORM_HINT, None)]
        if not lines and _just_started(tracker):
            lines.append(t("form.start", locale))
        text, buttons, more = await self.prompt(tracker, locale)
        events += more
        if hint and hint.get("mode") == "explain":
            buttons = buttons + _explain_buttons(locale)
        dispatcher.utter_message(text="\n".join([*lines, text]), buttons=buttons)
        return finish(dispatcher, tracker, events + [SlotSet(REQUESTED_SLOT, self.slot)])

    async def prompt(self, tracker: Tracker, locale: str) -> tuple[str, List[Dict[str, str]], List[EventType]]:
        return t(f"form.ask.{self.slot}", locale), _field_buttons(self.slot, locale), []


def _just_started(tracker: Tracker) -> bool:
    """Whether the form was activated by this message (the first prompt explains the form)."""
    intent, _ = intent_of(tracker)
    return intent == "apply_connection"


class ActionAskName(_AskSlot, Action):
    slot = SLOT_NAME


class ActionAskIdNumber(_AskSlot, Action):
    slot = SLOT_ID_NUMBER


class ActionAskAddress(_AskSlot, Action):
    slot = SLOT_ADDRESS


class ActionAskPhone(_AskSlot, Action):
    slot = SLOT_PHONE


class ActionAskCustomerType(_AskSlot, Action):
    slot = SLOT_CUSTOMER_TYPE


class ActionAskCapacityKw(_AskSlot, Action):
    slot = SLOT_CAPACITY


class ActionAskLinkedUtilities(_AskSlot, Action):
    slot = SLOT_LINKED


class ActionAskConfirm(_AskSlot, Action):
    """Shows every value (ID and phone masked), the process, time limit and deadline that will
    apply, and asks for consent to fetch the documents and to sign electronically."""

    slot = SLOT_CONFIRM

    async def prompt(self, tracker: Tracker, locale: str) -> tuple[str, List[Dict[str, str]], List[EventType]]:
        hint = tracker.get_slot(SLOT_FORM_HINT) or {}
        if hint.get("mode") == "choose_field":
            buttons = [
                {"title": t(f"form.field.{field}", locale), "payload": f'/correct_field{{"field": "{field}"}}'}
                for field in APPLICATION_FIELDS
            ]
            return t("form.choose_field", locale), buttons, []
        events: List[EventType] = []
        preview = tracker.get_slot(SLOT_APPLICATION_PREVIEW)
        customer_type = tracker.get_slot(SLOT_CUSTOMER_TYPE)
        notices: List[str] = []
        if preview is None:
            preview = await self.fetch_preview(tracker)
            if preview is not None:
                events.append(SlotSet(SLOT_APPLICATION_PREVIEW, preview))
        if preview is not None and preview.get("customer_type") and preview["customer_type"] != customer_type:
            notices.append(t("form.notice.high_voltage", locale, limit=format_number(
                preview.get("low_voltage_max_kw") or 0, locale)))
            customer_type = preview["customer_type"]
            events.append(SlotSet(SLOT_CUSTOMER_TYPE, customer_type))
        lines = [
            *notices,
            t("form.summary.title", locale),
            f"{t('form.field.name', locale)}：{tracker.get_slot(SLOT_NAME)}",
            f"{t('form.field.id_number', locale)}：{mask_id(unseal(tracker.get_slot(SLOT_ID_NUMBER)) or '')}",
            f"{t('form.field.address', locale)}：{tracker.get_slot(SLOT_ADDRESS)}",
            f"{t('form.field.phone', locale)}：{mask_phone(unseal(tracker.get_slot(SLOT_PHONE)) or '')}",
            f"{t('form.field.customer_type', locale)}：{customer_type_label(customer_type, locale)}",
            f"{t('form.field.capacity_kw', locale)}：{capacity_label(tracker.get_slot(SLOT_CAPACITY), locale)}",
            *linked_lines(tracker.get_slot(SLOT_LINKED), locale),
            process_summary(preview, locale) if preview else t("form.summary.no_preview", locale),
            t("form.summary.consent", locale),
        ]
        buttons = [
            {"title": t("form.button.confirm", locale), "payload": "/affirm"},
            {"title": t("form.button.change", locale), "payload": "/deny"},
            {"title": t("form.button.cancel", locale), "payload": CANCEL_PAYLOAD},
        ]
        return "\n".join(lines), buttons, events

    @staticmethod
    async def fetch_preview(tracker: Tracker) -> Optional[Dict[str, Any]]:
        """What the case API says will apply; None if it cannot say now (the case API is down)."""
        try:
            return await case_client().preview(
                tracker.get_slot(SLOT_ADDRESS) or "",
                tracker.get_slot(SLOT_CUSTOMER_TYPE) or "resident",
                float(tracker.get_slot(SLOT_CAPACITY) or 0),
            )
        except (CaseApiUnavailable, CaseApiRejected) as exc:
            logger.warning("process preview unavailable for %s: %s", tracker.sender_id, type(exc).__name__)
            return None


__all__ = [
    "ActionAskAddress",
    "ActionAskCapacityKw",
    "ActionAskConfirm",
    "ActionAskCustomerType",
    "ActionAskIdNumber",
    "ActionAskLinkedUtilities",
    "ActionAskName",
    "ActionAskPhone",
]
