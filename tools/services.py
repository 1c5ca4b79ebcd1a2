"""Starts, checks and stops the assistant's processes: one supervisor for `make run`, the
test session and the benchmark, so all three run the services exactly the same way.

Order: case API (the business system the actions and the gateway call), action server (loads
the knowledge base), Rasa server (needs the action server), gateway (needs Rasa). Each logs
to `<var>/logs/<name>.log`; a service that does not become healthy in time stops the whole
stack with its log's tail in the error, and a port held by another process is named before
anything starts. Children die with the thread that started them (`tools.procs`: start a
stack from a thread that outlives it, as the main thread does); keeping them running after a
crash is `tools.supervisor`'s job.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set

import httpx

from common.rasa_auth import JWT_METHOD, rasa_api_headers
from common.settings import ROOT
from tools import secrets_env
from tools.procs import die_with_parent, port_holder
from tools.train import rasa_env

PYTHON = sys.executable


class ServiceError(RuntimeError):
    """A service failed to start or died."""


class PortsHeld(ServiceError):
    """A port a service needs is held by another process (nothing was started)."""


_handed_out: Set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A port free now and never handed out before by this process.

    The kernel gives `bind(0)` any port nobody holds at that moment, including one handed to
    a service that is down for a moment (killed in a fault test, restarting under the
    supervisor, not yet started): another stack's service could then take it, and the
    first could not come back (seen in a clean-clone `make test`: "actions cannot restart:
    port … is held by … cases.main", the same port handed to two services of one stack).
    Within one process (the test run, a bench) no port is handed out twice."""
    with _ports_lock:
        for _attempt in range(1000):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise ServiceError("no free port left that was not handed out before")


@dataclass
class Ports:
    gateway: int = 8080
    rasa: int = 5005
    actions: int = 5055
    cases: int = 8001

    @classmethod
    def free(cls) -> Ports:
        return cls(gateway=free_port(), rasa=free_port(), actions=free_port(), cases=free_port())


@dataclass
class Service:
    name: str
    cmd: List[str]
    health_url: str
    env: Dict[str, str]
    log_path: Path
    process: Optional[subprocess.Popen] = None
    # Headers of the health check (Rasa's /status needs its JWT: no secret in the URL).
    health_headers: Callable[[], Dict[str, str]] = dict
    port: Optional[int] = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # own session; SIGKILL when its starter dies
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            return httpx.get(self.health_url, headers=self.health_headers(), timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)


@dataclass
class Stack:
    """The assistant's services on the given ports, with state under `var_dir`."""

    model: Path
    ports: Ports = field(default_factory=Ports)
    var_dir: Path = ROOT / "var"
    extra_env: Dict[str, str] = field(default_factory=dict)
    services: List[Service] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def rasa_token(self) -> str:
        """The token of Rasa's HTTP API (`?token=`), as the gateway's settings read it."""
        return self.env()["RASA_AUTH_TOKEN"]

    @property
    def staff_key(self) -> Dict[str, str]:
        """The `X-Api-Key` header of staff tools (`CASE_API_STAFF_KEY`) for this stack's case API."""
        return {"X-Api-Key": self.env()["CASE_API_STAFF_KEY"]}

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    @property
    def case_api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.cases}"

    def env(self) -> Dict[str, str]:
        """The services' environment: this process's, `.env`'s secrets where it has none, the ports."""
        env = rasa_env()
        for name, value in secrets_env.ensure().items():
            if not env.get(name):
                env[name] = value
        env.update(
            {
                "VAR_DIR": str(self.var_dir),
                "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{self.var_dir / 'app.db'}",
                "RASA_URL": self.rasa_url,
                "ACTION_SERVER_URL": f"{self.actions_url}/webhook",
                "ACTION_SERVER_URLS": "",  # this stack's one action server, whatever the shell names
                "RASA_TRACKER_DB": str(self.var_dir / "rasa_tracker.db"),
                "RASA_TRACKER_URL": env.get("RASA_TRACKER_URL", ""),
                "GATEWAY_PORT": str(self.ports.gateway),
                "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or self.gateway_url,
                "CASE_API_URL": self.case_api_url,
                "CASE_API_PORT": str(self.ports.cases),
                "CASE_DATABASE_URL": env.get("CASE_DATABASE_URL") or f"sqlite:///{self.var_dir / 'cases.db'}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def build(self) -> List[Service]:
        env = self.env()
        logs = self.var_dir / "logs"
        return [
            Service(
                "cases",
                [PYTHON, "-m", "cases.main", "--port", str(self.ports.cases)],
                f"{self.case_api_url}/healthz", env, logs / "cases.log", port=self.ports.cases,
            ),
            Service(
                "actions",
                [PYTHON, "-m", "actions.server", "--port", str(self.ports.actions)],
                f"{self.actions_url}/healthz", env, logs / "actions.log", port=self.ports.actions,
            ),
            Service(
                "rasa",
                [
                    PYTHON, "-m", "nlu.server", "run", "--enable-api", "--model", str(self.model),
                    "--interface", "127.0.0.1", "--port", str(self.ports.rasa),
                    "--auth-token", self.rasa_token, "--jwt-secret", self.rasa_token, "--jwt-method", JWT_METHOD,
                    "--endpoints", str(ROOT / "endpoints.yml"),
                    "--credentials", str(ROOT / "credentials.yml"),
                ],
                f"{self.rasa_url}/status", env, logs / "rasa.log",
                health_headers=lambda: rasa_api_headers(self.rasa_token, "supervisor"),
                port=self.ports.rasa,
            ),
            Service(
                "gateway", [PYTHON, "-m", "bot.main"], f"{self.gateway_url}/healthz", env,
                logs / "gateway.log", port=self.ports.gateway,
            ),
        ]

    def start(self, timeout: float = 180.0) -> Stack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.services = self.build()
        held = [
            f"port {s.port} ({s.name}) is held by {holder}"
            for s in self.services
            if s.port and (holder := port_holder(s.port))
        ]
        if held:
            raise PortsHeld("; ".join(held) + ": stop that process or choose other ports")
        try:
            for service in self.services:
                service.start()
                self._wait(service, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_service(self, name: str, timeout: float = 180.0) -> Service:
        """(Re)starts one service of a running stack, e.g. after a test stopped it."""
        service = self.service(name)
        service.start()
        self._wait(service, timeout)
        return service

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    @staticmethod
    def _wait(service: Service, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise ServiceError(f"{service.name} exited during start-up:\n{service.tail()}")
            if service.healthy():
                return
            time.sleep(0.5)
        raise ServiceError(f"{service.name} not healthy after {timeout:.0f}s:\n{service.tail()}")

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def dead(self) -> List[str]:
        return [s.name for s in self.services if not s.alive()]
