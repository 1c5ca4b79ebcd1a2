"""The case console at `/staff/cases` (and `/staff/cases/<case id>`, the links of the warning
digests): one plain page, no framework and no CDN, over the staff API; the same login as `/staff`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

PAGE = Path(__file__).resolve().parent.parent / "static" / "staff_cases.html"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
}

console = APIRouter(tags=["pages"])


@console.get("/staff/cases", include_in_schema=False)
async def case_console() -> FileResponse:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=HEADERS)


@console.get("/staff/cases/{case_id}", include_in_schema=False)
async def case_page(case_id: str) -> FileResponse:
    """The same page; its script opens the case named in the path."""
    return FileResponse(PAGE, media_type="text/html; charset=utf-8", headers=HEADERS)
