"""Builds the case API from settings, in one function, so tests build it with test settings.

The lifespan opens the cases database (its own tables only), loads the process rules and the
holiday file, seeds the local e-licence registry (unless `REGISTRY_URL` names a real one) and
runs the webhook dispatcher as a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cases import clocks
from cases.api.routes import cases, events, health, processes, queue, reports, webhooks
from cases.auth import KeyRing
from cases.context import CaseContext, utc_now
from cases.errors import ApiError
from cases.processes import load_catalog
from cases.registry import HttpRegistry, LocalRegistry, Registry, seed_local_registry
from cases.sms import SmsSender, sender_from_settings
from cases.webhooks import Dispatcher, RetryPolicy
from cases.workdays import load_holiday_file
from common import migrate
from common.crypto import case_cipher
from common.db import make_engine, make_session_factory, session_scope
from common.settings import Settings, SettingsError
from common.web import answer_database_down, limit_body_size

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
DISPATCHER_STOP_S = 6.0

DESCRIPTION = """Reference service standing for the grid company's business system: cases of
zero-document applications (零证办电), their stages, deadlines in working days, an event feed
and signed webhooks. The contract for integrators is `cases/README.md`. Every route but
`/healthz` needs a client key in `X-Api-Key` (roles actions, gateway, staff)."""


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


def allowed_methods(app: FastAPI, request: Request) -> str:
    """Every method the path answers (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal as `{"error", "problems"?}`; never a 500 for bad input."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": "body" if err.get("type") == "value_error.jsondecode" else _field(tuple(err.get("loc", ()))),
                "reason": str(err.get("msg")),
            }
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            problems = [{"field": "body", "reason": "not valid JSON"}]
            return JSONResponse({"error": "invalid request", "problems": problems}, status_code=422)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(app, request)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error: %s", type(exc).__name__)
        return JSONResponse({"error": "internal error; please try again"}, status_code=500)

    # Clients (common/case_client.py) retry any 5xx; a 503 says the request may be sent again.
    answer_database_down(app, "database unavailable; please try again", logger)


def build_app(
    settings: Settings,
    *,
    registry: Optional[Registry] = None,
    sms: Optional[SmsSender] = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> FastAPI:
    """The case API's ASGI app. `registry`, `sms` and `clock` replace the defaults in tests.

    A clock other than the system's is refused unless `APP_ENV=test`: deadlines, lights and
    warnings must never run on a made-up time in production.
    """
    if clock is not utc_now and settings.app_env != "test":
        raise SettingsError(f"the case API's clock can only be replaced when APP_ENV=test (not {settings.app_env})")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.case_database_url)
        migrate.upgrade(settings.case_database_url, migrate.CASES)
        sessions = make_session_factory(engine)
        cipher = case_cipher(settings)
        chosen = registry
        http_registry: Optional[HttpRegistry] = None
        if chosen is None and settings.registry_url:
            chosen = http_registry = HttpRegistry(settings.registry_url)
        elif chosen is None:
            with session_scope(sessions) as session:
                seed_local_registry(session=session, cipher=cipher)
            chosen = LocalRegistry(sessions, cipher)
        dispatcher = Dispatcher(
            sessions,
            settings.secret("WEBHOOK_SECRET"),
            RetryPolicy(base_s=settings.webhook_backoff_s, max_attempts=settings.webhook_max_attempts),
            poll_s=settings.webhook_poll_s,
            clock=clock,
        )
        app.state.sessions = sessions
        app.state.dispatcher = dispatcher
        app.state.context = CaseContext(
            settings=settings,
            cipher=cipher,
            catalog=load_catalog(),
            holidays=load_holiday_file(settings.holidays_file),
            registry=chosen,
            sms=sms if sms is not None else sender_from_settings(settings),
            clock=clock,
            on_events=dispatcher.wake,
        )
        with session_scope(sessions) as session:
            if filled := clocks.backfill(session=session, ctx=app.state.context):
                logger.info("time-limit clocks started for %d open case(s)", filled)
        task = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
        logger.info("case API ready (%d webhook URLs)", len(settings.webhook_urls))
        try:
            yield
        finally:
            # Let a delivery in flight finish and be logged; cancel if the receiver hangs.
            dispatcher.stop()
            try:
                await asyncio.wait_for(task, timeout=DISPATCHER_STOP_S)
            except asyncio.TimeoutError:
                pass
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if http_registry is not None:
                http_registry.close()
            engine.dispose()

    app = FastAPI(
        title="Case API (reference business system)",
        description=DESCRIPTION,
        version="1.0",
        lifespan=lifespan,
    )
    app.state.keys = KeyRing.from_settings(settings)
    for module in (cases, events, processes, webhooks, health, queue, reports):
        app.include_router(module.router)

    limit_body_size(app, MAX_BODY_BYTES)

    install_error_handlers(app)
    return app
