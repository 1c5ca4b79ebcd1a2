"""`make run-scaled`: the scaled-out profile on this machine (tools/scaled.py), until Ctrl-C.

Needs PostgreSQL (`POSTGRES_URL`) and Redis (`REDIS_URL`); says in one line which is missing.
Gateways on 8080 and 8081 (so not beside `make run`), Rasa on 5005/5006, actions on
5055/5056, the case API on 8001.
"""

from __future__ import annotations

import signal
import sys
import time

from common.settings import Settings
from tools.scaled import ScaledStack, missing_servers, prepare_postgres, redis_env
from tools.services import ServiceError
from tools.train import ensure_model


def main() -> int:
    settings = Settings.from_env()
    missing = missing_servers(settings.postgres_url, settings.redis_url)
    if missing:
        print(missing, file=sys.stderr)
        return 1
    model = ensure_model()
    stack = ScaledStack(
        model=model, var_dir=settings.var_dir / "scaled",
        stores=prepare_postgres(settings.postgres_url), redis=redis_env(settings.redis_url, "power"),
    )
    print("starting the case API, 2 action servers, 2 Rasa servers and 2 gateways ...", flush=True)
    try:
        stack.start()
    except ServiceError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    for url in stack.gateway_urls:
        print(f"web chat: {url}/", flush=True)
    print(f"case API: {stack.case_api_url}/; logs: {stack.var_dir / 'logs'}; Ctrl-C stops everything\n", flush=True)
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
            print(f"service stopped unexpectedly: {', '.join(dead)} (see {stack.var_dir / 'logs'})", file=sys.stderr)
            code = 1
            break
        time.sleep(1)
    print("stopping ...", flush=True)
    stack.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
