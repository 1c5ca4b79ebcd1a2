"""Signed links to a case's status page and QR code.

A case number is readable and sequential, so it must not be enough to see a case: the links
in receipts carry an HMAC signature under `LINK_SIGNING_KEY`. Built by the action that gives
the receipt, checked by the gateway that serves the page and the PNG.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from common.crypto import sign

SIGNATURE_CHARS = 32


def link_signature(secret: str, case_id: str) -> str:
    return sign(secret, f"case-link:{case_id}")[:SIGNATURE_CHARS]


def check_link_signature(secret: str, case_id: str, signature: str) -> bool:
    """Whether `signature` is the link signature of `case_id`, compared in constant time."""
    # As bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500).
    return hmac.compare_digest(link_signature(secret, case_id).encode(), (signature or "").encode("utf-8"))


def status_url(base_url: str, secret: str, case_id: str) -> str:
    """The public status page of a case (what the QR code opens)."""
    return f"{base_url.rstrip('/')}/status/{quote(case_id)}?sig={link_signature(secret, case_id)}"


def qr_url(base_url: str, secret: str, case_id: str) -> str:
    """The PNG of the QR code that opens the status page."""
    return f"{base_url.rstrip('/')}/api/cases/{quote(case_id)}/qr.png?sig={link_signature(secret, case_id)}"
