"""FastAPI dependencies of the case API: the session, the context, and the staff key.

`X-Api-Key` is compared in constant time with `CASE_API_KEY`. Routes that need it depend on
`require_key` (401 otherwise); `GET /cases/{case_id}` depends on `has_key` and redacts the
answer without it.
"""

from __future__ import annotations

import hmac
from typing import Iterator, Optional

from fastapi import Header, Request
from sqlalchemy.orm import Session

from cases.context import CaseContext
from cases.errors import ApiError


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; routes commit, anything uncommitted is rolled back."""
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def get_context(request: Request) -> CaseContext:
    return request.app.state.context


def key_is_valid(request: Request, given: Optional[str]) -> bool:
    expected = request.app.state.context.settings.secret("CASE_API_KEY")
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def has_key(request: Request, x_api_key: Optional[str] = Header(None, description="Staff key")) -> bool:
    return key_is_valid(request, x_api_key)


def require_key(request: Request, x_api_key: Optional[str] = Header(None, description="Staff key")) -> None:
    if not key_is_valid(request, x_api_key):
        raise ApiError(401, "missing or wrong X-Api-Key", headers={"WWW-Authenticate": "ApiKey"})
