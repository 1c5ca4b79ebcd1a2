"""What every HTTP service of the project does the same way (the gateway, the case API)."""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, MutableMapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException

Message = MutableMapping[str, Any]

# How long the gateway and the case API keep an idle HTTP connection open. uvicorn's default
# (5 s) equals httpx's client-side default, so a client reusing a connection at the 5-second
# mark may send on one the server is closing; longer than clients' and load balancers' usual
# idle timeouts, the client always closes first. (Suspected, not reproduced, as the cause of
# the one `ReadError` in each 5-minute load run, where residents pause 4-12 s.)
KEEP_ALIVE_S = 75
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised from `receive` once more than the limit has arrived; FastAPI passes HTTPExceptions
    raised while reading a body through to the app's handlers (any other error becomes 400)."""

    def __init__(self, max_bytes: int):
        super().__init__(413, "request body too large")
        self.max_bytes = max_bytes


class BodySizeLimit:
    """ASGI middleware: refuses a body over `max_bytes` with 413 and a JSON reason.

    `Content-Length` is checked before anything is read, and the bytes are counted as they are
    received, so a chunked body (no length announced) or a lying length is cut off too.
    """

    def __init__(self, app: App, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> Dict[str, Any]:
        return {"error": "request body too large", "limit_bytes": self.max_bytes}

    async def _send_413(self, send: Send) -> None:
        body = json.dumps(self._refusal()).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._send_413(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:  # the app did not turn it into a response itself
                await self._send_413(send)


def limit_body_size(app: FastAPI, max_bytes: int) -> None:
    """Refuses bodies over `max_bytes` (announced or as received) with 413 and a JSON reason."""
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)


# The database could not be reached (PostgreSQL stopped or cut off, a pool exhausted waiting
# for it): a passing condition the client should retry, not a bug. Other database errors
# (an integrity error, bad SQL) stay 500s.
DATABASE_DOWN = (OperationalError, InterfaceError, SATimeoutError)
DATABASE_RETRY_AFTER_S = 5


def answer_database_down(app: FastAPI, error: str, log: logging.Logger) -> None:
    """Answers a request that failed because the database is unreachable with 503, a
    `Retry-After` and `{"error": error}`, and logs one line. Without it the catch-all handler
    answered 500 "internal error" with a traceback per request during an outage (found by
    tests/chaos/test_postgres_unreachable.py)."""

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"error": error}, status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, database_down)
