"""Deterministic triage of a resident's message, run before the model sees it.

An emergency (electric shock, fire, smoke, fallen wires, current leaking) must get safety
advice at once, whatever the model or the FAQ gate think; a long or building-wide outage goes
to a person with priority "high"; an explicit request for a person (转人工, /human, the button)
opens a hand-off; complaint words offer one. Plain patterns, in Simplified, Traditional and
Cantonese script and English, so the decision is the same every time and testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from common.chat_contract import (
    HUMAN_PAYLOAD,
    REASON_ASKED,
    REASON_COMPLAINT,
    REASON_EMERGENCY,
    REASON_OUTAGE,
)

EMERGENCY = "emergency"
OUTAGE = "outage"
REQUEST = "request"
COMPLAINT = "complaint"

_EMERGENCY_ZH = re.compile(
    r"触电|觸電|电到人|電到人|着火|著火|起火|失火|火灾|火災|烧起来|燒起來|冒烟|冒煙|冒火花|打火花|"
    r"电线(?:掉|断|落|垂|脱)|電線(?:掉|斷|落|垂|甩)|断线|斷線|线断了|線斷咗|"
    r"漏电(?!保护|保護|开关|開關|断路|斷路|器)|漏電(?!保护|保護|开关|開關|斷路|器)"
)
_EMERGENCY_EN = re.compile(
    r"\b(?:electric(?:al)? shock|electrocut\w*|got (?:a )?shock(?:ed)?|shocked by|on fire|caught fire|"
    r"(?:is|are) burning|smok(?:e|ing)\b|sparks?\b|sparking|"
    r"(?:fallen|downed|broken|snapped|dangling) (?:power |electric(?:al)? )?(?:line|wire|cable)s?|"
    r"(?:power |electric(?:al)? )?(?:line|wire|cable)s? (?:is |are |has |have )?(?:down|fallen|fell|snapped|broken)|"
    r"live wire|leak\w* (?:electricity|current)|current leak\w*)",
    re.IGNORECASE,
)
# Not an emergency: the object, not the event (a cooker that will not light, a smoke detector).
_NOT_EMERGENCY = re.compile(
    r"(?:打|点|點)(?:不|唔)(?:着|著)火|smoke (?:detector|alarm)|no smoking", re.IGNORECASE
)

_OUTAGE = re.compile(
    r"停电(?:很久|好久|好长时间|很长时间|一整天|一天了|几个小时|半天)|停了(?:很久|好久|一天|半天)|"
    r"停電(?:很久|好久|好耐|成日|一整天|幾個鐘)|"
    r"整(?:栋|幢|座|个小区|條街|条街|个村)(?:楼)?(?:都)?停电|整(?:棟|幢|座|個小區|條街|個村)(?:樓)?(?:都)?停電|"
    r"全(?:楼|小区|村)(?:都)?停电|"
    r"\b(?:power|electricity) (?:has been|was|is) (?:out|off|down) (?:for )?(?:hours|a day|all day|since)|"
    r"\bwhole (?:building|block|street|estate)\b.*\b(?:no power|outage|power cut|blackout)|"
    r"\b(?:outage|power cut|blackout)\b.*\bwhole (?:building|block|street|estate)\b",
    re.IGNORECASE,
)

_REQUEST = re.compile(
    r"转人工|轉人工|(?:转接|轉接|接|要|搵|揾|找)人工|^人工$|(?:跟|同|搵|揾)真人|找(?:人工)?客服|人工服务|人工服務|人工客服|(?:找|要|转|轉|换|換|叫)(?:个|個)?真人|真人(?:客服|服务|服務)|接线员|接線員|"
    r"\b(?:talk|speak|chat) (?:to|with) (?:a |an |some |real )*(?:person|human|agent|people|someone)\b|"
    r"\b(?:want|need|get|give me) (?:a |an )?(?:real |live )?(?:person|human|agent)\b|\bhuman agent\b",
    re.IGNORECASE,
)
# "国家电网人工客服电话": a question about the hotline, answered from the knowledge base.
_HOTLINE_QUESTION = re.compile(r"电话|電話|号码|號碼|热线|熱線|\bphone\b|\bnumber\b|\bhotline\b", re.IGNORECASE)
REQUEST_COMMANDS = frozenset({HUMAN_PAYLOAD, "/human", "/human@", "/agent"})

_COMPLAINT = re.compile(
    r"投诉|投訴|不满意|唔滿意|不滿意|差评|差評|太差了|态度差|態度差|"
    r"\bcomplain\w*|\bterrible service\b|\bunacceptable\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Triage:
    kind: str  # emergency | outage | request | complaint
    reason: str
    priority: str


def triage(text: str) -> Optional[Triage]:
    """What the message calls for before the model: None when it is an ordinary message."""
    stripped = text.strip()
    if stripped.split("@")[0].lower() in REQUEST_COMMANDS:
        return Triage(REQUEST, REASON_ASKED, "normal")
    if stripped.startswith("/"):
        return None  # other button payloads and commands are the assistant's
    if not _NOT_EMERGENCY.search(stripped) and (_EMERGENCY_ZH.search(stripped) or _EMERGENCY_EN.search(stripped)):
        return Triage(EMERGENCY, REASON_EMERGENCY, "urgent")
    if _OUTAGE.search(stripped):
        return Triage(OUTAGE, REASON_OUTAGE, "high")
    if _REQUEST.search(stripped) and not _HOTLINE_QUESTION.search(stripped):
        return Triage(REQUEST, REASON_ASKED, "normal")
    if _COMPLAINT.search(stripped):
        return Triage(COMPLAINT, REASON_COMPLAINT, "normal")
    return None
