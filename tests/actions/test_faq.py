"""ActionAnswerFaq: region-aware answers, choices on a near tie, honest fallback."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.chitchat import ActionOutOfScope
from actions.faq import ActionAnswerFaq
from actions.region import ActionSetRegion
from common.i18n import t
from tests.actions.conftest import make_tracker, sent_buttons, sent_text, slot_events


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, slot_events(events)


def region_answer(kb, entry_id: str, region: str, locale: str = "zh_Hans") -> str:
    return next(a for a in kb.by_id[entry_id].answers if a.region == region).get(locale)


@pytest.mark.asyncio
async def test_region_named_in_text_is_answered_and_remembered(kb) -> None:
    tracker = make_tracker("湛江低压报装要多久", "faq_lv_time_limit")
    dispatcher, slots = await run(ActionAnswerFaq(), tracker)
    assert region_answer(kb, "lv_time_limit", "湛江") in sent_text(dispatcher)
    assert slots == {"region": "湛江", "answer_kind": "knowledge", "answer_id": "lv_time_limit", "pending_topic": None}


@pytest.mark.asyncio
async def test_remembered_region_is_used(kb) -> None:
    tracker = make_tracker("高压报装要多久", "faq_hv_time_limit", slots={"region": "金华"})
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    assert region_answer(kb, "hv_time_limit", "金华") in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_province_answer_for_a_city_without_its_own(kb) -> None:
    tracker = make_tracker("杭州阶梯电价", "faq_residential_tiered_tariff")
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    assert region_answer(kb, "residential_tiered_tariff", "浙江") in sent_text(dispatcher)
    assert t("faq.unverified", "zh_Hans") in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_no_region_gives_general_rule_and_city_buttons(kb) -> None:
    tracker = make_tracker("低压报装要多久", "faq_lv_time_limit")
    dispatcher, slots = await run(ActionAnswerFaq(), tracker)
    entry = kb.by_id["lv_time_limit"]
    assert entry.general.zh_Hans in sent_text(dispatcher)
    assert [b["title"] for b in sent_buttons(dispatcher)] == entry.regions
    assert slots["pending_topic"] == "lv_time_limit" and slots["answer_kind"] == "ask_region"


@pytest.mark.asyncio
async def test_button_payload_with_region_entity(kb) -> None:
    tracker = make_tracker(
        '/faq_lv_time_limit{"region": "佛山"}', "faq_lv_time_limit", 1.0,
        entities=[{"entity": "region", "value": "佛山"}],
    )
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    assert region_answer(kb, "lv_time_limit", "佛山") in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_answers_follow_the_locale(kb) -> None:
    tracker = make_tracker("what is sanling", "faq_sanling", locale="en")
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    assert kb.by_id["sanling"].general.en in sent_text(dispatcher)
    assert "Source:" in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_near_tie_offers_choices(kb) -> None:
    ranking = [{"name": "faq_lv_time_limit", "confidence": 0.45}, {"name": "faq_hv_time_limit", "confidence": 0.44}]
    tracker = make_tracker("要多久", "nlu_fallback", 0.3, ranking=ranking)
    dispatcher, slots = await run(ActionAnswerFaq(), tracker)
    payloads = [b["payload"] for b in sent_buttons(dispatcher)]
    assert "/faq_lv_time_limit" in payloads and "/faq_hv_time_limit" in payloads and "/human_handoff" in payloads
    assert slots["answer_kind"] == "suggest"


@pytest.mark.asyncio
async def test_nothing_close_falls_back_and_offers_a_person() -> None:
    ranking = [{"name": "faq_sanling", "confidence": 0.1}]
    dispatcher, slots = await run(ActionAnswerFaq(), make_tracker("qwpoeiruty", "nlu_fallback", 0.3, ranking=ranking))
    assert sent_text(dispatcher) == t("faq.fallback", "zh_Hans")
    assert sent_buttons(dispatcher)[0]["payload"] == "/human_handoff"
    assert slots["answer_kind"] == "fallback"


@pytest.mark.asyncio
async def test_city_answers_the_pending_question(kb) -> None:
    tracker = make_tracker("我在广州", "inform_region", slots={"pending_topic": "hv_time_limit"})
    dispatcher, slots = await run(ActionSetRegion(), tracker)
    assert region_answer(kb, "hv_time_limit", "广州") in sent_text(dispatcher)
    assert slots["region"] == "广州" and slots["pending_topic"] is None


@pytest.mark.asyncio
async def test_unrecognised_place() -> None:
    dispatcher, _ = await run(ActionSetRegion(), make_tracker("我在火星", "inform_region"))
    assert sent_text(dispatcher) == t("region.unknown", "zh_Hans")


@pytest.mark.asyncio
async def test_out_of_scope_is_declined_unless_it_matches_an_entry_verbatim(kb) -> None:
    dispatcher, slots = await run(ActionOutOfScope(), make_tracker("明天天气怎么样", "out_of_scope"))
    assert sent_text(dispatcher) == t("oos.reply", "zh_Hans") and slots["answer_kind"] == "out_of_scope"
    own_question = kb.by_id["capacity_increase"].questions.zh_Hans[0]
    dispatcher, slots = await run(ActionOutOfScope(), make_tracker(own_question, "out_of_scope"))
    assert slots["answer_id"] == "capacity_increase"


@pytest.mark.asyncio
async def test_every_turn_ends_with_its_meta(kb) -> None:
    dispatcher, _ = await run(ActionAnswerFaq(), make_tracker("湛江低压报装要多久", "faq_lv_time_limit", 0.9))
    meta = dispatcher.messages[-1]["custom"]["meta"]
    assert meta == {
        "intent": "faq_lv_time_limit", "confidence": 0.9, "fallback": False,
        "requested_slot": None, "case_id": None, "answer_id": "lv_time_limit",
    }
    dispatcher, _ = await run(ActionOutOfScope(), make_tracker("明天天气怎么样", "out_of_scope"))
    assert dispatcher.messages[-1]["custom"]["meta"]["fallback"] is True


@pytest.mark.asyncio
async def test_unsure_small_talk_goes_through_the_faq_gate() -> None:
    from actions.chitchat import ActionRespond

    dispatcher, slots = await run(ActionRespond(), make_tracker("asdkj qwoeiu", "help", 0.59))
    assert slots["answer_kind"] == "fallback"
    dispatcher, slots = await run(ActionRespond(), make_tracker("谢谢你", "thank", 0.97))
    assert sent_text(dispatcher) == t("chat.thank", "zh_Hans") and slots["answer_kind"] == "chitchat"


GUANGDONG_PLATFORMS = ("广东政务服务网", "粤省事", "粤商通")


@pytest.mark.asyncio
@pytest.mark.parametrize("intent", ["faq_online_channels", "faq_how_to_apply"])
async def test_jinhua_online_channels_never_name_a_guangdong_platform(kb, intent) -> None:
    tracker = make_tracker("金华有哪些线上办电渠道", intent)
    dispatcher, slots = await run(ActionAnswerFaq(), tracker)
    text = sent_text(dispatcher)
    assert "浙里办" in text and "网上国网" in text
    assert not any(platform in text for platform in GUANGDONG_PLATFORMS), text
    assert slots["region"] == "金华"


@pytest.mark.asyncio
async def test_one_citys_answer_asked_from_another_city_says_whose_rule(kb) -> None:
    tracker = make_tracker("佛山村里的房子物权证明能网上审批吗", "faq_village_property_proof")
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    text = sent_text(dispatcher)
    body = region_answer(kb, "village_property_proof", "湛江").split("：", 1)[1]
    assert t("faq.only_region", "zh_Hans", region="湛江", answer=body, asked="佛山") in text
    assert "佛山请以95598答复为准" in text


@pytest.mark.asyncio
async def test_remembered_region_still_gets_whose_rule(kb) -> None:
    tracker = make_tracker("报装还要交哪些费用", "faq_remaining_fees", slots={"region": "广州"}, locale="en")
    dispatcher, _ = await run(ActionAnswerFaq(), tracker)
    assert "I only have Jinhua's rule for this" in sent_text(dispatcher)
    assert "For Guangzhou, please rely on what 95598 tells you." in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_naming_another_city_re_answers_a_one_region_topic(kb) -> None:
    tracker = make_tracker("那佛山呢", "inform_region", slots={"answer_id": "village_property_proof"})
    dispatcher, slots = await run(ActionSetRegion(), tracker)
    assert "这一项我只有湛江的规定" in sent_text(dispatcher) and slots["region"] == "佛山"


@pytest.mark.asyncio
async def test_jinhua_meter_test_fee_is_cancelled(kb) -> None:
    dispatcher, _ = await run(ActionAnswerFaq(), make_tracker("金华校验电表要不要交钱", "faq_meter_check"))
    text = sent_text(dispatcher)
    assert "一般不用交钱" in text and "超过三次" in text


@pytest.mark.asyncio
async def test_undated_answer_says_so_and_targets_read_as_targets(kb) -> None:
    dispatcher, _ = await run(ActionAnswerFaq(), make_tracker("湛江一年停电多久算正常", "faq_supply_reliability"))
    text = sent_text(dispatcher)
    assert "发布日期不详" in text and t("faq.status_target_undated", "zh_Hans") in text
    dispatcher, _ = await run(ActionAnswerFaq(), make_tracker("金华一年停电多久算正常", "faq_supply_reliability"))
    assert "这是目标（期限：2022年12月31日）" in sent_text(dispatcher)


@pytest.mark.asyncio
async def test_suisuikang_says_the_enrolment_has_ended(kb) -> None:
    dispatcher, _ = await run(ActionAnswerFaq(), make_tracker("穗岁康多少钱", "faq_suisuikang_overview"))
    assert "投保期（2022年11月1日至12月31日）已结束" in sent_text(dispatcher)
