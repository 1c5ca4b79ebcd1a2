"""Lexical retrieval over the knowledge base, and the confidence gate for FAQ answers.

DIET ranks intents; this module ranks entries by character n-gram TF-IDF similarity to
their question variants and titles, then blends the two. The blend is gated: a confident,
clear winner is answered; a near tie is offered as choices; anything else is a fallback.
Rasa's FallbackClassifier cannot do this because it looks only at intent confidence.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, List, Mapping, Optional, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from common.settings import Settings
from knowledge.schema import Entry

ANSWER = "answer"
SUGGEST = "suggest"
FALLBACK = "fallback"


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    score: float
    diet: float
    lexical: float


@dataclass(frozen=True)
class Decision:
    kind: str  # answer | suggest | fallback
    candidates: List[Candidate]


@dataclass(frozen=True)
class Gate:
    """Thresholds of the FAQ gate. Their values are settings (FAQ_ANSWER_THRESHOLD,
    FAQ_SUGGEST_THRESHOLD, FAQ_MARGIN, FAQ_DIET_WEIGHT, FAQ_OOS_RESCUE), defaulted there only."""

    answer: float
    suggest: float
    margin: float
    diet_weight: float
    # Lexical similarity at which a message the model calls out of scope is answered anyway.
    oos_rescue: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Gate:
        return cls(
            answer=settings.faq_answer_threshold,
            suggest=settings.faq_suggest_threshold,
            margin=settings.faq_margin,
            diet_weight=settings.faq_diet_weight,
            oos_rescue=settings.faq_oos_rescue,
        )


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


class LexicalIndex:
    """Character n-gram TF-IDF over every question variant and title of every entry."""

    def __init__(self, entries: Sequence[Entry], preprocess: Optional[Callable[[str], str]] = None):
        self._preprocess = preprocess or (lambda s: s)
        docs: List[str] = []
        owners: List[int] = []
        self.entry_ids = [e.id for e in entries]
        for i, entry in enumerate(entries):
            texts = [*entry.questions.zh_Hans, *entry.questions.en, entry.title.zh_Hans, entry.title.en]
            for text in texts:
                docs.append(self._prep(text))
                owners.append(i)
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, lowercase=False
        )
        self._matrix = self._vectorizer.fit_transform(docs)
        self._owners = np.array(owners)

    def _prep(self, text: str) -> str:
        return self._preprocess(_normalize(text))

    def scores(self, query: str) -> dict[str, float]:
        """Returns, per entry, the best cosine similarity between `query` and its variants."""
        vector = self._vectorizer.transform([self._prep(query)])
        if vector.nnz == 0:
            return {}
        sims = (self._matrix @ vector.T).toarray().ravel()
        best = np.zeros(len(self.entry_ids))
        np.maximum.at(best, self._owners, sims)
        return {self.entry_ids[i]: float(best[i]) for i in np.flatnonzero(best)}


def blend(
    diet: Mapping[str, float], lexical: Mapping[str, float], gate: Gate, top: int = 5
) -> List[Candidate]:
    """Blends DIET confidences and lexical similarities per entry, best first."""
    ids: Iterable[str] = set(diet) | set(lexical)
    candidates = [
        Candidate(
            entry_id=i,
            score=gate.diet_weight * diet.get(i, 0.0) + (1 - gate.diet_weight) * lexical.get(i, 0.0),
            diet=diet.get(i, 0.0),
            lexical=lexical.get(i, 0.0),
        )
        for i in ids
    ]
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates[:top]


def rescue(lexical: Mapping[str, float], gate: Gate) -> Optional[str]:
    """The entry to answer although NLU said out of scope: only a near-verbatim lexical match."""
    if not lexical:
        return None
    best = max(lexical, key=lexical.get)
    return best if lexical[best] >= gate.oos_rescue else None


def decide(candidates: Sequence[Candidate], gate: Gate) -> Decision:
    """Answers a clear winner; offers a choice only between entries genuinely close to the best
    (within the margin); a lone candidate below the answer threshold is offered alone; else
    falls back."""
    if not candidates or candidates[0].score < gate.suggest:
        return Decision(FALLBACK, [])
    best = candidates[0]
    close = [c for c in candidates[:3] if c.score >= gate.suggest and best.score - c.score < gate.margin]
    if len(close) >= 2:
        return Decision(SUGGEST, close)
    if best.score >= gate.answer:
        return Decision(ANSWER, [best])
    return Decision(SUGGEST, [best])
