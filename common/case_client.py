"""The only code that calls the case API (the grid company's business system).

Used by the action server (create a case, list a sender's cases, the status check's one-time
codes) and by the gateway (status page, Telegram deep links, the event feed), each with its
own client key (`X-Api-Key`, see cases/auth.py). Every call has a timeout; creation
is retried with the same `Idempotency-Key`, so a retry after a lost response never makes a
second case. The contract is in `cases/README.md` (OpenAPI at the service's `/docs`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.3, 1.0)


class CaseApiUnavailable(RuntimeError):
    """The case API did not answer (down, timeout, 5xx): the caller may queue and retry."""


class CaseApiRejected(ValueError):
    """The case API refused the request (4xx); retrying the same request cannot help."""

    def __init__(self, status: int, body: Dict[str, Any]):
        super().__init__(f"case API refused the request: HTTP {status}")
        self.status = status
        self.body = body


class CaseClient:
    """Async client of the case API; one per process, sharing an `httpx.AsyncClient`."""

    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient, timeout_s: float = 5.0):
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._http = http
        self._timeout = timeout_s

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Optional[Dict[str, Any]] = None,
        headers: Optional[Dict[str, str]] = None, retries: int = 0,
    ) -> httpx.Response:
        all_headers = {"X-Api-Key": self._key, **(headers or {})}
        for attempt in range(retries + 1):
            try:
                response = await self._http.request(
                    method, f"{self._base}{path}", json=json, params=params, headers=all_headers,
                    timeout=self._timeout,
                )
            except httpx.HTTPError as exc:
                error: Exception = exc
            else:
                if response.status_code < 500:
                    return response
                error = RuntimeError(f"HTTP {response.status_code}")
            if attempt < retries:
                await asyncio.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])
        logger.warning("case API %s %s failed: %s", method, path.split("?")[0], type(error).__name__)
        raise CaseApiUnavailable(str(error))

    @staticmethod
    def _json(response: httpx.Response) -> Dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        if response.status_code >= 400:
            raise CaseApiRejected(response.status_code, body if isinstance(body, dict) else {"error": body})
        return body

    async def create_case(self, application: Dict[str, Any], idempotency_key: str, retries: int = 2) -> Dict[str, Any]:
        """Creates a case (or returns the one this key already made)."""
        response = await self._call(
            "POST", "/cases", json=application, headers={"Idempotency-Key": idempotency_key}, retries=retries
        )
        return self._json(response)

    async def get_case(self, case_id: str, actor: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The case, or None when there is no such case. `actor`: the staff member the gateway's
        console reads it for (`X-Staff-User`), who sees it in full (notes, registry results)."""
        headers = {"X-Staff-User": actor} if actor else None
        response = await self._call("GET", f"/cases/{quote(case_id, safe='')}", headers=headers, retries=1)
        if response.status_code == 404:
            return None
        return self._json(response)

    async def cases_of(self, channel: str, sender_id: str) -> List[Dict[str, Any]]:
        """The cases a channel's sender created, newest first."""
        response = await self._call("GET", "/cases", params={"channel": channel, "sender_id": sender_id}, retries=1)
        return list(self._json(response).get("cases") or [])

    async def request_code(self, case_id: str, requester: str) -> None:
        """Has a one-time code texted to the phone on the case, if such a case exists.

        `requester` is `<channel>:<sender id>` of whoever asks. The answer is the same whether
        the case exists or not; `CaseApiRejected` 429 when too many codes were asked for,
        `CaseApiUnavailable` when no SMS can be sent.
        """
        path = f"/cases/{quote(case_id, safe='')}/codes"
        self._json(await self._call("POST", path, json={"requester": requester}))

    async def verify(self, case_id: str, code: str, requester: str) -> bool:
        """Whether `code` is the live code `requester` was sent for the case (false for no case).

        Raises `CaseApiRejected` with status 429 after too many checks by this requester.
        """
        path = f"/cases/{quote(case_id, safe='')}/verify"
        response = await self._call("POST", path, json={"code": code, "requester": requester})
        return bool(self._json(response).get("verified"))

    async def preview(self, address: str, customer_type: str, capacity_kw: float) -> Dict[str, Any]:
        """The process, time limit, deadline and zero-investment rule a new case would get."""
        response = await self._call(  # a POST body: an address in a URL would reach logs
            "POST", "/processes/preview",
            json={"address": address, "customer_type": customer_type, "capacity_kw": capacity_kw}, retries=1,
        )
        return self._json(response)

    async def events(self, after: int, limit: int = 100) -> Dict[str, Any]:
        """Case events after cursor `after`: `{"events": [...], "next_cursor": int}`."""
        response = await self._call("GET", "/events", params={"after": after, "limit": limit})
        return self._json(response)

    async def queue(self, **params: Any) -> Dict[str, Any]:
        """The staff queue `GET /queue` (filters `region`, `process`, `stage`, `light`, `limit`, `offset`)."""
        response = await self._call("GET", "/queue", params={k: v for k, v in params.items() if v is not None},
                                    retries=1)
        return self._json(response)

    async def due(self, after: int = 0, limit: int = 5000) -> Dict[str, Any]:
        """Open cases at amber or red, `GET /queue/due` (keyset pages: pass `next_after`)."""
        response = await self._call("GET", "/queue/due", params={"after": after, "limit": limit}, retries=1)
        return self._json(response)

    async def move(
        self, case_id: str, to_stage: str, note: Optional[str] = None, actor: Optional[str] = None
    ) -> Dict[str, Any]:
        """Moves a case to its next stage for staff member `actor` (`CaseApiRejected` 409 when stale)."""
        headers = {"X-Staff-User": actor} if actor else None
        response = await self._call("POST", f"/cases/{quote(case_id, safe='')}/transitions",
                                    json={"to_stage": to_stage, "note": note}, headers=headers)
        return self._json(response)

    async def report(self, since: str, until: str) -> Dict[str, Any]:
        """Service figures `GET /reports/cases` (dates `YYYY-MM-DD` in China)."""
        response = await self._call("GET", "/reports/cases", params={"since": since, "until": until}, retries=1)
        return self._json(response)

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(f"{self._base}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
