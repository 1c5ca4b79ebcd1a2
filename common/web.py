"""What every HTTP service of the project does the same way (the gateway, the case API)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def limit_body_size(app: FastAPI, max_bytes: int) -> None:
    """Refuses bodies over `max_bytes` (by Content-Length) with 413 and a JSON reason."""

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse({"error": "request body too large", "limit_bytes": max_bytes}, status_code=413)
        return await call_next(request)
