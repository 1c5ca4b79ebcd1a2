"""The web chat API (DESIGN.md contract) and the chat page.

- `POST /api/chat/sessions` → `{"sender_id", "token"}`: a new conversation and its secret
- `POST /api/chat` `{"sender_id", "text", "locale"?}` → `{"messages": [...], "meta": {...}}`
- `GET /api/chat/{sender_id}/updates?after=N` → messages pushed later, each with `seq`

The last two need `Authorization: Bearer <token>` of that conversation (401 without, 403 with
another's, 401 with `"reason": "session_expired"` once it was unused for WEB_SESSION_IDLE_DAYS):
see `bot.web_sessions`.
- `GET /api/faq?locale=` → FAQ categories and their questions, for browsing
- `GET /healthz`, and `/` the page
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path as FilePath
from typing import Any, Dict, List, Optional

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, StrictStr, validator
from sqlalchemy.exc import SQLAlchemyError

from bot import web_sessions
from bot.rate_limit import too_many
from common import outbox
from common.db import session_scope
from common.i18n import t
from common.scripts import ZH_HANS, normalize_locale

logger = logging.getLogger(__name__)
STATIC = FilePath(__file__).resolve().parent / "static"
SENDER_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,128}$"
# Generous: the text is cut at MAX_MESSAGE_CHARS with a notice; beyond this the body is refused.
MAX_TEXT_CHARS = 100_000

router = APIRouter(prefix="/api", tags=["chat"])
pages = APIRouter(tags=["pages"])


class ChatRequest(BaseModel):
    sender_id: StrictStr = Field(
        ..., regex=SENDER_PATTERN, description="The conversation's id, from POST /api/chat/sessions."
    )
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


class SessionOut(BaseModel):
    sender_id: str = Field(..., description="The new conversation's id (random, `web:` prefix).")
    token: str = Field(..., description="Its secret: send it as `Authorization: Bearer <token>`.")


AUTH_HEADER = Header(None, description="`Bearer <token>` of the conversation (POST /api/chat/sessions).")


_grants = web_sessions.GrantCache()
EXPIRED_BODY = {"error": "this conversation ended after a long time unused; start a new one (POST /api/chat/sessions)",
                "reason": "session_expired"}


def authorize(request: Request, sender_id: str, authorization: Optional[str]) -> None:
    """Lets the request through only with the bearer token of conversation `sender_id`, while
    that conversation is not expired (`WEB_SESSION_IDLE_DAYS`); records its use hourly."""
    idle = web_sessions.idle_limit(request.app.state.settings.web_session_idle_days)
    at = web_sessions.now()
    if _grants.granted(sender_id, authorization, at):
        return
    try:
        with session_scope(request.app.state.sessions) as session:
            verdict = web_sessions.verify(sender_id, authorization, session=session, idle=idle, at=at)
    except SQLAlchemyError:
        if _grants.granted(sender_id, authorization, at, stale_ok=True):  # talking already: keep talking
            logger.warning("web sessions unreadable (%s): an earlier grant let the turn through", sender_id)
            return
        raise
    access = verdict.access
    if access is web_sessions.Access.GRANTED:
        _grants.remember(sender_id, authorization, at, verdict.expires_at)
        if verdict.touch_due:
            _touch(request, sender_id, at)
        return
    if access is web_sessions.Access.MISSING:
        raise HTTPException(401, "a bearer token is required (POST /api/chat/sessions)",
                            headers={"WWW-Authenticate": "Bearer"})
    if access is web_sessions.Access.EXPIRED:
        raise HTTPException(401, EXPIRED_BODY, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    raise HTTPException(403, "this token does not own that conversation")


def _touch(request: Request, sender_id: str, at: dt.datetime) -> None:
    """Records the conversation's use; a failed write (full disk) costs the resident nothing."""
    try:
        with session_scope(request.app.state.sessions) as session:
            web_sessions.touch(sender_id, session=session, at=at)
    except SQLAlchemyError as exc:
        logger.warning("could not record the use of %s: %s", sender_id, type(exc).__name__)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/chat/sessions", response_model=SessionOut, status_code=201,
             responses={429: {"description": "Too many new conversations from this address"}})
async def create_session(request: Request) -> Any:
    """Starts a web conversation: its id and the token that alone may use it."""
    wait = await request.app.state.limits.sessions.take(client_address(request))
    if wait:
        return too_many(wait, request.app.state.settings.default_locale)
    with session_scope(request.app.state.sessions) as session:
        issued = web_sessions.issue(session=session)
        web_sessions.prune(web_sessions.idle_limit(request.app.state.settings.web_session_idle_days), session=session)
    return {"sender_id": issued.sender_id, "token": issued.token}


@router.post("/chat", response_model=ChatResponse, response_model_exclude_none=False,
             responses={401: {"description": "No bearer token, or the conversation expired (reason session_expired)"},
                        403: {"description": "Not this conversation's token"},
                        429: {"description": "Too many messages (请稍后再试)"}})
async def post_chat(body: ChatRequest, request: Request, authorization: Optional[str] = AUTH_HEADER) -> Any:
    """Runs one turn of the conversation `sender_id`."""
    limits = request.app.state.limits
    locale = normalize_locale(body.locale or "") or request.app.state.settings.default_locale
    wait = await limits.address.take(client_address(request))
    if wait:
        return too_many(wait, locale)
    authorize(request, body.sender_id, authorization)
    wait = await limits.sender.take(body.sender_id)
    if wait:
        return too_many(wait, locale)
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
    authorization: Optional[str] = AUTH_HEADER,
) -> Dict[str, Any]:
    """Messages pushed to `sender_id` after seq `after` (status updates, staff replies)."""
    authorize(request, sender_id, authorization)
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
