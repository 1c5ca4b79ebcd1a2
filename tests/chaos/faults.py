"""Tools of the fault tests: a TCP proxy that runs a hook at "the moment of submitting", and
`Chaos`, which kills a service with SIGKILL and waits for the supervisor to bring it back.

`FaultProxy` sits between the services and the case API (their `CASE_API_URL` points at it).
Armed with `on_submit(before=…, after=…)`, it calls `before()` when a `POST /cases` request
arrives (before forwarding it) and `after()` when the case API's answer comes back (before
relaying it): killing a service in one of those hooks hits exactly the window in which a
case is, or is not yet, created while the turn is still running. `on(EVENTS, after=…)` does
the same for the notifier's read of the event feed (read, not yet written to the outbox).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from tests.chaos.listener import Listener
from tests.telegram.emulator import BotApiEmulator
from tools.services import Stack
from tools.supervisor import Supervisor

SUBMIT = b"POST /cases HTTP/"
EVENTS = b"GET /events?"  # the notifier reading the event feed
METHODS = {b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS"}

Hook = Optional[Callable[[], None]]


class FaultProxy(Listener):
    """Forwards 127.0.0.1:<port> to the case API; see the module docstring."""

    def __init__(self, upstream_port: int):
        super().__init__("fault-proxy")
        self.upstream_port = upstream_port
        self._prefix = SUBMIT
        self._contains = b""
        self._before: Hook = None
        self._after: Hook = None
        self.start()

    def on_submit(self, before: Hook = None, after: Hook = None) -> None:
        """Arms the hooks for the next `POST /cases` (each runs once)."""
        self.on(SUBMIT, before, after)

    def on(self, prefix: bytes, before: Hook = None, after: Hook = None, reply_contains: bytes = b"") -> None:
        """Arms the hooks for the next request starting with `prefix` (each runs once); `after`
        waits for an answer that contains `reply_contains`."""
        with self._lock:
            self._prefix, self._before, self._after, self._contains = prefix, before, after, reply_contains

    def _take(self, which: str) -> Hook:
        with self._lock:
            hook = getattr(self, which)
            setattr(self, which, None)
        return hook

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()  # the case API is down: the caller sees a refused connection
            return
        upstream.settimeout(None)
        submitting = threading.Event()
        threading.Thread(target=self._pump_back, args=(upstream, client, submitting), daemon=True).start()
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if data.split(b" ", 1)[0] in METHODS:  # a new request on this connection
                    if data.startswith(self._prefix):
                        hook = self._take("_before")
                        if hook:
                            hook()
                        submitting.set()
                    else:
                        submitting.clear()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)
            _close(client)

    def _pump_back(self, upstream: socket.socket, client: socket.socket, submitting: threading.Event) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if submitting.is_set() and self._contains in data:
                    submitting.clear()
                    hook = self._take("_after")
                    if hook:
                        hook()
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@dataclass
class Chaos:
    """The fault tests' own stack, its supervisor (in a thread), the proxy and the emulator."""

    stack: Stack
    supervisor: Supervisor
    proxy: FaultProxy
    telegram: BotApiEmulator
    log: List[str] = field(default_factory=list)
    disk: Optional[Path] = None  # a small tmpfs holding the application database, if mountable

    def kill(self, name: str) -> int:
        """`kill -9` of one service; returns the supervisor's restart count before it."""
        before = self.supervisor.restarts(name)
        service = self.stack.service(name)
        assert service.alive(), f"{name} is not running"
        os.kill(service.process.pid, signal.SIGKILL)
        return before

    def wait_back(self, name: str, restarts_before: int, timeout: float = 300.0) -> float:
        """Waits until the supervisor has restarted `name` once more; returns how long it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.supervisor.restarts(name) > restarts_before:
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"{name} not back after {timeout:.0f}s; supervisor said: {self.log[-3:]}")

    def restart(self, name: str) -> float:
        """Kills `name` and waits until it is back."""
        return self.wait_back(name, self.kill(name))
