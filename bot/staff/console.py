"""The web staff console at `/staff`: one plain page (no framework, no CDN) over the staff API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

PAGE = Path(__file__).resolve().parent.parent / "static" / "staff.html"

console = APIRouter(tags=["pages"])


@console.get("/staff", include_in_schema=False)
async def staff_console() -> FileResponse:
    """The console; it shows the login until the staff API accepts the session."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers={
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                   "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    })
