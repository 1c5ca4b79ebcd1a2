"""The web chat API against the real gateway, Rasa server and action server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from common.i18n import format_money, t
from common.rasa_auth import rasa_api_headers
from knowledge.tariff import compute_bill
from tests.e2e.conftest import Chat, texts

META_KEYS = {"intent", "confidence", "fallback", "handoff", "requested_slot", "case_id"}


def answer(kb, entry_id: str, region: str, locale: str = "zh_Hans") -> str:
    return next(a for a in kb.by_id[entry_id].answers if a.region == region).get(locale)


def test_reply_follows_the_contract(chat: Chat) -> None:
    reply = chat.say("三零服务是什么意思")
    assert set(reply) == {"messages", "meta"}
    assert META_KEYS <= set(reply["meta"])
    for message in reply["messages"]:
        assert isinstance(message["text"], str) and isinstance(message["buttons"], list)
    assert reply["meta"]["intent"].startswith("faq_")
    assert 0 <= reply["meta"]["confidence"] <= 1
    assert reply["meta"]["handoff"] is False and reply["meta"]["requested_slot"] is None


def test_faq_answer_names_its_source(chat: Chat, kb) -> None:
    reply = chat.say("三零服务是什么意思")
    assert reply["meta"]["answer_id"] == "sanling" and reply["meta"]["fallback"] is False
    body = texts(reply)
    general = kb.by_id["sanling"].general  # 三零 is defined per region; no region named: the general rule
    assert general.zh_Hans in body
    assert t("faq.source_undated", "zh_Hans", source=general.source) in body


def test_traditional_question_gets_traditional_answer(chat: Chat, kb) -> None:
    reply = chat.say("三零服務係咩意思？")
    assert reply["meta"]["answer_id"] == "sanling"
    assert kb.by_id["sanling"].general.zh_Hant in texts(reply)


def test_english_question_gets_english_answer(chat: Chat, kb) -> None:
    reply = chat.say("What is the hotline number for power supply service?")
    assert reply["meta"]["answer_id"] == "hotlines"
    assert kb.by_id["hotlines"].answers[0].en in texts(reply)


def test_region_in_question_then_follow_up_and_memory(chat: Chat, kb) -> None:
    reply = chat.say("湛江低压用电报装要多长时间")
    assert reply["meta"]["answer_id"] == "lv_time_limit"
    assert answer(kb, "lv_time_limit", "湛江") in texts(reply)
    reply = chat.say("那金华呢")
    assert answer(kb, "lv_time_limit", "金华") in texts(reply)
    # The region named earlier in the conversation answers the next regional question.
    reply = chat.say("高压用户报装要多少个工作日")
    assert reply["meta"]["answer_id"] == "hv_time_limit"
    assert answer(kb, "hv_time_limit", "金华") in texts(reply)


def test_no_region_gives_general_rule_and_asks_the_city(chat: Chat, kb) -> None:
    reply = chat.say("低压用电报装要多长时间")
    entry = kb.by_id["lv_time_limit"]
    assert entry.general.zh_Hans in texts(reply)
    assert t("faq.ask_region", "zh_Hans") in texts(reply)
    buttons = reply["messages"][-1]["buttons"]
    assert {b["title"] for b in buttons} == {a.region for a in entry.answers}
    chosen = next(b for b in buttons if b["title"] == "佛山")
    reply = chat.say(chosen["payload"])
    assert answer(kb, "lv_time_limit", "佛山") in texts(reply)


def test_typed_city_answers_the_pending_question(chat: Chat, kb) -> None:
    chat.say("高压报装一般要多少天")
    reply = chat.say("我在广州")
    assert answer(kb, "hv_time_limit", "广州") in texts(reply)


def test_unverified_figure_carries_the_95598_note(chat: Chat) -> None:
    reply = chat.say("深圳居民阶梯电价每档多少钱")
    assert reply["meta"]["answer_id"] == "residential_tiered_tariff"
    assert t("faq.unverified", "zh_Hans") in texts(reply)


def test_bill_calculator_asks_the_place_then_computes(chat: Chat, kb) -> None:
    reply = chat.say("我家这个月用了350度电费多少")
    buttons = reply["messages"][-1]["buttons"]
    assert {b["title"] for b in buttons} >= {"广州", "深圳"}
    reply = chat.say(next(b["payload"] for b in buttons if b["title"] == "广州"))
    month = dt.datetime.now(ZoneInfo("Asia/Shanghai")).month
    bill = compute_bill(kb.tariffs, province="广东", city="广州", kwh=350, month=month)
    assert reply["meta"]["answer_id"] == "bill"
    assert format_money(bill.total, "zh_Hans") in texts(reply)


def test_bill_with_place_and_month_in_one_message(chat: Chat) -> None:
    reply = chat.say("广州11月用了350度电，电费多少钱")
    assert format_money(Decimal("213.65"), "zh_Hans") in texts(reply)
    assert "117.80" in texts(reply) and "95.85" in texts(reply)


def test_out_of_scope_is_declined(chat: Chat) -> None:
    for question in ("明天广州天气怎么样", "帮我订一张去北京的机票", "Which stocks should I buy today?"):
        reply = chat.say(question)
        assert reply["meta"]["fallback"] is True, question
        assert reply["meta"]["answer_id"] is None


def test_gibberish_falls_back_and_offers_a_person(chat: Chat) -> None:
    reply = chat.say("asdkj qwoeiu zxmcn")
    assert reply["meta"]["fallback"] is True
    assert any(b["payload"] == "/human_handoff" for m in reply["messages"] for b in m["buttons"])


def test_small_talk(chat: Chat) -> None:
    assert chat.say("你好")["meta"]["intent"] == "greet"
    assert t("chat.thank", "zh_Hans") in texts(chat.say("谢谢你"))
    handoff = chat.say("/human_handoff")  # a hand-off to staff, and the hotline for anything urgent
    assert handoff["meta"]["handoff"] is True and "95598" in texts(handoff)
    assert chat.say("/handoff_cancel")["meta"]["handoff"] is False


def test_faq_listing_and_payloads(client: httpx.Client, chat: Chat) -> None:
    data = client.get("/api/faq", params={"locale": "en"}).json()
    assert data["locale"] == "en" and len(data["categories"]) >= 8
    entry = data["categories"][0]["entries"][0]
    assert chat.say(entry["payload"])["meta"]["answer_id"] == entry["id"]


def test_health_and_page(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "rasa": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and "/api/chat" in page.text


def test_rasas_http_api_needs_its_token(chat: Chat, stack) -> None:
    """Rasa's HTTP API serves whole conversations, decrypted: only with `RASA_AUTH_TOKEN`."""
    chat.say("你好")
    url = f"{stack.rasa_url}/conversations/{chat.sender_id}/tracker"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, params={"token": "wrong"}).status_code == 401
    allowed = httpx.get(url, params={"token": stack.rasa_token})
    assert allowed.status_code == 200 and allowed.json()["sender_id"] == chat.sender_id
    assert httpx.post(f"{stack.rasa_url}/model/parse", json={"text": "你好"}).status_code == 401
    # The clients' way, with no secret in the URL: a JWT signed with the token (common/rasa_auth.py).
    signed = httpx.get(url, headers=rasa_api_headers(stack.rasa_token))
    assert signed.status_code == 200 and signed.json()["sender_id"] == chat.sender_id
    assert httpx.get(url, headers=rasa_api_headers("not-the-token-" * 3)).status_code == 401


def test_faq_categories_come_in_their_defined_order(client: httpx.Client) -> None:
    from knowledge.schema import CATEGORIES

    keys = [c["key"] for c in client.get("/api/faq").json()["categories"]]
    assert keys == [k for k in CATEGORIES if k in keys] and keys[0] == "process"


def test_jinhua_online_channels_name_no_guangdong_platform_and_the_city_is_remembered(chat: Chat) -> None:
    """Issue 12: Jinhua's online channels are Zhejiang's; a later one-region topic says whose rule."""
    body = texts(chat.say("金华有哪些线上办电渠道"))
    assert "浙里办" in body
    assert not any(p in body for p in ("广东政务服务网", "粤省事", "粤商通")), body
    reply = chat.say("村民用电的物权证明能不能网上审批")
    assert reply["meta"]["answer_id"] == "village_property_proof"
    assert "这一项我只有湛江的规定" in texts(reply) and "金华请以95598答复为准" in texts(reply)
