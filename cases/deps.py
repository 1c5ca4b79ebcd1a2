"""FastAPI dependencies of the case API: the session and the context (the keys: `cases/auth.py`)."""

from __future__ import annotations

from typing import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from cases.context import CaseContext


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; routes commit, anything uncommitted is rolled back."""
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def get_context(request: Request) -> CaseContext:
    return request.app.state.context
