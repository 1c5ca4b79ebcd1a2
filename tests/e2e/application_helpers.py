"""Shared steps of the application tests: the fictional applicants and a full form run."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List

import httpx

from tests.e2e.conftest import Chat
from tools.secrets_env import staff_header

# A fictional resident of the local e-licence registry (cases/registry_seed.yml).
CHEN = {
    "name": "陈海明",
    "id_number": "440802198003120310",
    "address": "湛江市赤坎区人民大道中28号",
    "phone": "13800138000",
}


def apply(chat: Chat, person: Dict[str, str] = CHEN, capacity: str = "8千瓦", linked: str = "none") -> Dict[str, Any]:
    """Runs the whole form, one value per message, up to the confirmation (not confirmed).

    In Guangdong the form asks about water and gas (一次办) before the summary: `linked`
    answers it (`none`, `water`, `gas` or `both`)."""
    assert chat.say("我要报装")["meta"]["requested_slot"] == "name"
    assert chat.say(person["name"])["meta"]["requested_slot"] == "id_number"
    assert chat.say(person["id_number"])["meta"]["requested_slot"] == "address"
    assert chat.say(person["address"])["meta"]["requested_slot"] == "phone"
    assert chat.say(person["phone"])["meta"]["requested_slot"] == "customer_type"
    assert chat.say('/inform{"customer_type": "resident"}')["meta"]["requested_slot"] == "capacity_kw"
    reply = chat.say(capacity)
    if reply["meta"]["requested_slot"] == "linked_utilities":
        reply = chat.say(f'/inform{{"linked": "{linked}"}}')
    assert reply["meta"]["requested_slot"] == "confirm"
    return reply


def cases_of(stack, sender_id: str) -> List[Dict[str, Any]]:  # noqa: ANN001
    """The cases the case API holds for a web sender (through its staff API)."""
    response = httpx.get(
        f"{stack.case_api_url}/cases", params={"channel": "web", "sender_id": sender_id}, headers=staff_header()
    )
    assert response.status_code == 200, response.text
    return response.json()["cases"]


def sms_code(stack, case_id: str) -> str:  # noqa: ANN001
    """The last one-time code the case API's development SMS stand-in "texted" for a case."""
    path = stack.var_dir / "sms_outbox.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    texts = [line["text"] for line in lines if line["case_id"] == case_id]
    assert texts, f"no code was texted for {case_id}"
    match = re.search(r"(?<![0-9])[0-9]{6}(?![0-9])", texts[-1].replace(case_id, ""))
    assert match, texts[-1]
    return match.group(0)
