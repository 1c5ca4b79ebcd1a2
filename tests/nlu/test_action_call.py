"""nlu/action_call.py: an action call carries the conversation's state and this turn's events.

Before: every event of the session (each user message with its whole NLU parse) and the
domain went to the action server on every call, encoded and decoded each time."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa.core.actions.action import ActionListen, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from nlu import action_call

DOMAIN = Domain.from_dict({
    "intents": ["ask", "apply"],
    "slots": {"name": {"type": "text", "mappings": [{"type": "custom"}]},
              "phone": {"type": "text", "mappings": [{"type": "custom"}]}},
    "forms": {"application_form": {"required_slots": ["name", "phone"]}},
    "actions": ["validate_application_form"],
})


def _tracker() -> DialogueStateTracker:
    events: List[Event] = [ActionExecuted("action_session_start"), ActionExecuted("action_listen")]
    for n in range(30):
        events += [UserUttered(f"问题{n}", {"name": "ask", "confidence": 0.9}), ActionExecuted("action_answer_faq"),
                   BotUttered(f"回答{n}"), ActionExecuted("action_listen")]
    events += [UserUttered("我要报装", {"name": "apply", "confidence": 0.9}), ActionExecuted("application_form"),
               ActiveLoop("application_form"), SlotSet("requested_slot", "name"), ActionExecuted("action_listen"),
               UserUttered("陈海明", {"name": "ask", "confidence": 0.4}), SlotSet("name", "陈海明")]
    return DialogueStateTracker.from_events("web:a", events, DOMAIN.slots)


def _payload(selective: bool, tracker: DialogueStateTracker | None = None,
             action: str = "validate_application_form") -> Dict[str, Any]:
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=selective)
    return RemoteAction(action, endpoint)._action_call_format(tracker or _tracker(), DOMAIN)


@pytest.fixture(autouse=True)
def installed() -> Any:
    action_call.install()
    yield
    action_call.uninstall()


def test_the_call_carries_the_state_and_this_turns_events() -> None:
    tracker = _tracker()
    payload, full = _payload(selective=True, tracker=tracker), tracker.current_state(EventVerbosity.ALL)
    state = payload["tracker"]
    assert [e["event"] for e in state["events"]] == ["user", "slot"] and state["events"][0]["text"] == "陈海明"
    assert len(full["events"]) > 120
    assert {k: v for k, v in state.items() if k != "events"} == {k: v for k, v in full.items() if k != "events"}
    sdk, sdk_full = Tracker.from_dict(state), Tracker.from_dict(full)
    assert sdk.slots_to_validate() == sdk_full.slots_to_validate() == {"name": "陈海明"}
    assert sdk.latest_message == sdk_full.latest_message and sdk.active_loop == sdk_full.active_loop
    assert sdk.latest_action_name == sdk_full.latest_action_name


def test_the_domain_goes_only_where_rasa_would_send_it() -> None:
    """Selective: Rasa sends it to `validate_*` actions (rasa_sdk's form validation reads
    it) and to those that ask for it, not to the others."""
    assert "domain" not in _payload(selective=True, action="action_answer_faq")
    assert _payload(selective=True)["domain"] == DOMAIN.as_dict()
    assert _payload(selective=False, action="action_answer_faq")["domain"] == DOMAIN.as_dict()


def test_before_any_user_message_the_whole_session_goes() -> None:
    tracker = DialogueStateTracker.from_events("web:b", [ActionExecuted("action_session_start")], DOMAIN.slots)
    assert action_call.turn_events(tracker) == list(tracker.events)


class _Processor:
    """Stands for Rasa's MessageProcessor: records what `_run_action` was given to run on."""


@pytest.mark.parametrize("events, kind, copied", [([], "remote", False), ([SlotSet("name", "x")], "remote", True),
                                                 ([], "listen", False), ([], "form", True)])
def test_a_call_without_policy_events_runs_on_the_tracker_itself(
    monkeypatch: pytest.MonkeyPatch, events: List[Event], kind: str, copied: bool
) -> None:
    seen: Dict[str, Any] = {}

    async def rasas(self: Any, action: Any, tracker: DialogueStateTracker, *_args: Any) -> bool:
        seen["ran_on"] = tracker.copy()  # what Rasa's `_run_action` does first
        seen["second_copy"] = tracker.copy()
        return True

    monkeypatch.setattr(action_call.RUN_ACTION, "original", rasas)
    tracker = _tracker()
    action = {"remote": RemoteAction("action_answer_faq", None), "listen": ActionListen(),
              "form": FormAction("application_form", None)}[kind]
    prediction = PolicyPrediction([], "RulePolicy", events=events)
    assert asyncio.run(action_call._run_action(_Processor(), action, tracker, None, None, prediction))
    assert (seen["ran_on"] is not tracker) is copied
    assert seen["second_copy"] is not tracker and "copy" not in tracker.__dict__
