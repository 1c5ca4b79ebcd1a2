"""The turn's timeouts are checked to nest: submission budget < Rasa's wait for an action <
the gateway's wait for Rasa (Rasa's own 5-minute default is replaced: tests/nlu/test_server.py)."""

from __future__ import annotations

import dataclasses

import pytest

from common.settings import Settings, SettingsError
from common.timeouts import check_timeouts, submission_budget_s


def test_the_defaults_nest() -> None:
    settings = Settings()
    check_timeouts(settings)
    assert submission_budget_s(settings) == pytest.approx(5.0 * 3 + 0.3 + 1.0)
    assert submission_budget_s(settings) < settings.rasa_action_timeout_s < settings.rasa_timeout_s


def test_a_gateway_that_gives_up_before_rasa_is_refused() -> None:
    with pytest.raises(SettingsError, match="RASA_TIMEOUT_S"):
        check_timeouts(dataclasses.replace(Settings(), rasa_timeout_s=10.0))


def test_an_action_timeout_inside_the_case_api_budget_is_refused() -> None:
    with pytest.raises(SettingsError, match="CASE_API_TIMEOUT_S=8"):
        check_timeouts(dataclasses.replace(Settings(), case_api_timeout_s=8.0))


def test_from_env_checks_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TIMEOUT_S", "12")
    with pytest.raises(SettingsError):
        Settings.from_env()

