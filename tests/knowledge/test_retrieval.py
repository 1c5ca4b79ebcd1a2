"""Lexical retrieval and the FAQ confidence gate."""

from knowledge.retrieval import ANSWER, FALLBACK, SUGGEST, Candidate, Gate, blend, decide

GATE = Gate(answer=0.55, suggest=0.30, margin=0.12, diet_weight=0.6, oos_rescue=0.75)  # fixed figures, not the defaults


def test_every_entry_finds_itself_by_its_own_questions(kb) -> None:
    misses = []
    for entry in kb.entries:
        for question in entry.questions.zh_Hans[:5]:
            scores = kb.index.scores(question)
            if max(scores, key=scores.get) != entry.id:
                misses.append((entry.id, question))
    assert len(misses) <= 0.02 * 5 * len(kb.entries), misses


def test_place_names_do_not_drive_the_match(kb) -> None:
    plain = kb.index.scores("低压报装要多久")
    with_city = kb.index.scores("湛江低压报装要多久")
    assert max(plain, key=plain.get) == max(with_city, key=with_city.get)


def test_blend_weights_diet_and_lexical() -> None:
    ranked = blend({"a": 0.9, "b": 0.1}, {"b": 0.8, "c": 0.5}, GATE)
    assert [c.entry_id for c in ranked] == ["a", "b", "c"]
    assert abs(ranked[0].score - 0.54) < 1e-9


def test_decide_answers_a_clear_winner() -> None:
    assert decide([Candidate("a", 0.8, 0.9, 0.6), Candidate("b", 0.3, 0.2, 0.4)], GATE).kind == ANSWER


def test_decide_offers_choices_on_a_near_tie() -> None:
    result = decide([Candidate("a", 0.6, 0, 0), Candidate("b", 0.55, 0, 0), Candidate("c", 0.2, 0, 0)], GATE)
    assert result.kind == SUGGEST and [c.entry_id for c in result.candidates] == ["a", "b"]


def test_decide_falls_back_when_nothing_is_close() -> None:
    assert decide([Candidate("a", 0.2, 0.2, 0.1)], GATE).kind == FALLBACK
    assert decide([], GATE).kind == FALLBACK


def test_a_choice_only_between_entries_close_to_the_best() -> None:
    """A clear best with a distant runner-up is answered, not offered with it (issue 12)."""
    result = decide([Candidate("a", 0.7, 0, 0), Candidate("b", 0.5, 0, 0), Candidate("c", 0.45, 0, 0)], GATE)
    assert result.kind == ANSWER
    result = decide([Candidate("a", 0.45, 0, 0), Candidate("b", 0.31, 0, 0)], GATE)
    assert result.kind == SUGGEST and [c.entry_id for c in result.candidates] == ["a"]
