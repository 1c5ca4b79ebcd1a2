"""tools.bench_regions counts a region's answer shown elsewhere, and choices on clear questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from actions import replies
from knowledge.regions import resolve
from tools.bench_regions import figures, wrong_region


@dataclass
class Out:
    question: Dict[str, Any]
    answer_id: Optional[str]
    text: str
    fallback: bool = False
    suggested: List[str] = field(default_factory=list)


def q(text: str, expect: str, locale: str = "zh_Hans") -> Dict[str, Any]:
    return {"text": text, "expect": expect, "locale": locale}


def test_a_bare_answer_for_another_city_is_a_wrong_region(kb) -> None:
    entry = kb.by_id["village_property_proof"]
    bare = replies.answer_text(entry.answers[0], "zh_Hans")
    assert wrong_region(Out(q("佛山村民物权证明怎么办", entry.id), entry.id, bare), kb)
    result = resolve(entry, kb.gazetteer.find("佛山"))
    hedged = replies.only_region_text(result.answer, kb.gazetteer, "zh_Hans", result.unknown_region)
    assert not wrong_region(Out(q("佛山村民物权证明怎么办", entry.id), entry.id, hedged), kb)
    assert not wrong_region(Out(q("湛江村民物权证明怎么办", entry.id), entry.id, bare), kb)


def test_guangdong_channels_given_for_jinhua_are_a_wrong_region(kb) -> None:
    entry = kb.by_id["online_channels"]
    guangdong = next(a for a in entry.answers if a.region == "广东")
    text = replies.answer_text(guangdong, "en")
    assert wrong_region(Out(q("online channels in Jinhua", entry.id, "en"), entry.id, text), kb)
    assert not wrong_region(Out(q("online channels in Shenzhen", entry.id, "en"), entry.id, text), kb)


def test_clarifications_count_on_single_answer_questions(kb) -> None:
    outs = [
        Out(q("a", "meter_check"), None, "", fallback=True, suggested=["meter_check", "remaining_fees"]),
        Out(q("b", "meter_check"), "meter_check", "x"),
        Out(q("c", "out_of_scope"), None, "", fallback=True, suggested=["hotlines"]),
        Out(q("d", "hotlines"), "hotlines", "y"),
    ]
    result = figures(outs, kb)
    assert result["clarifications_single"] == 1 / 3 and result["wrong_region_answers"] == 0
