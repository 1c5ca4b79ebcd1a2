"""Signatures of the case API's webhooks, and the check a receiver runs (a helper to copy).

Header: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under WEBHOOK_SECRET>`.
The timestamp is inside the signed text, so an old request cannot be replayed with a new
time; receivers refuse signatures older (or further in the future) than `TOLERANCE_S`, five
minutes, and should also ignore an `X-Event-Id` they have already handled. Each delivery
attempt is signed afresh, so a retry after a back-off carries its own time.

    from common.webhook_signature import verify_webhook
    if not verify_webhook(secret, request_body_bytes, request.headers.get("X-Signature")):
        return 401
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional

HEADER = "X-Signature"
TOLERANCE_S = 300


def signature_header(secret: str, body: bytes, timestamp: Optional[int] = None) -> str:
    """The `X-Signature` value for `body` sent at `timestamp` (now by default)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify_webhook(
    secret: str, body: bytes, header: Optional[str], *, now: Optional[float] = None, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether `header` signs `body` under `secret` within `tolerance_s` of `now`."""
    parts = dict(item.split("=", 1) for item in (header or "").split(",") if "=" in item)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or len(stamp) > 12 or not given:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    expected = signature_header(secret, body, int(stamp)).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
