"""The only code that talks to the Rasa server: send a message, read the tracker."""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx

from common.rasa_auth import rasa_api_headers
from common.service_secret import SECRET_HEADER


class RasaUnavailable(RuntimeError):
    """Rasa did not answer, or answered with an error."""


class RasaClient:
    """Thin async client of Rasa's REST channel and HTTP API."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, timeout_s: float = 10.0, token: str = "",
                 service_secret: str = ""):
        self._base = base_url.rstrip("/")
        self._channel_headers = {SECRET_HEADER: service_secret} if service_secret else {}
        self._http = http
        self._timeout = timeout_s
        self._token = token  # signs the JWT of Rasa's HTTP API (common/rasa_auth.py), never sent itself

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Sends one user message and returns the bot's messages for that turn."""
        try:
            response = await self._http.post(
                f"{self._base}/webhooks/rest/webhook",
                json={"sender": sender_id, "message": text, "metadata": metadata},
                headers=self._channel_headers,  # the REST channel's shared secret (nlu/channels.py)
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"rasa: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"rasa: HTTP {response.status_code}")
        body = response.json()
        if not isinstance(body, list):
            raise RasaUnavailable("rasa: unexpected response body")
        return body

    async def tracker(self, sender_id: str) -> Optional[Dict[str, Any]]:
        """The conversation's current state (slots, latest message) without its events."""
        try:
            response = await self._http.get(
                f"{self._base}/conversations/{quote(sender_id, safe='')}/tracker",
                params={"include_events": "NONE"},
                headers=rasa_api_headers(self._token, "gateway"),
                timeout=self._timeout,
            )
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(f"{self._base}/", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
