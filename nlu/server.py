"""Starts Rasa's server (`python -m nlu.server run …`, the same arguments as `rasa run`)
with two CPU fixes for Rasa 3.6 applied first.

1. Rasa checks every action-server response with `jsonschema.validate`, which re-checks the
   schema itself against its meta-schema on each call: about half of Rasa's CPU per turn
   here. The response is validated against the same schema by `jsonschema_rs`, built once,
   and by `jsonschema` only for the error of a response it refuses.
2. Event deserialisation walks the Event class tree for every event of every tracker read;
   the tree does not change at run time, so the lookup is cached by type name.

Both keep Rasa's behaviour (same schema, same errors, same event classes); tests check it.
Rasa's wait for an action is set from `RASA_ACTION_TIMEOUT_S` (Rasa 3.6 hard-codes 5 minutes),
so it stays inside the gateway's wait for the turn (`common/timeouts.py`).
With `ACTION_SERVER_URLS` naming several action servers, the action endpoint goes to them
round-robin with failover (`nlu/action_failover.py`).
Log records are masked as in every process of the project (`common.logs.mask_every_record`).
A tracker that cannot be read (the tracker store's database unreachable) fails the turn
instead of starting it on an empty conversation (`strict_tracker_reads`).
RulePolicy featurises only the states its longest rule can see, not the whole session
(`nlu/rule_window.py`): a prediction's cost no longer grows with the conversation; nor does
an action call's, which carries the state and this turn's events (`nlu/action_call.py`).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any, Dict, Optional, Type

import jsonschema
import jsonschema_rs
import rasa.core.actions.action as rasa_action
import rasa.utils.endpoints as rasa_endpoints
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core import events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

from common.logs import mask_every_record, quiet_client_libraries
from common.service_secret import SECRET_NAME
from common.settings import Settings
from nlu import action_call, action_failover, rule_window
from nlu.patch import Patch

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _response_validator() -> jsonschema.protocols.Validator:
    schema = RemoteAction.action_response_format_spec()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.lru_cache(maxsize=1)
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(RemoteAction.action_response_format_spec())


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Rasa's check of an action response, first by `jsonschema_rs` (the same schema, compiled
    in Rust: 0.01 ms against 3.4 ms for a form's response, about 5 % of Rasa's CPU per turn
    under load); a response it refuses goes through `jsonschema` as in Rasa, for Rasa's error
    (and accepted if `jsonschema` finds no fault, so nothing is refused that Rasa accepts)."""
    if _fast_validator().is_valid(result):
        return True
    error = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


@functools.cache
def _event_class(type_name: str) -> Optional[Type[events.Event]]:
    for cls in all_subclasses(events.Event):
        if cls.type_name == type_name:
            return cls
    return None


def _resolve_by_type(type_name: str, default: Optional[Type[events.Event]] = None) -> Optional[Type[Any]]:
    """`Event.resolve_by_type` with the class lookup cached."""
    if type_name == "topic":
        return None  # backwards compatibility, as in Rasa
    cls = _event_class(type_name)
    if cls is not None:
        return cls
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


FIXES = (
    Patch(RemoteAction, "_validate_action_result", _validate_action_result),
    Patch(events.Event, "resolve_by_type", staticmethod(_resolve_by_type)),
)


def install() -> None:
    """Applies both fixes (idempotent)."""
    for fix in FIXES:
        fix.install()


async def _retrieve_or_raise(self: FailSafeTrackerStore, sender_id: str) -> Optional[DialogueStateTracker]:
    try:
        return await self._tracker_store.retrieve(sender_id)
    except Exception as exc:
        logger.error("tracker of %s not readable, turn refused: %s: %s", sender_id, type(exc).__name__, exc)
        raise


def strict_tracker_reads() -> None:
    """Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore`, whose `retrieve` answers
    None on any error: with the database unreachable Rasa then ran the turn on a new, empty
    conversation (the form in progress forgotten for that turn, its answer out of context), and
    a save that succeeded once the database was back could write that empty conversation's
    events past the real one's (the store writes the events beyond the count it has). Seen in
    tests/chaos/test_postgres_unreachable.py's logs. Now the error propagates: the REST channel
    logs it and answers no message, which the gateway turns into `service.unavailable`. A failed
    save still falls back to memory, as Rasa does (the reply is sent; the turn is not kept)."""
    Patch(FailSafeTrackerStore, "retrieve", _retrieve_or_raise).install()


def set_action_timeout(seconds: float) -> None:
    """Rasa's wait for the action server: the per-call timeout and its session's default."""
    rasa_action.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]
    rasa_endpoints.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]


def main() -> None:
    install()
    settings = Settings.from_env()
    # endpoints.yml sends it to the action server (`${SERVICE_CALL_SECRET}`); the development
    # value when the environment has none, as every process reads its secrets.
    os.environ[SECRET_NAME] = settings.secret(SECRET_NAME)
    set_action_timeout(settings.rasa_action_timeout_s)
    action_failover.install(settings.action_server_urls)
    strict_tracker_reads()
    rule_window.install()  # RulePolicy featurises its longest rule's window, not the session
    action_call.install()  # each action call carries this turn's events, not the session's
    mask_every_record()  # Rasa logs message texts at DEBUG; mask them like every process does
    quiet_client_libraries()  # and no client library's request lines (URLs) at INFO
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
