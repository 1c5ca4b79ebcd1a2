"""Runs the case API: `python -m cases.main` (host and port from CASE_API_HOST/CASE_API_PORT).

`--port` overrides the port (the supervisor in tools/services.py passes a free one in tests).
"""

from __future__ import annotations

import argparse

import uvicorn

from cases.app import build_app
from common.logs import configure_logging
from common.settings import Settings
from common.web import KEEP_ALIVE_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    uvicorn.run(
        build_app(settings),
        host=args.host or settings.case_api_host,
        port=args.port or settings.case_api_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


if __name__ == "__main__":
    main()
