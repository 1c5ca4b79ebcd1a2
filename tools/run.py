"""`make run`: train the model if stale, start every service, print the URL, keep them running
(a service that dies is restarted with back-off, `tools.supervisor`), stop on Ctrl-C.

The services die with this process even on `kill -9` (`tools.procs.die_with_parent`), so the
next `make run` finds its ports free; a port held by something else is named at start.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from common.settings import Settings
from tools import secrets_env
from tools.services import Ports, ServiceError, Stack
from tools.supervisor import Supervisor
from tools.train import ensure_model


def main() -> int:
    secrets_env.apply()  # real secrets on a fresh clone (.env), kept for later runs
    settings = Settings.from_env()
    model = ensure_model()
    ports = Ports(gateway=settings.gateway_port, cases=settings.case_api_port)
    stack = Stack(model=model, ports=ports, var_dir=settings.var_dir)
    print("starting the case API, the action server, Rasa and the gateway ...", flush=True)
    try:
        stack.start()
    except ServiceError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    print(f"\nweb chat: {stack.gateway_url}/   (API docs: {stack.gateway_url}/docs)", flush=True)
    print(f"case API: {stack.case_api_url}/   (API docs: {stack.case_api_url}/docs)", flush=True)
    print(f"logs: {settings.var_dir / 'logs'}; Ctrl-C stops everything\n", flush=True)
    return supervise(stack, settings.var_dir / "logs")


def supervise(stack: Stack, logs: Path) -> int:
    """Keeps a started stack running (restarts with back-off) until Ctrl-C or the supervisor
    gives up, then stops it; the exit code of `make run` and `make run-scaled`."""
    stopping = threading.Event()

    def _stop(_signum, _frame) -> None:  # type: ignore[no-untyped-def]
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    supervisor = Supervisor(stack.services, log=lambda line: print(line, file=sys.stderr, flush=True))
    gave_up = supervisor.run(stopping)
    code = 0
    if gave_up:
        print(f"{gave_up}; stopping everything (see {logs})", file=sys.stderr, flush=True)
        code = 1
    print("stopping ...", flush=True)
    stack.stop()
    return code

if __name__ == "__main__":
    sys.exit(main())
