"""What Rasa sends the action server on each call: the conversation's state and this turn's
events, not the whole session.

Rasa 3.6 sends `tracker.current_state(EventVerbosity.ALL)`: every event of the session, each
user message with its full NLU parse, encoded by Rasa and decoded by the action server on
every action call (two or three a turn). Late in a conversation that was most of the bytes
and, with the tracker copy Rasa makes per call, a tenth of Rasa's CPU per turn (py-spy).

The actions here read only the state: slots, `latest_message`, `latest_action_name`,
`sender_id` (`grep tracker\\. actions/`); rasa_sdk itself reads the events only for
`Tracker.slots_to_validate` (the slot events at the end, which are this turn's). So the call
carries the state as Rasa builds it and the events from the latest user message on (the
whole session when there is none yet). An action that ever needs older events must not rely
on this payload: read them from the gateway's transcript, or drop this patch. Rasa's copy of
the whole tracker before each such call (replaying every event, only so that policy events
can be dropped on a rejection) is skipped for these calls and for `action_listen` when the
prediction adds no events.

Nor is the domain sent, but to `validate_*` actions (`enable_selective_domain: true` in
`endpoints*.yml`; Rasa still sends it to those, for rasa_sdk's form validation): no other
action reads it.
"""

from __future__ import annotations

from typing import Any, Dict, List

import rasa
from rasa.core.actions.action import Action, ActionListen, RemoteAction
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from nlu.patch import Patch


def turn_events(tracker: DialogueStateTracker) -> List[Event]:
    """The events from the latest user message on (all of them before the first one)."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return events


def _action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> Dict[str, Any]:
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in turn_events(tracker)]
    result: Dict[str, Any] = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
                              "version": rasa.__version__}
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = domain.as_dict()
    return result


async def _run_action(self: MessageProcessor, action: Action, tracker: DialogueStateTracker,
                      output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
                      prediction: PolicyPrediction) -> bool:
    """Rasa's `_run_action` without its tracker copy for an action-server call or a listen that
    adds no policy events: the copy (every event replayed) only keeps those events off the
    tracker if the action is rejected; `RemoteAction.run` only reads the tracker and
    `ActionListen.run` does not look at it."""
    if not isinstance(action, RemoteAction | ActionListen) or prediction.events:
        return await RUN_ACTION.original(self, action, tracker, output_channel, nlg, prediction)

    def itself() -> DialogueStateTracker:  # Rasa's first `tracker.copy()`, and only that one
        del tracker.copy
        return tracker

    tracker.copy = itself  # type: ignore[method-assign]
    try:
        return await RUN_ACTION.original(self, action, tracker, output_channel, nlg, prediction)
    finally:
        tracker.__dict__.pop("copy", None)


FORMAT = Patch(RemoteAction, "_action_call_format", _action_call_format)
RUN_ACTION = Patch(MessageProcessor, "_run_action", _run_action)


def install() -> None:
    """This turn's events in each call, no copy for it (idempotent)."""
    FORMAT.install()
    RUN_ACTION.install()


def uninstall() -> None:
    """Rasa's whole session and copy again (tests)."""
    FORMAT.uninstall()
    RUN_ACTION.uninstall()
