"""The status page a receipt's QR code opens, and the QR code itself.

- `GET /api/cases/{case_id}/qr.png?sig=` → a PNG (qrcode) of the signed status link
- `GET /status/{case_id}?sig=&lang=` → a small page: stage, stages, history and deadline

Both need the link's signature (`common.links`), so a guessed case number shows nothing. The
page shows no personal data beyond what the receipt showed (no name, masked ID and phone).
"""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any, Dict

import qrcode
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from common.case_client import CaseApiUnavailable
from common.case_presentation import deadline_day, stage_name
from common.i18n import format_day, t
from common.links import check_link_signature, status_url
from common.scripts import ZH_HANS, normalize_locale

CASE_ID_PATTERN = r"^[0-9A-Za-z\-]{6,40}$"

router = APIRouter(tags=["status"])


def _check(request: Request, case_id: str, sig: str) -> None:
    secret = request.app.state.settings.secret("LINK_SIGNING_KEY")
    if not check_link_signature(secret, case_id, sig):
        raise HTTPException(status_code=403, detail="invalid or missing link signature")


def qr_png(data: str) -> bytes:
    """A PNG QR code of `data`, with a quiet zone scanners need."""
    image = qrcode.make(data, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@router.get("/api/cases/{case_id}/qr.png", response_class=Response)
async def read_case_qr(
    request: Request,
    case_id: str = Path(..., regex=CASE_ID_PATTERN),
    sig: str = Query("", max_length=64),
) -> Response:
    """The receipt's QR code: it opens this case's status page."""
    _check(request, case_id, sig)
    settings = request.app.state.settings
    link = status_url(settings.public_base_url, settings.secret("LINK_SIGNING_KEY"), case_id)
    return Response(qr_png(link), media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


def render_status(case: Dict[str, Any], locale: str) -> str:
    """The status page's HTML; every value escaped."""
    esc = html.escape
    stages = case.get("stages") or []
    current = case.get("stage")
    names = {s.get("key"): stage_name(s, locale) for s in stages}
    items = []
    for stage in stages:
        mark = "▶" if stage.get("key") == current else ""
        items.append(f"<li>{mark} {esc(stage_name(stage, locale))}</li>")
    history = []
    for entry in case.get("history") or []:
        try:
            when = dt.datetime.fromisoformat(str(entry.get("at")).replace("Z", "+00:00"))
            day = format_day(when.date(), locale)
        except ValueError:
            day = str(entry.get("at"))
        history.append(f"<li>{esc(day)} · {esc(names.get(entry.get('stage'), str(entry.get('stage'))))}</li>")
    deadline = case.get("deadline")
    deadline_text = deadline_day(dt.date.fromisoformat(deadline), locale) if deadline else "-"
    title = t("status.page_title", locale)
    return f"""<!doctype html>
<html lang="{esc(locale.replace('_', '-'))}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:36rem;margin:1rem auto;padding:0 1rem}}li{{margin:.3rem 0}}</style>
</head><body>
<h1>{esc(title)}</h1>
<p>{esc(t("status.case_number", locale))}: <strong>{esc(str(case.get("case_id")))}</strong></p>
<p>{esc(t("status.current_stage", locale))}: <strong>{esc(names.get(current, str(current)))}</strong></p>
<p>{esc(t("status.deadline", locale))}: {esc(deadline_text)}</p>
<h2>{esc(t("status.stages", locale))}</h2><ol>{''.join(items)}</ol>
<h2>{esc(t("status.history", locale))}</h2><ul>{''.join(history)}</ul>
<p>{esc(t("status.hotline", locale))}</p>
</body></html>"""


@router.get("/status/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def read_status_page(
    request: Request,
    case_id: str = Path(..., regex=CASE_ID_PATTERN),
    sig: str = Query("", max_length=64),
    lang: str = Query(ZH_HANS, max_length=16),
) -> HTMLResponse:
    """The page a receipt's QR code opens."""
    _check(request, case_id, sig)
    locale = normalize_locale(lang) or ZH_HANS
    try:
        case = await request.app.state.case_client.get_case(case_id)
    except CaseApiUnavailable:
        return HTMLResponse(html.escape(t("service.unavailable", locale)), status_code=503)
    if case is None:
        raise HTTPException(status_code=404, detail="no such case")
    return HTMLResponse(render_status(case, locale))
