"""ActionCalculateBill: usage, month and place from the message; asks what is missing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.bill import ActionCalculateBill
from actions.region import ActionSetRegion
from common.i18n import format_money, t
from tests.actions.conftest import make_tracker, sent_buttons, sent_text, slot_events


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, slot_events(events)


@pytest.mark.asyncio
async def test_full_question_is_computed_with_breakdown() -> None:
    dispatcher, slots = await run(ActionCalculateBill(), make_tracker("广州11月用了350度电费多少", "ask_bill"))
    text = sent_text(dispatcher)
    assert format_money(Decimal("213.65"), "zh_Hans") in text
    assert format_money(Decimal("117.80"), "zh_Hans") in text and format_money(Decimal("95.85"), "zh_Hans") in text
    assert t("faq.unverified", "zh_Hans") in text
    assert slots["answer_kind"] == "bill"


@pytest.mark.asyncio
async def test_english_bill() -> None:
    dispatcher, _ = await run(
        ActionCalculateBill(), make_tracker("I used 700 kWh in July in Shenzhen, how much?", "ask_bill", locale="en")
    )
    assert "Tier 3: 100 kWh" in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_missing_usage_is_asked() -> None:
    dispatcher, _ = await run(ActionCalculateBill(), make_tracker("电费怎么算", "ask_bill"))
    assert sent_text(dispatcher) == t("bill.ask_kwh", "zh_Hans")


@pytest.mark.asyncio
async def test_missing_place_is_asked_then_computed() -> None:
    dispatcher, slots = await run(ActionCalculateBill(), make_tracker("11月用了350度电费多少", "ask_bill"))
    assert {b["title"] for b in sent_buttons(dispatcher)} == {"广州", "深圳", "浙江"}
    assert slots["pending_topic"] == "bill"
    tracker = make_tracker(
        '/inform_region{"region": "广州"}', "inform_region", 1.0,
        entities=[{"entity": "region", "value": "广州"}],
        slots={"pending_topic": "bill", "pending_bill": slots["pending_bill"]},
    )
    dispatcher, slots = await run(ActionSetRegion(), tracker)
    assert format_money(Decimal("213.65"), "zh_Hans") in sent_text(dispatcher)
    assert slots["pending_bill"] is None


@pytest.mark.asyncio
async def test_place_without_prices_gets_kwh_and_95598() -> None:
    dispatcher, _ = await run(ActionCalculateBill(), make_tracker("湛江1月用了300度要多少钱", "ask_bill"))
    assert t("bill.no_price", "zh_Hans", place="湛江") in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_zhejiang_monthly_usage_notes_yearly_tiers() -> None:
    dispatcher, _ = await run(ActionCalculateBill(), make_tracker("杭州这个月用了300度电费多少", "ask_bill"))
    assert t("bill.yearly_note", "zh_Hans", b1="2,760") in sent_text(dispatcher)
