"""The bill calculator: "我家这个月用了350度电费多少" → the bill by tier, with the breakdown."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import parsing, replies
from actions.constants import (
    KIND_ASK_REGION,
    KIND_BILL,
    KIND_FALLBACK,
    PENDING_BILL,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_PENDING_BILL,
    SLOT_PENDING_TOPIC,
)
from actions.context import knowledge, locale_of, text_of
from actions.faq import region_for_turn
from actions.meta import with_meta
from actions.replies import source_line
from common.i18n import format_money, format_number, t
from knowledge.regions import Region
from knowledge.service import KnowledgeBase
from knowledge.tariff import Bill, TariffUnavailable, compute_bill

CHINA = ZoneInfo("Asia/Shanghai")
# The places offered when the resident has not said where they live: those with prices.
PRICED_PLACES = ("广州", "深圳", "浙江")


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def render_bill(bill: Bill, kb: KnowledgeBase, locale: str) -> str:
    """The bill with one line per tier, the total, the source, and notes."""
    place = kb.gazetteer.display(bill.city or bill.province, locale)
    lower, upper = bill.bounds
    lines = [
        t(
            "bill.header",
            locale,
            place=place,
            season=t(f"bill.season.{bill.season}", locale),
            kwh=format_number(bill.kwh, locale),
            b1=format_number(lower, locale),
            b2=format_number(upper, locale),
        )
    ]
    for line in bill.lines:
        if line.price is not None and line.amount is not None:
            lines.append(
                t(
                    "bill.line",
                    locale,
                    tier=line.tier,
                    kwh=format_number(line.kwh, locale),
                    price=format_number(line.price, locale, digits=4 if line.price.as_tuple().exponent < -3 else 3),
                    amount=format_money(line.amount, locale),
                )
            )
        else:
            lines.append(t("bill.line_kwh", locale, tier=line.tier, kwh=format_number(line.kwh, locale)))
    if bill.total is not None:
        lines.append(t("bill.total", locale, total=format_money(bill.total, locale)))
    else:
        lines.append(t("bill.no_price", locale, place=place))
    if bill.period == "year" and bill.usage_period == "month":
        lines.append(t("bill.yearly_note", locale, b1=format_number(lower, locale)))
    lines.append(t("bill.excludes", locale))
    lines.append(source_line(bill.source, _valid_from(kb, bill), locale))
    if not bill.verified:
        lines.append(t("faq.unverified", locale))
    return "\n".join(lines)


def _valid_from(kb: KnowledgeBase, bill: Bill) -> Optional[dt.date]:
    return next(r.valid_from for r in kb.tariffs.regions if r.name == bill.province)


def send_bill(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, pending: Dict[str, Any], region: Region, locale: str
) -> List[EventType]:
    """Computes and sends the bill for a usage already read from the resident's message."""
    try:
        bill = compute_bill(
            kb.tariffs,
            province=region.province,
            city=region.city,
            kwh=pending["kwh"],
            month=int(pending["month"]),
            usage_period=pending.get("period", "month"),
        )
    except TariffUnavailable:
        dispatcher.utter_message(
            text=t("bill.no_region", locale, place=kb.gazetteer.display(region.name, locale)),
            buttons=[replies.human_button(locale)],
        )
        return [
            SlotSet(SLOT_ANSWER_KIND, KIND_FALLBACK),
            SlotSet(SLOT_ANSWER_ID, None),
            SlotSet(SLOT_PENDING_TOPIC, None),
            SlotSet(SLOT_PENDING_BILL, None),
        ]
    dispatcher.utter_message(text=render_bill(bill, kb, locale))
    return [
        SlotSet(SLOT_ANSWER_KIND, KIND_BILL),
        SlotSet(SLOT_ANSWER_ID, "bill"),
        SlotSet(SLOT_PENDING_TOPIC, None),
        SlotSet(SLOT_PENDING_BILL, None),
    ]


def ask_place(dispatcher: CollectingDispatcher, kb: KnowledgeBase, locale: str) -> None:
    dispatcher.utter_message(
        text=t("bill.ask_region", locale),
        buttons=[
            {"title": kb.gazetteer.display(p, locale), "payload": replies.region_payload(p)}
            for p in PRICED_PLACES
        ],
    )


class ActionCalculateBill(Action):
    """Reads the usage, month and place from the message, then computes the bill."""

    def name(self) -> str:
        return "action_calculate_bill"

    @with_meta
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        kb = knowledge()
        locale = locale_of(tracker)
        text = text_of(tracker)
        kwh = parsing.parse_kwh(text)
        if kwh is None:
            dispatcher.utter_message(text=t("bill.ask_kwh", locale))
            return [SlotSet(SLOT_ANSWER_KIND, KIND_ASK_REGION), SlotSet(SLOT_ANSWER_ID, "bill")]
        pending = {
            "kwh": str(kwh),
            "month": parsing.parse_month(text, today()),
            "period": parsing.parse_usage_period(text),
        }
        region: Optional[Region]
        region, events = region_for_turn(kb, tracker)
        if region is None:
            ask_place(dispatcher, kb, locale)
            return events + [
                SlotSet(SLOT_ANSWER_KIND, KIND_ASK_REGION),
                SlotSet(SLOT_ANSWER_ID, "bill"),
                SlotSet(SLOT_PENDING_TOPIC, PENDING_BILL),
                SlotSet(SLOT_PENDING_BILL, pending),
            ]
        return events + send_bill(dispatcher, kb, pending, region, locale)
