"""The zero-document application through /api/chat, against the real services: the form's
paths, the receipt with its QR code, and "where is my application?"."""

from __future__ import annotations

import sqlite3

import httpx

from common.i18n import t
from common.rasa_auth import rasa_api_headers
from tests.e2e.application_helpers import CHEN, apply, cases_of, sms_code
from tests.e2e.conftest import Chat, texts
from tools.secrets_env import staff_header


def test_application_to_receipt_with_qr_code(chat: Chat, client: httpx.Client, stack) -> None:
    summary = apply(chat)
    shown = texts(summary)
    assert "4408**********0310" in shown and "138****8000" in shown
    assert CHEN["id_number"] not in shown and CHEN["phone"] not in shown
    assert "用电申请" in shown  # the process that will apply, from the case API's preview

    receipt = chat.say("/affirm")
    case_id = receipt["meta"]["case_id"]
    assert case_id and receipt["meta"]["requested_slot"] is None
    assert case_id in texts(receipt)
    images = [m["image_url"] for m in receipt["messages"] if m.get("image_url")]
    assert len(images) == 1
    png = httpx.get(images[0])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert httpx.get(images[0].split("?")[0]).status_code == 403  # unsigned links show nothing

    [case] = cases_of(stack, chat.sender_id)
    assert case["case_id"] == case_id and case["applicant"]["id_number"] == "4408**********0310"
    assert case["signature"]["registry_consent"] and case["signature"]["esign_consent"]
    assert case["documents"] == {"identity": "verified", "property": "verified"}

    status = chat.say("我的申请到哪一步了")
    assert case_id in texts(status) and "用电申请" in texts(status)


def test_several_values_in_one_message_are_all_taken(chat: Chat) -> None:
    reply = chat.say(f"我要报装，我叫{CHEN['name']}，身份证{CHEN['id_number']}，电话{CHEN['phone']}")
    assert reply["meta"]["requested_slot"] == "address"


def test_wrong_values_are_re_asked_with_the_reason_then_explained(chat: Chat) -> None:
    chat.say("我要报装")
    chat.say("王小明")
    first = chat.say("440802198003120311")
    assert first["meta"]["requested_slot"] == "id_number"
    assert t("form.problem.id_checksum", "zh_Hans") in texts(first)
    second = chat.say("440802198003120311")
    assert t("form.explain.id_number", "zh_Hans") in texts(second)
    payloads = {b["payload"] for m in second["messages"] for b in m["buttons"]}
    assert {"/continue_form", "/cancel_form", "/human_handoff"} <= payloads
    assert chat.say("/continue_form")["meta"]["requested_slot"] == "id_number"
    assert chat.say(CHEN["id_number"])["meta"]["requested_slot"] == "address"
    vague = chat.say("我家")
    assert vague["meta"]["requested_slot"] == "address"
    assert t("form.problem.address_vague", "zh_Hans") in texts(vague)
    outside = chat.say("北京市朝阳区建国路1号")
    assert t("form.problem.address_outside_area", "zh_Hans") in texts(outside)


def test_kwh_is_refused_as_a_capacity(chat: Chat) -> None:
    reply = chat.say(f"我要报装，我叫{CHEN['name']}，身份证{CHEN['id_number']}，电话{CHEN['phone']}")
    chat.say(CHEN["address"])
    chat.say("居民")
    refused = chat.say("350度")
    assert refused["meta"]["requested_slot"] == "capacity_kw"
    assert t("form.problem.capacity_energy_unit", "zh_Hans") in texts(refused)
    assert reply["meta"]["fallback"] is False


def test_a_question_mid_form_is_answered_and_the_form_resumes(chat: Chat, kb) -> None:
    chat.say("我要报装")
    chat.say("陈海明")
    reply = chat.say("湛江低压报装要多久？")
    answer = next(a for a in kb.by_id["lv_time_limit"].answers if a.region == "湛江")
    assert answer.zh_Hans in texts(reply)
    assert reply["meta"]["requested_slot"] == "id_number"


def test_a_correction_before_confirming_asks_that_field_again(chat: Chat) -> None:
    apply(chat)
    again = chat.say("地址填错了")
    assert again["meta"]["requested_slot"] == "address"
    summary = chat.say("湛江市霞山区海滨大道5号")
    assert summary["meta"]["requested_slot"] == "confirm"
    assert "霞山区海滨大道5号" in texts(summary)


def test_cancel_creates_nothing(chat: Chat, stack) -> None:
    apply(chat)
    reply = chat.say("不办了")
    assert reply["meta"]["requested_slot"] is None
    assert t("form.cancelled", "zh_Hans") in texts(reply)
    assert cases_of(stack, chat.sender_id) == []
    assert chat.say("我的申请到哪一步了")["meta"]["case_id"] is None


def test_someone_elses_case_needs_the_code_texted_to_its_phone(client: httpx.Client, stack) -> None:
    owner = Chat(client)
    apply(owner)
    case_id = owner.say("/affirm")["meta"]["case_id"]
    stranger = Chat(client)
    ask = stranger.say(f"查一下案件 {case_id} 到哪一步了")
    assert ask["meta"]["requested_slot"] == "id_last4"
    assert t("status.ask_code", "zh_Hans") in texts(ask) and "用电申请" not in texts(ask)
    code = sms_code(stack, case_id)
    wrong = stranger.say("000000" if code != "000000" else "111111")
    assert t("status.code_wrong", "zh_Hans") in texts(wrong) and "用电申请" not in texts(wrong)
    right = stranger.say(code)
    assert case_id in texts(right) and "用电申请" in texts(right)
    # The owner's own conversation needs no code at all.
    assert case_id in texts(owner.say("我的申请到哪一步了"))


def test_english_applicant_keeps_english_while_giving_chinese_data(chat: Chat) -> None:
    first = chat.say("I want to apply for electricity")
    assert first["meta"]["requested_slot"] == "name"
    assert t("form.ask.name", "en") in texts(first)
    chat.say("Chen Haiming")
    chat.say(CHEN["id_number"])
    reply = chat.say(CHEN["address"])
    assert reply["meta"]["requested_slot"] == "phone"
    assert t("form.ask.phone", "en") in texts(reply)


def test_transitions_need_the_staff_key(stack) -> None:
    response = httpx.post(f"{stack.case_api_url}/cases/440800-20261124-0001/transitions", json={"to_stage": "x"})
    assert response.status_code == 401
    assert httpx.get(f"{stack.case_api_url}/cases", params={"channel": "web", "sender_id": "x"},
                     headers=staff_header()).status_code == 200


def test_a_question_about_applying_is_answered_with_an_offer_to_apply(chat: Chat) -> None:
    reply = chat.say("我想给新开的店申请用电，去哪里办？")
    # Whether NLU calls it faq_how_to_apply or apply_connection, it is answered, not started.
    assert reply["meta"]["requested_slot"] is None
    assert reply["meta"]["answer_id"] == "how_to_apply" and reply["meta"]["fallback"] is False
    payloads = [b["payload"] for m in reply["messages"] for b in m["buttons"]]
    assert "/apply_connection" in payloads
    assert chat.say("/apply_connection")["meta"]["requested_slot"] == "name"


def test_status_with_no_application_says_so(chat: Chat) -> None:
    reply = chat.say("我的申请到哪一步了？")
    assert t("status.none", "zh_Hans") in texts(reply)


def test_personal_data_is_unreadable_in_every_file_the_services_write(chat: Chat, stack) -> None:
    """ID numbers and phones typed in the chat are encrypted at rest and masked in logs:
    Rasa's tracker store (events sealed by nlu/tracker_store.py), the application database,
    the case API's database and every service's log."""
    apply(chat)
    chat.say("/affirm")
    spaced = ("138 0013 8000", "440802-19800312-0310", "４４０８０２１９８００３１２０３１０")
    chat.say(f"我的电话是 {spaced[0]}，身份证 {spaced[1]}")
    chat.say(spaced[2])
    # Rasa never saw them (the gateway tokenises, common/pii_vault.py): its tracker, read
    # through its API with every event, has no ID number or phone in any form.
    tracker = httpx.get(f"{stack.rasa_url}/conversations/{chat.sender_id}/tracker", params={"include_events": "ALL"},
                        headers=rasa_api_headers(stack.rasa_token)).text
    assert len(tracker) > 1000 and "piiid" in tracker and "piiph" in tracker
    for form in (CHEN["id_number"], CHEN["phone"], "19800312", "0013 8000", "00138000", *spaced,
                 "\\uff14\\uff14\\uff10\\uff18"):
        assert form not in tracker, f"{form} in Rasa's tracker"
    tracker_db = stack.var_dir / "rasa_tracker.db"
    with sqlite3.connect(tracker_db) as conn:  # the conversation is there, not in memory
        (stored,) = conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (chat.sender_id,)).fetchone()
    assert stored > 10
    written = [path for path in stack.var_dir.rglob("*") if path.is_file()]
    assert {"rasa_tracker.db", "app.db", "cases.db", "rasa.log", "gateway.log"} <= {p.name for p in written}
    for path in written:
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # a -wal/-shm file SQLite removed meanwhile (checkpointed)
            continue
        for secret in (CHEN["id_number"], CHEN["phone"], *spaced):
            assert secret.encode() not in content, f"{secret} readable in {path.name}"
        if path.suffix == ".log":  # no secret, no request line with a URL, no previewed address
            for leak in (stack.rasa_token, "token=", "HTTP Request:", "人民大道中28号"):
                assert leak.encode() not in content, f"{leak!r} in {path.name}"
