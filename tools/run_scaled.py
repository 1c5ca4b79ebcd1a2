"""`make run-scaled`: the scaled-out profile on this machine (tools/scaled.py), until Ctrl-C.

Needs PostgreSQL (`POSTGRES_URL`) and Redis (`REDIS_URL`); says in one line which is missing.
Gateways on 8080 and 8081 (so not beside `make run`), Rasa on 5005/5006, actions on
5055/5056, the case API on 8001.
"""

from __future__ import annotations

import sys

from common.settings import Settings
from tools import secrets_env
from tools.run import supervise
from tools.scaled import ScaledStack, missing_servers, prepare_postgres, redis_env
from tools.services import ServiceError
from tools.train import ensure_model


def main() -> int:
    secrets_env.apply()  # real secrets on a fresh clone (.env), as `make run`
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
    return supervise(stack, stack.var_dir / "logs")


if __name__ == "__main__":
    sys.exit(main())
