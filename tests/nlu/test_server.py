"""The CPU fixes applied to Rasa keep its behaviour."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core import events
from rasa.shared.utils.common import all_subclasses

from nlu import server


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    original = events.Event.resolve_by_type
    server.install()
    yield
    events.Event.resolve_by_type = original  # type: ignore[method-assign]


def test_action_responses_are_still_validated() -> None:
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})


@pytest.mark.parametrize("response", [
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": "text"},
    {"events": [{"event": 3}]},
])
def test_the_fast_check_refuses_what_jsonschema_refuses(response: dict) -> None:
    from nlu.server import _fast_validator, _response_validator

    assert list(_response_validator().iter_errors(response)), response  # jsonschema refuses it
    assert not _fast_validator().is_valid(response)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_x", None)._validate_action_result(response)


def test_every_event_type_resolves_as_before() -> None:
    for cls in all_subclasses(events.Event):
        assert events.Event.resolve_by_type(cls.type_name) is not None
    assert events.Event.resolve_by_type("slot") is events.SlotSet
    assert events.Event.resolve_by_type("topic") is None
    assert events.Event.resolve_by_type("nope", default=events.SlotSet) is events.SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        events.Event.resolve_by_type("nope")


def test_rasa_waits_for_actions_as_set() -> None:
    """RASA_ACTION_TIMEOUT_S replaces Rasa's hard-coded 5 minutes (common/timeouts.py)."""
    import rasa.core.actions.action as rasa_action
    import rasa.utils.endpoints as rasa_endpoints

    before = rasa_action.DEFAULT_REQUEST_TIMEOUT
    try:
        server.set_action_timeout(20.0)
        assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 20.0 == rasa_endpoints.DEFAULT_REQUEST_TIMEOUT
    finally:
        server.set_action_timeout(before)
