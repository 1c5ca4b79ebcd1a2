"""One settings object for every process, read from environment variables.

Each variable is documented in `.env.example`. Defaults are the embedded development set-up
(SQLite files under `var/`, services on loopback). Secrets have no usable default: a
placeholder is refused unless `APP_ENV=development` (the default for `make run` and tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_PREFIX = "change-me"


class SettingsError(ValueError):
    """A setting is missing or unsafe for the environment it runs in."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Settings of all services; build with `Settings.from_env()`."""

    app_env: str = "development"
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    rasa_timeout_s: float = 10.0
    default_locale: str = "zh_Hans"
    max_message_chars: int = 4096
    knowledge_dir: Path = ROOT / "knowledge"
    log_level: str = "INFO"
    faq_answer_threshold: float = 0.55
    faq_suggest_threshold: float = 0.30
    faq_margin: float = 0.12
    faq_diet_weight: float = 0.6
    faq_oos_rescue: float = 0.75
    secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Reads every setting from the environment and checks secrets for the environment."""
        var_dir = Path(_env("VAR_DIR", str(ROOT / "var")))
        settings = cls(
            app_env=_env("APP_ENV", "development"),
            var_dir=var_dir,
            database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'app.db'}"),
            rasa_url=_env("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            action_server_url=_env("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook"),
            gateway_host=_env("GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_env_int("GATEWAY_PORT", 8080),
            rasa_timeout_s=_env_float("RASA_TIMEOUT_S", 10.0),
            default_locale=_env("DEFAULT_LOCALE", "zh_Hans"),
            max_message_chars=_env_int("MAX_MESSAGE_CHARS", 4096),
            knowledge_dir=Path(_env("KNOWLEDGE_DIR", str(ROOT / "knowledge"))),
            log_level=_env("LOG_LEVEL", "INFO"),
            faq_answer_threshold=_env_float("FAQ_ANSWER_THRESHOLD", 0.55),
            faq_suggest_threshold=_env_float("FAQ_SUGGEST_THRESHOLD", 0.30),
            faq_margin=_env_float("FAQ_MARGIN", 0.12),
            faq_diet_weight=_env_float("FAQ_DIET_WEIGHT", 0.6),
            faq_oos_rescue=_env_float("FAQ_OOS_RESCUE", 0.75),
        )
        settings.check()
        return settings

    @property
    def is_development(self) -> bool:
        return self.app_env in {"development", "test"}

    def check(self) -> None:
        """Refuses placeholder secrets outside development."""
        for name, value in self.secrets.items():
            if not self.is_development and (not value or value.startswith(PLACEHOLDER_PREFIX)):
                raise SettingsError(f"{name} must be set to a real secret when APP_ENV={self.app_env}")
