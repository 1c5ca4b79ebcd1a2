"""Keeps the stack's services running: a service that dies is restarted, with back-off.

`make run` (tools/run.py) and the fault tests (tests/chaos) drive one `Supervisor` over a
started `Stack`: every `tick()` looks at each service; a dead one is logged with why (exit
code or signal, its log's last line) and started again after 1 s, 2 s, 4 s … (at most
`max_backoff_s`); a restarted service counts as back once its health check answers. Only
after `max_failures` failures of one service within `window_s` does it give up: `tick()`
returns the reason and the caller stops everything, saying so. The supervisor is
single-threaded and never blocks on a starting service, so other services are watched while
Rasa loads its model.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional

from tools.procs import port_holder
from tools.services import Service

RUNNING, WAITING, STARTING = "running", "waiting", "starting"


@dataclass(frozen=True)
class Policy:
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_failures: int = 5
    window_s: float = 120.0
    start_timeout_s: float = 180.0


@dataclass
class _State:
    phase: str = RUNNING
    since: float = 0.0  # when the restart is due (WAITING) or was started (STARTING)
    failures: Deque[float] = field(default_factory=deque)
    restarts: int = 0


def exit_reason(service: Service) -> str:
    """Why a process ended: "exit code 1" or "killed by SIGKILL"."""
    code = service.process.poll() if service.process is not None else None
    if code is None:
        return "not running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Restarts dead services of a started stack; see the module docstring."""

    def __init__(self, services: List[Service], policy: Policy = Policy(), log: Callable[[str], None] = print):
        self.services = services
        self.policy = policy
        self.log = log
        self.states: Dict[str, _State] = {s.name: _State() for s in services}

    def restarts(self, name: str) -> int:
        return self.states[name].restarts

    def settled(self) -> bool:
        """Every service is running and healthy as far as the supervisor knows."""
        return all(s.phase == RUNNING for s in self.states.values()) and all(x.alive() for x in self.services)

    def tick(self, now: Optional[float] = None) -> Optional[str]:
        """One look at every service; returns why it gives up, or None to go on."""
        now = time.monotonic() if now is None else now
        for service in self.services:
            state = self.states[service.name]
            why = self._check(service, state, now)
            if why is not None:
                reason = self._failed(service, state, now, why)
                if reason:
                    return reason
        return None

    def _check(self, service: Service, state: _State, now: float) -> Optional[str]:
        """Moves one service along; returns what went wrong, if anything did."""
        if state.phase == RUNNING and not service.alive():
            return f"died ({exit_reason(service)})"
        if state.phase == WAITING and now >= state.since:
            holder = port_holder(service.port) if service.port else None
            if holder:
                return f"cannot restart: port {service.port} is held by {holder}"
            service.start()
            state.phase, state.since = STARTING, now
        elif state.phase == STARTING:
            if not service.alive():
                return f"exited during restart ({exit_reason(service)})"
            if service.healthy():
                state.phase, state.restarts = RUNNING, state.restarts + 1
                self.log(f"{service.name}: back after restart {state.restarts}")
            elif now - state.since > self.policy.start_timeout_s:
                service.stop()
                return f"not healthy {self.policy.start_timeout_s:.0f}s after restart"
        return None

    def _failed(self, service: Service, state: _State, now: float, why: str) -> Optional[str]:
        while state.failures and now - state.failures[0] > self.policy.window_s:
            state.failures.popleft()
        state.failures.append(now)
        count = len(state.failures)
        last = service.tail(1).strip()
        detail = f"{service.name} {why}" + (f"; last log line: {last[:200]}" if last else "")
        if count >= self.policy.max_failures:
            return f"{detail}. {count} failures within {self.policy.window_s:.0f}s: giving up"
        delay = min(self.policy.max_backoff_s, self.policy.backoff_s * 2 ** (count - 1))
        allowed = f"failure {count} of {self.policy.max_failures} allowed within {self.policy.window_s:.0f}s"
        self.log(f"{detail}; restarting in {delay:g}s ({allowed})")
        state.phase, state.since = WAITING, now + delay
        return None

    def run(self, stop: threading.Event, every_s: float = 0.5) -> Optional[str]:
        """Ticks until `stop` is set or it gives up; returns the reason it gave up."""
        while not stop.is_set():
            reason = self.tick()
            if reason:
                return reason
            stop.wait(every_s)
        return None


class SupervisorThread:
    """A supervisor ticking in a background thread (the fault tests' stack).

    Services it restarts are children of this thread: they die with it (PDEATHSIG), which is
    what a test wants when it ends."""

    def __init__(self, supervisor: Supervisor, every_s: float = 0.3):
        self.supervisor = supervisor
        self.stop_event = threading.Event()
        self.gave_up: Optional[str] = None
        self._thread = threading.Thread(target=self._run, args=(every_s,), name="supervisor", daemon=True)

    def _run(self, every_s: float) -> None:
        self.gave_up = self.supervisor.run(self.stop_event, every_s)

    def __enter__(self) -> SupervisorThread:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_event.set()
        self._thread.join(timeout=10)
