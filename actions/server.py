"""The action server: rasa_sdk's app with the knowledge base loaded before it serves, and the
worker that delivers applications queued while the case API was down.

Run with `python -m actions.server --port 5055`. The knowledge files are synced into the
database and the search index built in a start-up hook, so the first question is as fast
as any other, and a broken knowledge file stops the server with the file and field named.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from rasa_sdk.endpoint import create_app
from sanic import response

from actions.context import case_client, cipher, sessions
from actions.services import ActionServices, install
from actions.submissions import run_worker
from common.logs import configure_logging
from common.settings import Settings
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)


def build_app(settings: Settings):  # type: ignore[no-untyped-def]
    """The Sanic app of rasa_sdk, plus /healthz and the start-up hook that builds the services."""
    app = create_app("actions", cors_origins=None)

    async def build_services(_app, _loop) -> None:  # type: ignore[no-untyped-def]
        # One services object (settings, knowledge base, FAQ gate, cipher, sessions, case API).
        install(ActionServices.build(settings, KnowledgeBase.load(settings.knowledge_dir, settings.database_url)))

    async def start_submission_worker(app_, _loop) -> None:  # type: ignore[no-untyped-def]
        # Applications queued while the case API was down are delivered from here.
        app_.ctx.stop_worker = asyncio.Event()
        app_.add_task(
            run_worker(case_client(), sessions(), cipher(), settings, stop=app_.ctx.stop_worker),
            name="submission-worker",
        )

    async def stop_submission_worker(app_, _loop) -> None:  # type: ignore[no-untyped-def]
        app_.ctx.stop_worker.set()

    app.register_listener(build_services, "before_server_start")
    app.register_listener(start_submission_worker, "after_server_start")
    app.register_listener(stop_submission_worker, "before_server_stop")

    @app.get("/healthz")
    async def healthz(_request):  # type: ignore[no-untyped-def]
        return response.json({"status": "ok"})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="power-service action server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    app = build_app(settings)
    app.run(args.host, args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
