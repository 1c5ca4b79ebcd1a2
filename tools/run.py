"""`make run`: train the model if stale, start every service, print the URL, stop on Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time

from common.settings import Settings
from tools import secrets_env
from tools.services import Ports, ServiceError, Stack
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
    stopping = False

    def _stop(_signum, _frame) -> None:  # type: ignore[no-untyped-def]
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        dead = stack.dead()
        if dead:
            print(f"service stopped unexpectedly: {', '.join(dead)} (see var/logs)", file=sys.stderr)
            code = 1
            break
        time.sleep(1)
    print("stopping ...", flush=True)
    stack.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
