"""nlu/rule_window.py: RulePolicy's predictions from the last states equal Rasa's from all.

Every prediction point of every story the model was trained on and of the test stories, as
is and after sixty earlier turns of small talk (a long session), with the window and with
Rasa's own featurisation, on the trained model. Before: Rasa's cost per prediction grew with
the session (0.9 ms after one question, 3.2 ms after forty, 6.8 ms after a hundred)."""

from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import pytest
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.test import _create_data_generator
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from common.settings import ROOT
from nlu import rule_window
from tools.train import ensure_model

STORIES = [ROOT / "nlu" / "data", ROOT / "tests" / "stories"]


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    yield Agent.load(str(ensure_model()))
    rule_window.uninstall()


def rule_policy(agent: Agent) -> RulePolicy:
    runner: Any = agent.processor.graph_runner  # type: ignore[union-attr]
    for node in runner._instantiated_nodes.values():
        if isinstance(node._component, RulePolicy):
            return node._component
    raise AssertionError("no RulePolicy in the model")


def small_talk(turns: int) -> List[Event]:
    events: List[Event] = []
    for _ in range(turns):
        events += [UserUttered("你好", intent={"name": "greet", "confidence": 1.0}), ActionExecuted("action_respond"),
                   BotUttered("您好"), ActionExecuted("action_listen")]
    return events


def conversations(agent: Agent) -> Iterator[Tuple[str, List[Event]]]:
    for path in STORIES:
        for tracker in _create_data_generator(str(path), agent).generate_story_trackers():
            if tracker.is_rule_tracker:
                continue
            events = list(tracker.events)
            yield tracker.sender_id, events
            start = next(i for i, e in enumerate(events) if isinstance(e, ActionExecuted)
                         and e.action_name == "action_listen") + 1
            yield tracker.sender_id + " (long)", events[:start] + small_talk(60) + events[start:]


def predictions(agent: Agent, events: List[Event]) -> Iterator[Tuple[int, DialogueStateTracker]]:
    for i, event in enumerate(events):
        if isinstance(event, ActionExecuted) and i > 0:
            yield i, DialogueStateTracker.from_events("s", events[:i], agent.domain.slots)


def outcome(policy: RulePolicy, agent: Agent, tracker: DialogueStateTracker) -> Tuple[Any, ...]:
    prediction = policy.predict_action_probabilities(tracker, agent.domain)
    return (prediction.probabilities, prediction.events, prediction.hide_rule_turn,
            prediction.is_end_to_end_prediction, prediction.is_no_user_prediction)


def test_the_window_predicts_what_rasa_predicts(agent: Agent) -> None:
    policy = rule_policy(agent)
    window = rule_window.window_of(policy)
    assert window is not None and 1 <= window < 30
    compared = long_ones = 0
    for name, events in conversations(agent):
        for i, tracker in predictions(agent, events):
            rule_window.uninstall()
            rasa = outcome(policy, agent, tracker)
            rule_window.install()
            windowed = outcome(policy, agent, tracker)
            assert windowed == rasa, f"{name}: prediction before event {i} ({events[i]}) differs"
            compared += 1
            long_ones += len(tracker.events) > 200
    assert compared > 200 and long_ones > 50


def test_the_window_holds_the_last_states_as_rasa_builds_them(agent: Agent) -> None:
    policy = rule_policy(agent)
    window = rule_window.window_of(policy)
    assert window is not None
    events = next(e for name, e in conversations(agent) if name.endswith("(long)"))
    tracker = DialogueStateTracker.from_events("s", events, agent.domain.slots)
    full = tracker.past_states(agent.domain)
    assert len(full) > window
    assert rule_window.last_states(tracker, agent.domain, window) == full[-window:]
    assert rule_window.last_states(tracker, agent.domain, 10_000) == full


def test_a_prediction_no_longer_grows_with_the_session(agent: Agent) -> None:
    """Behaviour, not timing: the number of states the policy matches stays at the window."""
    policy = rule_policy(agent)
    rule_window.install()
    window = rule_window.window_of(policy)
    tracker = DialogueStateTracker.from_events(
        "s", [ActionExecuted("action_listen")] + small_talk(100), agent.domain.slots)
    assert len(policy._prediction_states(tracker, agent.domain)) == window


def test_the_states_are_built_again_when_the_tracker_changed(agent: Agent) -> None:
    """The window is built once per tracker state: the same tracker after one more event
    gets the new states, and a caller's edits of the states reach no one else."""
    policy = rule_policy(agent)
    rule_window.install()
    tracker = DialogueStateTracker.from_events(
        "s", [ActionExecuted("action_listen")] + small_talk(3), agent.domain.slots)
    first = policy._prediction_states(tracker, agent.domain)
    first[-1].clear()
    assert policy._prediction_states(tracker, agent.domain)[-1]  # not the edited copy
    tracker.update(UserUttered("谢谢", intent={"name": "thank", "confidence": 1.0}))
    after = policy._prediction_states(tracker, agent.domain, use_text_for_last_user_input=False)
    assert after[-1]["user"]["intent"] == "thank"
    expected = rule_window.last_states(tracker, agent.domain, rule_window.window_of(policy))
    policy.featurizer._choose_last_user_input([expected], False)
    assert after == expected
