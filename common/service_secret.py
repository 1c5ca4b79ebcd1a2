"""The header secret between the project's services (gateway -> Rasa's REST channel, Rasa ->
action server): without it, anyone reaching those ports could speak as any resident or run
the actions on a made-up tracker. Sent as a header, never in a URL."""

from __future__ import annotations

import hmac
from typing import Optional

SECRET_HEADER = "X-Service-Secret"
SECRET_NAME = "SERVICE_CALL_SECRET"


def secret_matches(provided: Optional[str], expected: str) -> bool:
    """Constant-time comparison; an empty or missing value never matches."""
    if not provided or not expected:
        return False
    return hmac.compare_digest(provided.encode("utf-8"), expected.encode("utf-8"))
