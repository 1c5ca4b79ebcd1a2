"""The case API's error answer: `{"error": str, "problems": [{"field", "reason"}]?, ...}`.

Handlers and data functions raise `ApiError`; `cases.app` turns it, request validation errors
and HTTP errors into that one JSON shape, so a client reads every refusal the same way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class ApiError(Exception):
    """A refusal with its HTTP status, a short message and optional details."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        problems: Optional[List[Dict[str, str]]] = None,
        headers: Optional[Dict[str, str]] = None,
        **extra: Any,
    ):
        super().__init__(error)
        self.status = status
        self.error = error
        self.problems = problems
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"error": self.error}
        if self.problems is not None:
            body["problems"] = self.problems
        body.update(self.extra)
        return body


def problem(field: str, reason: str) -> Dict[str, str]:
    """One entry of `problems`."""
    return {"field": field, "reason": reason}


def invalid(problems: List[Dict[str, str]], error: str = "invalid request") -> ApiError:
    """A 422 listing every field that failed."""
    return ApiError(422, error, problems=problems)


def not_found(what: str = "case") -> ApiError:
    return ApiError(404, f"no such {what}")
