"""The web chat API (DESIGN.md contract) and the chat page.

- `POST /api/chat` `{"sender_id", "text", "locale"?}` → `{"messages": [...], "meta": {...}}`
- `GET /api/chat/{sender_id}/updates?after=N` → messages pushed later, each with `seq`
- `GET /api/faq?locale=` → FAQ categories and their questions, for browsing
- `GET /healthz`, and `/` the page
"""

from __future__ import annotations

import dataclasses
from pathlib import Path as FilePath
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, StrictStr, validator

from common import outbox
from common.db import session_scope
from common.i18n import t
from common.scripts import ZH_HANS, normalize_locale

STATIC = FilePath(__file__).resolve().parent / "static"
SENDER_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,128}$"
# Generous: the text is cut at MAX_MESSAGE_CHARS with a notice; beyond this the body is refused.
MAX_TEXT_CHARS = 100_000

router = APIRouter(prefix="/api", tags=["chat"])
pages = APIRouter(tags=["pages"])


class ChatRequest(BaseModel):
    sender_id: StrictStr = Field(..., regex=SENDER_PATTERN, description="The conversation's id, chosen by the client.")
    text: StrictStr = Field(..., max_length=MAX_TEXT_CHARS, description="What the resident typed, or a button payload.")
    locale: Optional[StrictStr] = Field(None, max_length=16, description="zh_Hans, zh_Hant or en; a hint.")

    @validator("locale")
    def _known_locale(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and normalize_locale(value) is None:
            raise ValueError("locale must be zh_Hans, zh_Hant or en")
        return value


class ButtonOut(BaseModel):
    title: str
    payload: str


class MessageOut(BaseModel):
    text: str
    buttons: List[ButtonOut] = []
    image_url: Optional[str] = None


class MetaOut(BaseModel):
    intent: Optional[str]
    confidence: Optional[float]
    fallback: bool
    handoff: bool
    requested_slot: Optional[str]
    case_id: Optional[str]
    answer_id: Optional[str] = Field(None, description="Knowledge entry answered (extension).")


class ChatResponse(BaseModel):
    messages: List[MessageOut]
    meta: MetaOut


@router.post("/chat", response_model=ChatResponse, response_model_exclude_none=False)
async def post_chat(body: ChatRequest, request: Request) -> Dict[str, Any]:
    """Runs one turn of the conversation `sender_id`."""
    turn = await request.app.state.chat.handle(body.sender_id, body.text, "web", body.locale)
    reply = {"messages": turn.messages, "meta": dataclasses.asdict(turn.meta)}
    if turn.shed:  # overloaded: a polite reply at once, and a status a client or proxy can act on
        return JSONResponse({"error": turn.messages[0]["text"], **reply}, status_code=503, headers={"Retry-After": "2"})
    return reply


@router.get("/chat/{sender_id}/updates")
async def read_updates(
    request: Request,
    sender_id: str = Path(..., regex=SENDER_PATTERN),
    after: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=200),
) -> Dict[str, Any]:
    """Messages pushed to `sender_id` after seq `after` (status updates, staff replies)."""
    with session_scope(request.app.state.sessions) as session:
        items = outbox.updates_after(sender_id, after, limit, session=session)
    return {"messages": items, "last_seq": items[-1]["seq"] if items else after}


@router.get("/faq")
async def read_faq(request: Request, locale: str = Query(ZH_HANS, max_length=16)) -> Dict[str, Any]:
    """FAQ categories with their questions' titles and the payload that asks each."""
    loc = normalize_locale(locale) or ZH_HANS
    kb = request.app.state.knowledge
    return {
        "locale": loc,
        "categories": [
            {
                "key": key,
                "title": t(f"category.{key}", loc),
                "entries": [
                    {"id": e.id, "title": e.title.get(loc), "payload": f"/{e.intent}"} for e in entries
                ],
            }
            for key, entries in kb.categories().items()
        ],
    }


@pages.get("/healthz", tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    """Liveness of the gateway and reachability of Rasa."""
    rasa_ok = await request.app.state.rasa.healthy()
    return JSONResponse({"status": "ok", "rasa": "ok" if rasa_ok else "unavailable"})


@pages.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")
