"""One settings object for every process, read from environment variables.

Each variable is documented in `.env.example`. Defaults are the embedded set-up (SQLite files
under `var/`, services on loopback). Production is the default environment: unless
`APP_ENV=development` (or `test`) is set explicitly, a process refuses to start while any
secret is a published placeholder or too short (`Settings.check`, `common/secret_rules.py`).
`make run`, `make test` and `make bench` generate real secrets into the git-ignored `.env`
(`tools/secrets_env.py`) and pass them to the services in their environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_PREFIX = "change-me"
# Secrets and the placeholder each has in development. Outside development a placeholder (or
# an empty or short value) stops the process: see `Settings.check`. The Fernet placeholders are
# valid keys (so development needs no set-up) that are published here, hence refused elsewhere.
DEV_SECRETS = {
    # The case API's client keys, `role:key` comma-separated (roles: actions, gateway, staff;
    # a role may have several keys, e.g. during a rotation). See cases/auth.py.
    "CASE_API_KEYS": "actions:change-me-actions-key,gateway:change-me-gateway-key,staff:change-me-staff-key",
    # The key each client sends (`X-Api-Key`): the action server, the gateway, staff tools.
    "CASE_API_ACTIONS_KEY": "change-me-actions-key",
    "CASE_API_GATEWAY_KEY": "change-me-gateway-key",
    "CASE_API_STAFF_KEY": "change-me-staff-key",
    # The assistant's Fernet keys (application database, form slots, Rasa's tracker store),
    # comma-separated: the first encrypts, all decrypt (rotation: tools/rotate_keys.py).
    "DATA_ENCRYPTION_KEYS": "Y2hhbmdlLW1lLWFzc2lzdGFudC1kYXRhLWtleS0wMDA=",
    # The case API's own Fernet keys and its fingerprint keys (HMAC of ID numbers for look-ups,
    # of request bodies for idempotency; the first computes, all match).
    "CASE_DATA_ENCRYPTION_KEYS": "Y2hhbmdlLW1lLWNhc2UtYXBpLWRhdGEta2V5LTAwMDA=",
    "CASE_FINGERPRINT_KEYS": "change-me-case-fingerprint-key",
    # Signs case-event webhooks (HMAC-SHA256).
    "WEBHOOK_SECRET": "change-me-webhook-secret",
    # Signs the status links in receipts' QR codes.
    "LINK_SIGNING_KEY": "change-me-link-signing-key",
    # Guards Rasa's HTTP API (`rasa run --auth-token`): it serves whole conversations, decrypted.
    "RASA_AUTH_TOKEN": "change-me-rasa-auth-token",
    # Header secret between the services: gateway -> Rasa's REST channel, Rasa -> action server.
    "SERVICE_CALL_SECRET": "change-me-service-call-secret",
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

    app_env: str = "production"
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    # Several action servers for one Rasa, its own first (nlu/action_failover.py); empty: the one above.
    action_server_urls: tuple[str, ...] = ()
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Timeouts line up (common/timeouts.py): a submission's case API budget < Rasa's wait for
    # an action < the gateway's wait for Rasa. Turns beyond MAX_TURNS_IN_FLIGHT are shed.
    rasa_timeout_s: float = 30.0
    rasa_action_timeout_s: float = 20.0
    max_turns_in_flight: int = 48
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
    # The staff supergroup (topics on) where hand-offs open forum topics; 0: none.
    telegram_staff_chat_id: int = 0
    notifier_poll_s: float = 1.0
    # Token buckets (requests a minute, half of it as a burst; 0 = no limit): per web sender and
    # Telegram chat, per client address on the chat API, per address for new web conversations.
    rate_sender_per_min: float = 60.0
    rate_ip_per_min: float = 600.0
    rate_sessions_per_min: float = 60.0
    # Where the buckets live: empty = this process's memory (one gateway); a Redis URL = shared
    # by every gateway using it (the scaled-out profile sets it), keys under REDIS_KEY_PREFIX.
    rate_limit_redis_url: str = ""
    redis_key_prefix: str = "power"
    # A web conversation nobody used for this many days is closed (401, reason session_expired);
    # 0 = never.
    web_session_idle_days: float = 30.0
    # SMS gateway for the status check's one-time codes (cases/sms.py); empty in development
    # means the file stand-in under var/.
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""
    # The scaled-out profile (`make run-scaled`, tools/scaled.py): its PostgreSQL and Redis.
    postgres_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Staff case work (bot/casework): the staff supergroup for warning digests, where red
    # warnings nobody acknowledged are repeated (empty: the staff group), after how long,
    # and how often the warning job runs.
    telegram_supervisor_chat_id: str = ""
    warning_escalate_after_s: float = 14400.0
    warnings_poll_s: float = 60.0
    # Agents restricted to regions in the case console: "li.ming:湛江;wang.fang:金华,湛江"
    # (agents not listed, and supervisors, see every region).
    staff_regions: str = ""
    # Hand-off to staff: hours ("" round the clock, "HH:MM-HH:MM", "workdays HH:MM-HH:MM")
    # and how long a staff console session lasts.
    staff_hours: str = ""
    staff_session_minutes: int = 480
    secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """Reads every setting from the environment and checks secrets for the environment."""
        var_dir = Path(_env("VAR_DIR", str(ROOT / "var")))
        settings = cls(
            app_env=_env("APP_ENV", "production"),
            var_dir=var_dir,
            database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'app.db'}"),
            rasa_url=_env("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            action_server_url=_env("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook"),
            action_server_urls=_env_list("ACTION_SERVER_URLS"),
            gateway_host=_env("GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_env_int("GATEWAY_PORT", 8080),
            rasa_timeout_s=_env_float("RASA_TIMEOUT_S", 30.0),
            rasa_action_timeout_s=_env_float("RASA_ACTION_TIMEOUT_S", 20.0),
            max_turns_in_flight=_env_int("MAX_TURNS_IN_FLIGHT", 48),
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
            telegram_staff_chat_id=_env_int("TELEGRAM_STAFF_CHAT_ID", 0),
            notifier_poll_s=_env_float("NOTIFIER_POLL_S", 1.0),
            rate_sender_per_min=_env_float("RATE_SENDER_PER_MIN", 60.0),
            rate_ip_per_min=_env_float("RATE_IP_PER_MIN", 600.0),
            rate_sessions_per_min=_env_float("RATE_SESSIONS_PER_MIN", 60.0),
            rate_limit_redis_url=_env("RATE_LIMIT_REDIS_URL", ""),
            redis_key_prefix=_env("REDIS_KEY_PREFIX", "power"),
            web_session_idle_days=_env_float("WEB_SESSION_IDLE_DAYS", 30.0),
            sms_gateway_url=_env("SMS_GATEWAY_URL", ""),
            sms_gateway_token=_env("SMS_GATEWAY_TOKEN", ""),
            postgres_url=_env("POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
            redis_url=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
            telegram_supervisor_chat_id=_env("TELEGRAM_SUPERVISOR_CHAT_ID", ""),
            warning_escalate_after_s=_env_float("WARNING_ESCALATE_AFTER_S", 14400.0),
            warnings_poll_s=_env_float("WARNINGS_POLL_S", 60.0),
            staff_regions=_env("STAFF_REGIONS", ""),
            staff_hours=_env("STAFF_HOURS", ""),
            staff_session_minutes=_env_int("STAFF_SESSION_MINUTES", 480),
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

    def secret_list(self, name: str) -> tuple[str, ...]:
        """A comma-separated secret (key lists) as its items."""
        return tuple(item.strip() for item in self.secret(name).split(",") if item.strip())

    def check(self) -> None:
        """Refuses malformed secrets anywhere, and placeholder or short ones outside development,
        and timeouts that do not nest (common/timeouts.py)."""
        from common.secret_rules import problems  # noqa: PLC0415 - keeps this module import-light

        found = problems(self.secrets, strict=not self.is_development)
        if found:
            raise SettingsError(
                f"refusing to start with APP_ENV={self.app_env}: " + "; ".join(found)
                + " (set them, or run `make run` once to generate .env; APP_ENV=development accepts placeholders)"
            )
        from common.timeouts import check_timeouts  # here: it needs this class's fields

        check_timeouts(self)
