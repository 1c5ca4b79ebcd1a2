"""What every HTTP service of the project does the same way (the gateway, the case API)."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, MutableMapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException

Message = MutableMapping[str, Any]
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
