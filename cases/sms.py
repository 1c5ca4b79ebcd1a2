"""Sending a text message to the applicant's phone: the interface, a real sender, a stand-in.

The status check sends a one-time code to the phone on the case (`cases/codes.py`). The case
API sends through an `SmsSender`:
- `HttpSms` posts `{"phone", "text"}` to `SMS_GATEWAY_URL` (an adapter in front of the
  operator's SMS provider) with `Authorization: Bearer <SMS_GATEWAY_TOKEN>`;
- `FileSms`, the development stand-in, appends each message as a JSON line to
  `<VAR_DIR>/sms_outbox.jsonl` (code included: that file is the phone in development, and tests
  read it; the phone number masked, like every file the services write). It is never used
  outside development; the log only ever shows the phone masked.
Without a gateway outside development, code requests answer 503 and say so.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Optional, Protocol

import httpx

from common.pii import mask_phone
from common.settings import Settings

logger = logging.getLogger(__name__)
OUTBOX_NAME = "sms_outbox.jsonl"


class SmsUnavailable(RuntimeError):
    """The message could not be handed to the SMS provider."""


class SmsSender(Protocol):
    def send(self, phone: str, text: str, *, case_id: str) -> None:
        """Sends `text` to `phone` or raises `SmsUnavailable`."""


class FileSms:
    """Development stand-in: one JSON line per message in a file under `var/`."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def send(self, phone: str, text: str, *, case_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"case_id": case_id, "phone": mask_phone(phone), "text": text}, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        logger.info("development SMS for case %s to %s written to %s", case_id, mask_phone(phone), self.path.name)


class HttpSms:
    """An SMS gateway over HTTP."""

    def __init__(self, url: str, token: str, timeout_s: float = 5.0):
        self._url, self._token, self._timeout = url, token, timeout_s

    def send(self, phone: str, text: str, *, case_id: str) -> None:
        try:
            response = httpx.post(
                self._url, json={"phone": phone, "text": text}, timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token}"} if self._token else {},
            )
        except httpx.HTTPError as exc:
            raise SmsUnavailable(type(exc).__name__) from exc
        if response.status_code >= 300:
            raise SmsUnavailable(f"HTTP {response.status_code}")
        logger.info("SMS for case %s sent to %s", case_id, mask_phone(phone))


def sender_from_settings(settings: Settings) -> Optional[SmsSender]:
    """The configured sender; the file stand-in in development; None when none may be used."""
    if settings.sms_gateway_url:
        return HttpSms(settings.sms_gateway_url, settings.sms_gateway_token)
    if settings.is_development:
        return FileSms(settings.var_dir / OUTBOX_NAME)
    logger.warning("SMS_GATEWAY_URL is not set: status-check codes cannot be sent")
    return None
