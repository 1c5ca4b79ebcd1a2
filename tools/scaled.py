"""The scaled-out profile on one machine: the same code as several instances on PostgreSQL
and Redis (`make run-scaled`, and the multi-instance tests in tests/e2e/test_scaled.py).

One case API; two action servers; two Rasa servers (each calls both action servers,
round-robin with failover, its own first: `nlu/action_failover.py`) sharing
the encrypted tracker store on PostgreSQL and Redis as the lock store (endpoints.scaled.yml);
two gateways, each sending turns to both Rasa servers round-robin with failover
(`bot/rasa_client.py`) and each running a notifier and a delivery worker that claim their
work in the database (`common/claims.py`). The application database, the case API's and
Rasa's tracker store are three schemas of the one PostgreSQL database `POSTGRES_URL`
names (`<prefix>_app`, `<prefix>_cases`, `<prefix>_rasa`: the case API and Rasa both have
an `events` table). On several machines the same settings point at shared servers instead
(README, "Scaled-out profile"; deploy/compose.scaled.yml).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from common.rasa_auth import JWT_METHOD, rasa_api_headers
from common.settings import ROOT
from tools.services import PYTHON, Service, Stack, free_port


@dataclass
class ScaledPorts:
    gateways: Tuple[int, int] = (8080, 8081)
    rasa: Tuple[int, int] = (5005, 5006)
    actions: Tuple[int, int] = (5055, 5056)
    cases: int = 8001

    @classmethod
    def free(cls) -> ScaledPorts:
        return cls(gateways=(free_port(), free_port()), rasa=(free_port(), free_port()),
                   actions=(free_port(), free_port()), cases=free_port())


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url


def missing_servers(postgres_url: str, redis_url: str) -> Optional[str]:
    """One line saying which of the profile's servers is not there, or None."""
    missing = []
    try:
        engine = create_engine(postgres_url, future=True, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        missing.append(f"PostgreSQL at {_shown(postgres_url)} ({type(exc).__name__}; set POSTGRES_URL)")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except (redis.RedisError, ValueError) as exc:
        missing.append(f"Redis at {redis_url} ({type(exc).__name__}; set REDIS_URL)")
    return "scaled profile needs " + " and ".join(missing) if missing else None


def schema_url(postgres_url: str, schema: str) -> str:
    """`postgres_url` with every connection's search_path set to `schema`."""
    return make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def prepare_postgres(postgres_url: str, prefix: str = "power") -> Dict[str, str]:
    """Creates the profile's three schemas if needed; returns the URLs of the three stores."""
    engine = create_engine(postgres_url, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for part in ("app", "cases", "rasa"):
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{prefix}_{part}"'))
    engine.dispose()
    return {
        "DATABASE_URL": schema_url(postgres_url, f"{prefix}_app"),
        "CASE_DATABASE_URL": schema_url(postgres_url, f"{prefix}_cases"),
        "RASA_TRACKER_URL": schema_url(postgres_url, f"{prefix}_rasa"),
    }


def redis_env(redis_url: str, key_prefix: str) -> Dict[str, str]:
    """endpoints.scaled.yml's lock store settings from a `redis://host:port/db` URL, and the
    gateways' shared rate-limit buckets (bot/rate_limit_redis.py) on the same server and prefix."""
    kwargs = redis.connection.parse_url(redis_url)
    return {
        "RATE_LIMIT_REDIS_URL": redis_url,
        "REDIS_HOST": str(kwargs.get("host") or "127.0.0.1"),
        "REDIS_PORT": str(kwargs.get("port") or 6379),
        "REDIS_DB": str(kwargs.get("db") or 0),
        "REDIS_KEY_PREFIX": key_prefix,
    }


@dataclass
class ScaledStack(Stack):
    """Seven processes: case API, 2 action servers, 2 Rasa servers, 2 gateways."""

    scaled_ports: ScaledPorts = field(default_factory=ScaledPorts)
    stores: Dict[str, str] = field(default_factory=dict)  # from prepare_postgres
    redis: Dict[str, str] = field(default_factory=dict)  # from redis_env

    @property
    def gateway_urls(self) -> List[str]:
        return [f"http://127.0.0.1:{port}" for port in self.scaled_ports.gateways]

    @property
    def gateway_url(self) -> str:
        return self.gateway_urls[0]

    @property
    def rasa_urls(self) -> List[str]:
        return [f"http://127.0.0.1:{port}" for port in self.scaled_ports.rasa]

    @property
    def rasa_url(self) -> str:
        return ",".join(self.rasa_urls)

    @property
    def case_api_url(self) -> str:
        return f"http://127.0.0.1:{self.scaled_ports.cases}"

    def env(self) -> Dict[str, str]:
        env = super().env()
        env.update(self.stores)
        env.update(self.redis)
        env.update({"RASA_URL": self.rasa_url, "CASE_API_URL": self.case_api_url,
                    "CASE_API_PORT": str(self.scaled_ports.cases)})
        env.update(self.extra_env)
        return env

    def build(self) -> List[Service]:
        env = self.env()
        logs = self.var_dir / "logs"
        services = [
            Service("cases", [PYTHON, "-m", "cases.main", "--port", str(self.scaled_ports.cases)],
                    f"{self.case_api_url}/healthz", env, logs / "cases.log"),
        ]
        for n, port in enumerate(self.scaled_ports.actions, 1):
            services.append(Service(f"actions-{n}", [PYTHON, "-m", "actions.server", "--port", str(port)],
                                    f"http://127.0.0.1:{port}/healthz", env, logs / f"actions-{n}.log"))
        action_urls = [f"http://127.0.0.1:{port}/webhook" for port in self.scaled_ports.actions]
        for n, port in enumerate(self.scaled_ports.rasa, 1):
            own_first = action_urls[n - 1:] + action_urls[:n - 1]
            rasa_env = {**env, "ACTION_SERVER_URL": own_first[0], "ACTION_SERVER_URLS": ",".join(own_first)}
            services.append(Service(
                f"rasa-{n}",
                [
                    PYTHON, "-m", "nlu.server", "run", "--enable-api", "--model", str(self.model),
                    "--interface", "127.0.0.1", "--port", str(port), "--auth-token", self.rasa_token,
                    "--jwt-secret", self.rasa_token, "--jwt-method", JWT_METHOD,
                    "--endpoints", str(ROOT / "endpoints.scaled.yml"),
                    "--credentials", str(ROOT / "credentials.yml"),
                ],
                f"http://127.0.0.1:{port}/status", rasa_env, logs / f"rasa-{n}.log",
                health_headers=lambda: rasa_api_headers(self.rasa_token, "supervisor"),
            ))
        for n, port in enumerate(self.scaled_ports.gateways, 1):
            gateway_env = {**env, "GATEWAY_PORT": str(port)}
            if n > 1 and not env.get("TELEGRAM_WEBHOOK_URL"):
                gateway_env["TELEGRAM_BOT_TOKEN"] = ""  # one process only may long-poll a bot token
            services.append(Service(f"gateway-{n}", [PYTHON, "-m", "bot.main"], f"http://127.0.0.1:{port}/healthz",
                                    gateway_env, logs / f"gateway-{n}.log"))
        return services

    def stop(self) -> None:
        """Stops the instances of a kind together, gateways first."""
        for kind in ("gateway", "rasa", "actions", "cases"):
            group = [s for s in self.services if s.name.split("-")[0] == kind and s.alive()]
            threads = [threading.Thread(target=service.stop) for service in group]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    def start(self, timeout: float = 300.0) -> ScaledStack:
        """Starts in dependency order; the two instances of a kind start together."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.services = self.build()
        try:
            for kind in ("cases", "actions", "rasa", "gateway"):
                group = [s for s in self.services if s.name.split("-")[0] == kind]
                for service in group:
                    service.start()
                for service in group:
                    self._wait(service, timeout)
        except BaseException:
            self.stop()
            raise
        return self
