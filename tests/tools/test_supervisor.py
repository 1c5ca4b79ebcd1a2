"""The supervisor against real child processes (small HTTP servers): restart with back-off
after `kill -9`, giving up after repeated failures, no orphans when the supervisor itself is
killed with SIGKILL, and a held port named instead of a crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import List

import httpx
import pytest

from tools.procs import port_holder
from tools.services import Ports, PortsHeld, Service, Stack, free_port
from tools.supervisor import Policy, Supervisor

FAST = Policy(backoff_s=0.2, max_backoff_s=1.0, max_failures=3, window_s=30.0, start_timeout_s=20.0)


def http_service(tmp_path: Path, name: str = "web") -> Service:
    port = free_port()
    return Service(
        name, [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(tmp_path)],
        f"http://127.0.0.1:{port}/", dict(os.environ), tmp_path / f"{name}.log", port=port,
    )


def wait_for(condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def tick_until(supervisor: Supervisor, condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert supervisor.tick() is None
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_killed_service_is_restarted_and_the_reason_logged(tmp_path: Path) -> None:
    service = http_service(tmp_path)
    service.start()
    lines: List[str] = []
    supervisor = Supervisor([service], FAST, log=lines.append)
    try:
        wait_for(service.healthy)
        first_pid = service.process.pid
        os.kill(first_pid, signal.SIGKILL)
        tick_until(supervisor, lambda: supervisor.restarts("web") == 1)
        assert service.process.pid != first_pid and service.healthy()
        assert lines[0].startswith("web died (killed by SIGKILL); last log line:")
        assert lines[0].endswith("restarting in 0.2s (failure 1 of 3 allowed within 30s)")
        assert lines[-1] == "web: back after restart 1"
    finally:
        service.stop()


def test_repeated_failures_within_the_window_give_up_saying_why(tmp_path: Path) -> None:
    service = Service(
        "broken", [sys.executable, "-c", "print('no config', flush=True); raise SystemExit(3)"],
        "http://127.0.0.1:9/", dict(os.environ), tmp_path / "broken.log",
    )
    service.start()
    service.process.wait(timeout=10)
    lines: List[str] = []
    supervisor = Supervisor([service], FAST, log=lines.append)
    deadline = time.monotonic() + 30
    reason = None
    while reason is None and time.monotonic() < deadline:
        reason = supervisor.tick()
        time.sleep(0.05)
    assert reason is not None
    assert "broken exited during restart (exit code 3)" in reason
    assert "last log line: no config" in reason
    assert "3 failures within 30s: giving up" in reason
    assert len(lines) == 2  # two restarts tried, with growing delays, before giving up
    assert "restarting in 0.2s" in lines[0] and "restarting in 0.4s (failure 2 of 3" in lines[1]


def test_children_die_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(Path.cwd())!r})
        from pathlib import Path
        from tools.services import Service
        s = Service("web", [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                    "", dict(os.environ), Path({str(tmp_path / 'web.log')!r}))
        s.start()
        Path({str(pid_file)!r}).write_text(str(s.process.pid))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        wait_for(lambda: pid_file.exists() and port_holder(port) is not None)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), timeout=10)
        wait_for(lambda: port_holder(port) is None, timeout=10)
    finally:
        parent.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_start_names_a_port_held_by_another_process(tmp_path: Path) -> None:
    ports = Ports.free()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports.rasa))
        holder.listen()
        stack = Stack(model=tmp_path / "model.tar.gz", ports=ports, var_dir=tmp_path)
        with pytest.raises(PortsHeld) as raised:
            stack.start()
    message = str(raised.value)
    assert f"port {ports.rasa} (rasa) is held by pid {os.getpid()}" in message
    assert all(not s.alive() for s in stack.services)  # nothing was started


def test_a_restart_onto_a_held_port_is_reported_as_such(tmp_path: Path) -> None:
    service = http_service(tmp_path)
    service.start()
    lines: List[str] = []
    supervisor = Supervisor([service], FAST, log=lines.append)
    try:
        wait_for(service.healthy)
        os.kill(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)
        with socket.socket() as holder:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", service.port))
            holder.listen()
            tick_until(supervisor, lambda: any("is held by" in line for line in lines))
        assert f"cannot restart: port {service.port} is held by pid {os.getpid()}" in lines[-1]
        tick_until(supervisor, lambda: supervisor.restarts("web") == 1)
        assert httpx.get(service.health_url).status_code == 200
    finally:
        service.stop()


def test_a_port_handed_out_is_never_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel offers a port again as soon as nobody holds it, e.g. while a killed service
    restarts: another stack's service took it once in CI and the first could not come back."""
    offered = iter([50001, 50001, 50002, 50001, 50003])

    class Kernel:
        def __init__(self, *_args: object) -> None:
            self.port = 0

        def __enter__(self) -> Kernel:
            return self

        def __exit__(self, *_exc: object) -> None:
            return None

        def bind(self, _address: object) -> None:
            self.port = next(offered)

        def getsockname(self) -> tuple:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr("tools.services._handed_out", set())
    monkeypatch.setattr(socket, "socket", Kernel)
    assert [free_port(), free_port(), free_port()] == [50001, 50002, 50003]
