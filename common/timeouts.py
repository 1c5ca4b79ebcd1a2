"""The chain of timeouts of one turn, checked once at start so they cannot drift apart.

A submitting turn waits at three levels: the action's calls to the case API (its budget:
`CASE_API_TIMEOUT_S` per attempt, `SUBMIT_RETRIES` retries and their pauses), Rasa's wait for
the action (`RASA_ACTION_TIMEOUT_S`, patched into Rasa by `nlu/server.py`; Rasa 3.6 hard-codes
5 minutes in `rasa.core.constants.DEFAULT_REQUEST_TIMEOUT`) and the gateway's wait for Rasa
(`RASA_TIMEOUT_S`). Each must be longer than the one inside it, with room for the rest of
the turn, or a resident is told "busy" for a case that was in fact created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.case_client import RETRY_DELAYS_S

if TYPE_CHECKING:
    from common.settings import Settings

SUBMIT_RETRIES = 2  # retries of the case creation within the turn; then it is queued
TURN_MARGIN_S = 5.0  # NLU, tracker reads and the form's own action around the submission


def submission_budget_s(settings: Settings) -> float:
    """The longest the submitting action waits for the case API before queueing."""
    pauses = sum(RETRY_DELAYS_S[min(i, len(RETRY_DELAYS_S) - 1)] for i in range(SUBMIT_RETRIES))
    return settings.case_api_timeout_s * (SUBMIT_RETRIES + 1) + pauses


def check_timeouts(settings: Settings) -> None:
    """Raises SettingsError naming the two settings that are out of order."""
    from common.settings import SettingsError

    budget = submission_budget_s(settings)
    if settings.rasa_action_timeout_s <= budget:
        raise SettingsError(
            f"RASA_ACTION_TIMEOUT_S ({settings.rasa_action_timeout_s:g}) must exceed the submission's case API "
            f"budget ({budget:g} s from CASE_API_TIMEOUT_S={settings.case_api_timeout_s:g})"
        )
    if settings.rasa_timeout_s < settings.rasa_action_timeout_s + TURN_MARGIN_S:
        raise SettingsError(
            f"RASA_TIMEOUT_S ({settings.rasa_timeout_s:g}) must be at least RASA_ACTION_TIMEOUT_S "
            f"({settings.rasa_action_timeout_s:g}) + {TURN_MARGIN_S:g}"
        )
