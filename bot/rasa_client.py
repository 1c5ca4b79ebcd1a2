"""The only code that talks to the Rasa server: send a message, read the tracker."""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx


class RasaUnavailable(RuntimeError):
    """Rasa did not answer, or answered with an error."""


class RasaClient:
    """Thin async client of Rasa's REST channel and HTTP API."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, timeout_s: float = 10.0, token: str = ""):
        self._base = base_url.rstrip("/")
        self._http = http
        self._timeout = timeout_s
        self._token = token  # Rasa's HTTP API token (`--auth-token`); the REST channel needs none

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Sends one user message and returns the bot's messages for that turn."""
        try:
            response = await self._http.post(
                f"{self._base}/webhooks/rest/webhook",
                json={"sender": sender_id, "message": text, "metadata": metadata},
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
                params={"include_events": "NONE", "token": self._token},
                timeout=self._timeout,
            )
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def append_event(self, sender_id: str, event: Dict[str, Any]) -> bool:
        """Appends an event (e.g. `{"event": "pause"}` / `"resume"`) to the conversation's tracker."""
        try:
            response = await self._http.post(
                f"{self._base}/conversations/{quote(sender_id, safe='')}/tracker/events",
                params={"include_events": "NONE", "token": self._token},
                json=event,
                timeout=self._timeout,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        """The conversation's events (for the transcript staff read); empty when unavailable."""
        try:
            response = await self._http.get(
                f"{self._base}/conversations/{quote(sender_id, safe='')}/tracker",
                params={"include_events": "AFTER_RESTART", "token": self._token},
                timeout=self._timeout,
            )
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        return list((response.json() or {}).get("events") or [])

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(f"{self._base}/", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
