"""validate_application_form and the prompts: what is taken, what is refused and why."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.context import unseal
from actions.forms.application import ValidateApplicationForm
from actions.forms.application_prompts import ActionAskConfirm, ActionAskIdNumber
from common.i18n import t
from tests.actions.conftest import sent_buttons, sent_text, slot_events
from tests.actions.forms.conftest import PREVIEW, form_tracker

ID = "11010519491231002X"


async def validate(tracker):
    dispatcher = CollectingDispatcher()
    events = await ValidateApplicationForm().run(dispatcher, tracker, {})
    return dispatcher, events, slot_events(events)


@pytest.mark.asyncio
async def test_all_values_of_one_message_are_taken_and_personal_data_sealed() -> None:
    tracker = form_tracker(f"我叫张三，身份证{ID}，手机13800138000", requested="name")
    _, _, slots = await validate(tracker)
    assert slots["name"] == "张三"
    assert ID not in str(slots) and "13800138000" not in str(slots)
    assert unseal(slots["id_number"]) == ID and unseal(slots["phone"]) == "13800138000"


@pytest.mark.asyncio
async def test_a_wrong_id_is_re_asked_with_its_reason_then_explained() -> None:
    first = form_tracker("110105194912310021", requested="id_number")
    _, _, slots = await validate(first)
    assert slots["form_hint"] == {"field": "id_number", "problem": "id_checksum"}
    assert "id_number" not in slots
    second = form_tracker("110105194912310021", requested="id_number",
                          slots={"form_failures": slots["form_failures"]})
    _, _, slots = await validate(second)
    assert slots["form_hint"]["mode"] == "explain"

    dispatcher = CollectingDispatcher()
    prompt = form_tracker("110105194912310021", requested="id_number", slots={"form_hint": slots["form_hint"]})
    await ActionAskIdNumber().run(dispatcher, prompt, {})
    text = sent_text(dispatcher)
    assert t("form.problem.id_checksum", "zh_Hans") in text and t("form.explain.id_number", "zh_Hans") in text
    assert {b["payload"] for b in sent_buttons(dispatcher)} >= {"/continue_form", "/cancel_form", "/human_handoff"}


@pytest.mark.asyncio
async def test_cancel_ends_the_form_and_forgets_everything() -> None:
    tracker = form_tracker("不办了", intent="cancel_form", requested="phone",
                           slots={"name": "张三", "address": "广东省湛江市赤坎区人民大道中28号"})
    dispatcher, events, slots = await validate(tracker)
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e.get("event") == "active_loop"
    ]
    assert slots["name"] is None and slots["address"] is None and slots["requested_slot"] is None
    assert t("form.cancelled", "zh_Hans") in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_a_correction_asks_that_field_again_or_takes_the_new_value() -> None:
    filled = {"name": "张三", "address": "广东省湛江市赤坎区人民大道中28号", "confirm": None}
    _, _, slots = await validate(form_tracker("地址填错了", intent="correct_field", requested="confirm", slots=filled))
    assert slots["address"] is None and slots["requested_slot"] == "address"
    corrected = "地址填错了，应该是湛江市霞山区海滨大道5号"
    _, _, slots = await validate(form_tracker(corrected, intent="correct_field", requested="confirm", slots=filled))
    assert slots["address"] == "广东省湛江市霞山区海滨大道5号"


@pytest.mark.asyncio
async def test_a_question_mid_form_is_answered_and_the_form_resumes(kb) -> None:
    tracker = form_tracker("湛江低压报装要多久？", intent="faq_lv_time_limit", requested="phone")
    dispatcher, _, slots = await validate(tracker)
    answer = next(a for a in kb.by_id["lv_time_limit"].answers if a.region == "湛江").zh_Hans
    assert answer in sent_text(dispatcher) and t("form.resume", "zh_Hans") in sent_text(dispatcher)
    assert "phone" not in slots and "form_failures" not in slots


@pytest.mark.asyncio
async def test_confirmation_records_its_time_as_the_signature() -> None:
    _, _, slots = await validate(form_tracker("确认", intent="affirm", requested="confirm"))
    assert slots["confirm"] is True and slots["confirmed_at"]
    _, _, slots = await validate(form_tracker("不对", intent="deny", requested="confirm"))
    assert slots["form_hint"] == {"mode": "choose_field"} and "confirm" not in slots


@pytest.mark.asyncio
async def test_summary_masks_id_and_phone_and_shows_the_process() -> None:
    from actions.context import seal

    tracker = form_tracker("", requested="confirm", slots={
        "name": "张三", "id_number": seal(ID), "phone": seal("13800138000"),
        "address": "广东省湛江市赤坎区人民大道中28号", "customer_type": "resident", "capacity_kw": 8.0,
        "application_preview": PREVIEW,
    })
    dispatcher = CollectingDispatcher()
    await ActionAskConfirm().run(dispatcher, tracker, {})
    text = sent_text(dispatcher)
    assert "1101**********002X" in text and "138****8000" in text
    assert ID not in text and "13800138000" not in text
    assert "用电申请 → 现场勘查和装表接电" in text and "2026年12月4日星期五" in text
    assert [b["payload"] for b in sent_buttons(dispatcher)] == ["/affirm", "/deny", "/cancel_form"]


@pytest.mark.asyncio
async def test_joint_application_is_offered_in_guangdong_only() -> None:
    from actions.context import seal

    filled = {"name": "张三", "id_number": seal(ID), "phone": seal("13800138000"), "customer_type": "resident"}
    guangdong = form_tracker("8千瓦", requested="capacity_kw",
                             slots={**filled, "address": "广东省湛江市赤坎区人民大道中28号"})
    _, _, slots = await validate(guangdong)
    assert slots["capacity_kw"] == 8.0 and slots["requested_slot"] == "linked_utilities"
    jinhua = "浙江省金华市婺城区八一南街5号"
    zhejiang = form_tracker("8千瓦", requested="capacity_kw", slots={**filled, "address": jinhua})
    _, _, slots = await validate(zhejiang)
    assert "requested_slot" not in slots
    _, _, slots = await validate(form_tracker('/inform{"linked": "both"}', requested="linked_utilities",
                                              entities=[{"entity": "linked", "value": "both"}]))
    assert slots["linked_utilities"] == ["water", "gas"]
    _, _, slots = await validate(form_tracker("不需要", requested="linked_utilities"))
    assert slots["linked_utilities"] == []


def test_every_key_the_form_builds_exists() -> None:
    """Keys assembled at run time (f"form.problem.{problem}") are in the catalogs too."""
    from actions import applicant
    from actions.constants import APPLICATION_FIELDS, APPLICATION_SLOTS, CUSTOMER_TYPES
    from common import address, identity
    from common.i18n import catalog_keys

    problems = {getattr(applicant, k) for k in applicant.__all__ if k.isupper() and k != "NOTHING"}
    problems |= {f"id_{v}" for k, v in vars(identity).items() if k.startswith("ID_") and isinstance(v, str)}
    problems |= {f"address_{v}" for k, v in vars(address).items() if k.startswith("ADDRESS_")}
    problems |= {"unclear", "linked_unclear"}
    built = {f"form.problem.{p}" for p in problems}
    built |= {f"form.{kind}.{slot}" for kind in ("ask", "explain") for slot in APPLICATION_SLOTS}
    built |= {f"form.field.{field}" for field in APPLICATION_FIELDS}
    built |= {f"form.customer_type.{c}" for c in CUSTOMER_TYPES}
    built |= {f"form.linked.{c}" for c in ("water", "gas", "both", "none")}
    built |= {f"receipt.pending.{kind}" for kind in ("property_online_approval", "identity_review")}
    assert built - catalog_keys("zh_Hans") == set()


@pytest.mark.asyncio
async def test_traditional_and_cantonese_replies_are_understood() -> None:
    _, _, slots = await validate(form_tracker("確認", intent="affirm", confidence=0.6, requested="confirm"))
    assert slots["confirm"] is True
    _, _, slots = await validate(form_tracker("唔辦了", intent="inform", requested="phone"))
    assert slots["requested_slot"] is None
    _, _, slots = await validate(form_tracker("地址填錯了", intent="inform", requested="confirm"))
    assert slots["requested_slot"] == "address"


@pytest.mark.asyncio
async def test_a_short_no_to_water_and_gas_is_not_a_cancel() -> None:
    tracker = form_tracker("no", intent="cancel_form", confidence=0.9, requested="linked_utilities")
    _, _, slots = await validate(tracker)
    assert slots["linked_utilities"] == [] and "requested_slot" not in slots


@pytest.mark.asyncio
async def test_a_question_that_started_the_form_is_answered_instead(kb) -> None:
    from rasa_sdk import Tracker

    base = form_tracker("我想给新开的店申请用电，去哪里办？", intent="apply_connection", confidence=0.77)
    message = dict(base.latest_message)
    message["intent_ranking"] = [
        {"name": "apply_connection", "confidence": 0.77}, {"name": "faq_how_to_apply", "confidence": 0.13},
    ]
    tracker = Tracker("form-sender", base.slots, message, [], False, None, {}, "action_listen")
    dispatcher, events, slots = await validate(tracker)
    assert slots["answer_id"] == "how_to_apply" and slots["requested_slot"] is None
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    payloads = [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]
    assert payloads.count("/apply_connection") == 1
