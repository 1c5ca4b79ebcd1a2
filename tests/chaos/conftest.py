"""The fault tests' own stack (they kill its services): case API, action server, Rasa and
gateway on free ports, kept running by a real `Supervisor` ticking in a thread, with the
services reaching the case API through a `FaultProxy` and the Telegram bot talking to its own
Bot API emulator. The application database sits on a 64 MiB tmpfs when this process may
mount one (root), so the disk-full test can fill it; elsewhere that test is skipped, saying so.

Package-scoped: started for tests/chaos, stopped before the rest of the suite. Timeouts are
shortened (in the same nesting as the defaults, `common/timeouts.py`) to keep it quick.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest

from tests.chaos.faults import Chaos, FaultProxy
from tests.e2e.conftest import Chat
from tests.telegram.emulator import BotApiEmulator
from tools.services import Ports, Stack
from tools.supervisor import Policy, Supervisor, SupervisorThread
from tools.train import ensure_model
from tools.web_chat import BENCH_ENV

POLICY = Policy(backoff_s=0.3, max_backoff_s=2.0, max_failures=6, window_s=60.0, start_timeout_s=300.0)


def mount_tmpfs(size: str = "64m") -> Optional[Path]:
    """A size-limited tmpfs (needs root); None where it cannot be mounted."""
    where = Path(tempfile.mkdtemp(prefix="chaos-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        return None
    return where


@pytest.fixture(scope="package")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    model = ensure_model()
    ports = Ports.free()
    proxy = FaultProxy(ports.cases)
    disk = mount_tmpfs()
    var_dir = tmp_path_factory.mktemp("chaos-var")
    with BotApiEmulator() as emulator:
        env = {
            "CASE_API_URL": proxy.url,
            "CASE_API_TIMEOUT_S": "2",
            "RASA_ACTION_TIMEOUT_S": "8",
            "RASA_TIMEOUT_S": "13",
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_BASE_URL": emulator.base_url,
            "NOTIFIER_POLL_S": "0.2",
            **BENCH_ENV,  # every conversation comes from 127.0.0.1
        }
        if disk is not None:
            env["DATABASE_URL"] = f"sqlite:///{disk / 'app.db'}"
        stack = Stack(model=model, ports=ports, var_dir=var_dir, extra_env=env)
        stack.start()
        log: list = []
        supervisor = Supervisor(stack.services, POLICY, log=log.append)
        try:
            with SupervisorThread(supervisor) as running:
                yield Chaos(stack, supervisor, proxy, emulator, log, disk)
                assert running.gave_up is None, running.gave_up
        finally:
            stack.stop()
            proxy.close()
            if disk is not None:
                subprocess.run(["umount", "-l", str(disk)], capture_output=True)
                shutil.rmtree(disk, ignore_errors=True)


@pytest.fixture()
def client(chaos: Chaos) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=chaos.stack.gateway_url, timeout=30.0) as http:
        yield http


@pytest.fixture()
def chat(client: httpx.Client) -> Chat:
    return Chat(client)
