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
# Secrets and the placeholder each has in development. Outside development a placeholder (or
# an empty value) stops the process: see `Settings.check`.
DEV_SECRETS = {
    # Staff key of the case API (`X-Api-Key`); the assistant's action server uses it too.
    "CASE_API_KEY": "change-me-case-api-key",
    # Encrypts ID numbers and phones at rest (Fernet key; see common/crypto.py).
    "DATA_ENCRYPTION_KEY": "change-me-data-encryption-key",
    # Signs case-event webhooks (HMAC-SHA256).
    "WEBHOOK_SECRET": "change-me-webhook-secret",
    # Signs the status links in receipts' QR codes.
    "LINK_SIGNING_KEY": "change-me-link-signing-key",
    # Guards Rasa's HTTP API (`rasa run --auth-token`): it serves whole conversations, decrypted.
    "RASA_AUTH_TOKEN": "change-me-rasa-auth-token",
}


class SettingsError(ValueError):
    """A setting is missing or unsafe for the environment it runs in."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list; empty when unset."""
    return tuple(item.strip() for item in _env(name, "").split(",") if item.strip())


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
    faq_answer_threshold: float = 0.25
    faq_suggest_threshold: float = 0.25
    faq_margin: float = 0.10
    faq_diet_weight: float = 0.7
    faq_oos_rescue: float = 0.70
    # Case API (the grid company's business system; `cases/` is the reference service).
    case_api_url: str = "http://127.0.0.1:8001"
    case_api_host: str = "127.0.0.1"
    case_api_port: int = 8001
    case_api_timeout_s: float = 5.0
    case_database_url: str = ""
    holidays_file: Path = ROOT / "cases" / "holidays.yml"
    registry_url: str = ""
    webhook_urls: tuple[str, ...] = ()
    # Webhook retries: first retry after WEBHOOK_BACKOFF_S seconds, doubling, at most
    # WEBHOOK_MAX_ATTEMPTS attempts; the dispatcher looks for due deliveries every WEBHOOK_POLL_S.
    webhook_backoff_s: float = 1.0
    webhook_max_attempts: int = 6
    webhook_poll_s: float = 1.0
    # Where the application form accepts addresses (province names, as cpca gives them).
    service_area: tuple[str, ...] = ("广东省", "浙江省")
    # Public address of the gateway, used in QR codes and status links.
    public_base_url: str = "http://127.0.0.1:8080"
    # Telegram front end (started only when a token is set).
    telegram_bot_token: str = ""
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    notifier_poll_s: float = 1.0
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
            faq_answer_threshold=_env_float("FAQ_ANSWER_THRESHOLD", 0.25),
            faq_suggest_threshold=_env_float("FAQ_SUGGEST_THRESHOLD", 0.25),
            faq_margin=_env_float("FAQ_MARGIN", 0.10),
            faq_diet_weight=_env_float("FAQ_DIET_WEIGHT", 0.7),
            faq_oos_rescue=_env_float("FAQ_OOS_RESCUE", 0.70),
            case_api_url=_env("CASE_API_URL", "http://127.0.0.1:8001").rstrip("/"),
            case_api_host=_env("CASE_API_HOST", "127.0.0.1"),
            case_api_port=_env_int("CASE_API_PORT", 8001),
            case_api_timeout_s=_env_float("CASE_API_TIMEOUT_S", 5.0),
            case_database_url=_env("CASE_DATABASE_URL", f"sqlite:///{var_dir / 'cases.db'}"),
            holidays_file=Path(_env("HOLIDAYS_FILE", str(ROOT / "cases" / "holidays.yml"))),
            registry_url=_env("REGISTRY_URL", ""),
            webhook_urls=_env_list("WEBHOOK_URLS"),
            webhook_backoff_s=_env_float("WEBHOOK_BACKOFF_S", 1.0),
            webhook_max_attempts=_env_int("WEBHOOK_MAX_ATTEMPTS", 6),
            webhook_poll_s=_env_float("WEBHOOK_POLL_S", 1.0),
            service_area=_env_list("SERVICE_AREA") or ("广东省", "浙江省"),
            public_base_url=_env("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/"),
            telegram_bot_token=_env("TELEGRAM_BOT_TOKEN", ""),
            telegram_base_url=_env("TELEGRAM_BASE_URL", "https://api.telegram.org/bot"),
            telegram_webhook_url=_env("TELEGRAM_WEBHOOK_URL", ""),
            telegram_webhook_secret=_env("TELEGRAM_WEBHOOK_SECRET", ""),
            notifier_poll_s=_env_float("NOTIFIER_POLL_S", 1.0),
            secrets={name: _env(name, default) for name, default in DEV_SECRETS.items()},
        )
        settings.check()
        return settings

    def secret(self, name: str) -> str:
        """The value of secret `name` (one of `DEV_SECRETS`)."""
        return self.secrets.get(name) or DEV_SECRETS[name]

    @property
    def is_development(self) -> bool:
        return self.app_env in {"development", "test"}

    def check(self) -> None:
        """Refuses placeholder secrets outside development."""
        for name, value in self.secrets.items():
            if not self.is_development and (not value or value.startswith(PLACEHOLDER_PREFIX)):
                raise SettingsError(f"{name} must be set to a real secret when APP_ENV={self.app_env}")
