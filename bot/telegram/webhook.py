"""`POST /telegram/webhook`: Telegram's updates in webhook mode (`TELEGRAM_WEBHOOK_URL` set).

Telegram sends the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`; a
request without the right one is refused (403; webhook mode does not start without a secret),
a body that is not an update gets 400, and a good update is handled before the answer: Telegram
takes the 200 as the acknowledgement, so an update whose handling did not finish (the gateway
stopped, an error) is sent again (at-least-once; the duplicate guard makes it once for the
resident). One chat's updates still run in order (the per-chat update processor).
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import Update

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

router = APIRouter(prefix="/telegram", tags=["telegram"])


@router.post("/webhook", include_in_schema=False)
async def receive_update(request: Request) -> JSONResponse:
    """Checks the secret and queues the update for the bot."""
    front = getattr(request.app.state, "telegram", None)
    if front is None or not front.webhook_mode:
        return JSONResponse({"error": "telegram webhook not enabled"}, status_code=404)
    expected = front.settings.telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("telegram webhook call refused: bad secret")
        return JSONResponse({"error": "forbidden"}, status_code=403)
    try:
        data = json.loads(await request.body())
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, front.application.bot)
    except Exception as exc:  # any malformed body is the sender's problem, never a 500
        logger.warning("malformed telegram update refused: %s", type(exc).__name__)
        return JSONResponse({"error": "malformed update"}, status_code=400)
    if not front.application.running:
        return JSONResponse({"error": "bot starting"}, status_code=503)
    application = front.application
    await application.update_processor.process_update(update, application.process_update(update))
    return JSONResponse({"ok": True})
