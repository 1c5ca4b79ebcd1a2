"""RulePolicy featurises only as much of the conversation as its longest rule can look at.

Rasa 3.6's RulePolicy turns the *whole* session into dialogue states at every prediction
(two or three per turn), matches each rule against all of them, and formats and deep-copies
them all for a debug line that is never printed: the cost of a turn grew with the
conversation (a prediction took 0.9 ms after one question and 3.2 ms after forty; py-spy put
the states at an eighth of Rasa's CPU per turn in the closed loop).

A rule of length L is only ever checked against the conversation's last L states: in
`RulePolicy._get_possible_keys` a rule stays possible once the walk back in time has passed
its length (`_is_rule_applicable`: `turn_index >= len(rule)` answers True), so states older
than the longest rule change no rule match, no unhappy-path condition and no prediction. Here
the policy is given only the last `window` states (the longest rule or unhappy-path rule of
the loaded model), built the same way Rasa builds them (`Domain.states_for_tracker_history`
with RulePolicy's options: no rule-only turns hidden, unset slots kept, then
`_choose_last_user_input`); the tracker's events are still replayed from the start (slots
and loops must be what they were), but the states, the matching and the log line cover the
window only, and are built once per tracker state (asked twice right after a user message).
What else changes: the prediction *source* named when no rule matches (a key of the states,
informational) covers the window rather than the whole session.

Installed by `nlu/server.py` for serving only; training (contradiction checks over the
stories) keeps Rasa's own. `tests/nlu/test_rule_window.py` compares the predictions with
Rasa's on every test story's prefixes and on long conversations.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.patch import Patch


def window_of(policy: RulePolicy) -> Optional[int]:
    """The longest rule's length in states (None before the policy has rules)."""
    cached = policy.__dict__.get("_rule_window")
    if cached is not None:
        return cached
    keys = [key for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH) for key in policy.lookup.get(table, {})]
    if not keys:
        return None
    window = max(len(json.loads(key)) for key in keys)
    if policy.featurizer.max_history is not None:  # Rasa slices to it: never a longer window
        window = min(window, policy.featurizer.max_history)
    policy.__dict__["_rule_window"] = window
    return window


def last_states(tracker: DialogueStateTracker, domain: Domain, window: int) -> List[State]:
    """`tracker.past_states(domain)`'s last `window` states, the older ones not built."""
    applied = tracker.applied_events()
    total = 1 + sum(isinstance(event, ActionExecuted) for event in applied)
    skip = max(0, total - window)
    states: List[State] = []
    replay = tracker.init_copy()
    position = 0
    for event in applied:
        if isinstance(event, ActionExecuted):
            if position >= skip:
                states.append(domain._clean_state(domain.get_active_state(replay)))
            position += 1
        replay.update(event)
    states.append(domain._clean_state(domain.get_active_state(replay)))
    return states


def _prediction_states(
    self: RulePolicy,
    tracker: DialogueStateTracker,
    domain: Domain,
    use_text_for_last_user_input: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[State]:
    window = window_of(self)
    if window is None:
        return PATCH.original(self, tracker, domain, use_text_for_last_user_input, rule_only_data)
    states = _copy(_memoised_states(self, tracker, domain, window))
    self.featurizer._choose_last_user_input([states], use_text_for_last_user_input)
    return states


def _memoised_states(policy: RulePolicy, tracker: DialogueStateTracker, domain: Domain, window: int) -> List[State]:
    """The window's states, built once per tracker as it is: a prediction right after a user
    message asks twice (from the text, then from the intent) for the same events."""
    last = tracker.events[-1] if tracker.events else None
    memo = policy.__dict__.get("_states_memo")
    if memo is not None and memo[0] is tracker and memo[1] == len(tracker.events) and memo[2] is last:
        return memo[3]
    states = last_states(tracker, domain, window)
    policy.__dict__["_states_memo"] = (tracker, len(tracker.events), last, states)
    return states


def _copy(states: List[State]) -> List[State]:
    """Copies deep enough for `_choose_last_user_input`, which deletes keys of a sub-state."""
    return [{name: dict(sub_state) for name, sub_state in state.items()} for state in states]


PATCH = Patch(RulePolicy, "_prediction_states", _prediction_states)
install, uninstall = PATCH.install, PATCH.uninstall  # RulePolicy predicts from the window / Rasa's own
