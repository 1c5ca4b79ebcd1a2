"""Benchmark figures of issue 12, from the accuracy run's replies: wrong-region answers and
clarifications on questions with one right entry.

A wrong-region answer is a reply that shows one region's answer text to a resident who asked
about a region it does not cover (or asked about none) without saying that it is only that
region's rule ("这一项我只有X的规定"). Target 0. A clarification is the "您是想问以下哪个问题？"
choice offered instead of an answer; every in-scope question of the benchmark sets has one
right entry, so any choice there counts. Target ≤ 2 %.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol

from common.i18n import t
from common.settings import ROOT
from knowledge.regions import Region, covers
from knowledge.service import KnowledgeBase

ROWS = [
    ("wrong-region answers (target 0)", "wrong_region_answers", "{:d}"),
    ("clarifications, single-answer questions", "clarifications_single", "{:.1%}"),
]


class _Outcome(Protocol):
    question: Dict[str, Any]
    answer_id: Optional[str]
    fallback: bool
    suggested: List[str]
    text: str


def _only_phrase(locale: str) -> str:
    """The opening of "这一项我只有{region}的规定：" in `locale`, up to the region."""
    return t("faq.only_region_unasked", locale, region="\x00", answer="").split("\x00")[0]


def wrong_region(outcome: _Outcome, kb: KnowledgeBase) -> bool:
    """Whether the reply gives a region's answer as if it applied to the region asked about."""
    entry = kb.by_id.get(outcome.answer_id or "")
    if entry is None or outcome.fallback:
        return False
    locale = outcome.question["locale"]
    asked: Optional[Region] = kb.gazetteer.find(outcome.question["text"])
    hedged = _only_phrase(locale) in outcome.text
    for answer in entry.answers:
        body = answer.get(locale)
        shown = body in outcome.text or body.split("：", 1)[-1].split(": ", 1)[-1] in outcome.text
        if not shown or answer.covers == "national":
            continue
        if asked is not None and covers(answer, asked):
            continue
        if not hedged:
            return True
    return False


def figures(outcomes: List[_Outcome], kb: Optional[KnowledgeBase] = None) -> Dict[str, Any]:
    kb = kb or KnowledgeBase.from_files(ROOT / "knowledge")
    good = [o for o in outcomes if o.question["expect"] not in ("out_of_scope", "bill")]
    wrong = [o for o in outcomes if wrong_region(o, kb)]
    return {
        "wrong_region_answers": len(wrong),
        "wrong_region_questions": [o.question["text"] for o in wrong],
        "clarifications_single": sum(1 for o in good if o.suggested) / len(good) if good else 0.0,
    }
