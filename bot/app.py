"""Builds the gateway from settings, in one function, so tests build it with test settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.background import background
from bot.casework.console import console as case_console
from bot.casework.staff_api import router as case_staff_router
from bot.chat import ChatService
from bot.handoff.setup import build_handoffs
from bot.rasa_client import RasaClient
from bot.rate_limit import ChatLimits
from bot.staff.api import router as staff_router
from bot.staff.auth import LoginThrottle
from bot.staff.console import console
from bot.status_pages import router as status_router
from bot.telegram.webhook import router as telegram_router
from bot.web import pages, router
from common import migrate
from common.case_client import CaseClient
from common.db import make_engine, make_session_factory
from common.i18n import t
from common.settings import Settings
from common.web import answer_database_down, limit_body_size
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 512 * 1024


def build_app(settings: Settings) -> FastAPI:
    """The gateway's ASGI app: web chat API and page, with its lifespan resources."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate.upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        app.state.sessions = make_session_factory(engine)
        app.state.knowledge = KnowledgeBase.load(settings.knowledge_dir, settings.database_url)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
            app.state.settings = settings
            app.state.limits = ChatLimits.from_settings(settings)
            app.state.rasa = RasaClient(
                settings.rasa_url, http, settings.rasa_timeout_s, settings.secret("RASA_AUTH_TOKEN"),
                settings.secret("SERVICE_CALL_SECRET"),
            )
            app.state.case_client = CaseClient(
                settings.case_api_url, settings.secret("CASE_API_GATEWAY_KEY"), http, settings.case_api_timeout_s
            )
            app.state.handoffs = build_handoffs(app.state)
            app.state.staff_throttle = LoginThrottle()
            app.state.chat = ChatService(settings, app.state.rasa, app.state.sessions, app.state.handoffs)
            async with background(app, settings, http):  # notifier, Telegram bot
                yield
                with contextlib.suppress(asyncio.TimeoutError):  # hand-off hooks still running
                    await asyncio.wait_for(app.state.handoffs.idle(), 5.0)
            await app.state.limits.close()
        engine.dispose()

    app = FastAPI(
        title="Power-service assistant gateway",
        description="Web chat API of the power-service assistant (see DESIGN.md).",
        version="1.0",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(pages)
    app.include_router(status_router)
    app.include_router(telegram_router)
    app.include_router(staff_router)
    app.include_router(console)
    app.include_router(case_staff_router)
    app.include_router(case_console)

    limit_body_size(app, MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "reason": err.get("msg")}
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}  # a dict: error + reason
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error: %s", type(exc).__name__)
        return JSONResponse({"error": "internal error; please try again or call 95598"}, status_code=500)

    # A new conversation or a read of updates while the database is unreachable: the busy text
    # the web page shows for any refusal (`data.error`), with a Retry-After.
    answer_database_down(app, t("service.unavailable", settings.default_locale), logger)

    return app
