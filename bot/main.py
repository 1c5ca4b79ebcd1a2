"""Runs the gateway: `python -m bot.main` (settings from the environment)."""

from __future__ import annotations

import uvicorn

from bot.app import build_app
from common.logs import configure_logging
from common.settings import Settings
from common.web import KEEP_ALIVE_S


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    uvicorn.run(
        build_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


if __name__ == "__main__":
    main()
