"""Webhook delivery of case events: signed POSTs with retries from a persistent queue.

Each event gets one `webhook_deliveries` row per URL in the event's own transaction
(`cases.events.record_event`). The dispatcher, an asyncio task started in the app's
lifespan, posts due deliveries, records every attempt in `webhook_attempts`, and on failure
(no answer, or a status outside 2xx) schedules the next try after `base * 2**(attempt-1)`
seconds, giving up after `max_attempts`. The queue is in the database, so a restart picks
up where it stopped.

Requests carry `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
(`common/webhook_signature.py`, which has the receiver's check: refused when older than five
minutes) and `X-Event-Id`; receivers should also ignore event ids they have seen. Due
deliveries are picked by `next_attempt_at <= now`, so deliveries waiting out a back-off
never take the place of new ones in a round.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cases.context import utc_now
from cases.events import event_json
from cases.models import Event, WebhookAttempt, WebhookDelivery, optional_dt
from common.db import session_scope
from common.webhook_signature import HEADER, signature_header

logger = logging.getLogger(__name__)
BATCH = 50


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 1.0
    max_attempts: int = 6

    def delay_after(self, attempt: int) -> dt.timedelta:
        """Wait before attempt `attempt + 1`: base, 2×base, 4×base, …"""
        return dt.timedelta(seconds=self.base_s * (2 ** max(attempt - 1, 0)))


@dataclass(frozen=True)
class Outcome:
    status_code: Optional[int]
    error: Optional[str]

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_request(
    secret: str, event: Dict[str, Any], timestamp: Optional[int] = None
) -> tuple[bytes, Dict[str, str]]:
    """The raw body and headers of one webhook POST, signed at `timestamp` (now)."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        HEADER: signature_header(secret, body, timestamp),
        "X-Event-Id": str(event["id"]),
    }
    return body, headers


def due_deliveries(*, session: Session, now: dt.datetime, limit: int = BATCH) -> List[int]:
    rows = session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(rows.scalars().all())


def record_attempt(
    delivery: WebhookDelivery, outcome: Outcome, *, session: Session, policy: RetryPolicy, now: dt.datetime
) -> None:
    """Logs the attempt and moves the delivery on: delivered, retried later, or given up."""
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id, event_id=delivery.event_id, url=delivery.url, attempt=delivery.attempts,
            status_code=outcome.status_code, error=outcome.error, at=now,
        )
    )
    if outcome.ok:
        delivery.state, delivery.last_error = "delivered", None
    elif delivery.attempts >= policy.max_attempts:
        delivery.state, delivery.last_error = "failed", outcome.error or f"HTTP {outcome.status_code}"
        logger.warning("webhook for event %d gave up after %d attempts", delivery.event_id, delivery.attempts)
    else:
        delivery.last_error = outcome.error or f"HTTP {outcome.status_code}"
        delivery.next_attempt_at = now + policy.delay_after(delivery.attempts)


def list_attempts(event_id: Optional[int], *, session: Session, limit: int = 500) -> List[Dict[str, Any]]:
    """Delivery attempts, oldest first (of one event when `event_id` is given)."""
    query = select(WebhookAttempt)
    if event_id is not None:
        query = query.where(WebhookAttempt.event_id == event_id)
    rows = list(session.execute(query.order_by(WebhookAttempt.id.desc()).limit(limit)).scalars().all())
    rows.reverse()
    return [
        {
            "event_id": row.event_id, "url": row.url, "attempt": row.attempt, "status_code": row.status_code,
            "error": row.error, "at": optional_dt(row.at),
        }
        for row in rows
    ]


class Dispatcher:
    """Posts due deliveries until stopped; `wake()` (thread-safe) makes it look at once."""

    def __init__(
        self, sessions: sessionmaker, secret: str, policy: RetryPolicy, poll_s: float = 1.0,
        timeout_s: float = 5.0, clock: Callable[[], dt.datetime] = utc_now,
    ):
        self._sessions = sessions
        self._clock = clock
        self._secret = secret
        self._policy = policy
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._wake: Optional[asyncio.Event] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping = False

    def _now(self) -> dt.datetime:
        """Now in UTC, naive, as stored (the app's clock, so tests can move it)."""
        return self._clock().astimezone(dt.timezone.utc).replace(tzinfo=None)

    def wake(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Asks the loop to end after the delivery in flight (so its attempt is recorded)."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(timeout=self._timeout_s) as http:
            while not self._stopping:
                try:
                    await self.run_once(http)
                except Exception:  # the dispatcher must outlive a database hiccup
                    logger.exception("webhook dispatch round failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()

    async def run_once(self, http: httpx.AsyncClient) -> int:
        """One round: every due delivery attempted once; returns how many were attempted."""
        ids = await asyncio.to_thread(self._due)
        done = 0
        for delivery_id in ids:
            if self._stopping:
                break
            await self._deliver(http, delivery_id)
            done += 1
        return done

    def _due(self) -> List[int]:
        with session_scope(self._sessions) as session:
            return due_deliveries(session=session, now=self._now())

    def _load(self, delivery_id: int) -> Optional[tuple[str, Dict[str, Any]]]:
        with session_scope(self._sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.state != "pending":
                return None
            event = session.get(Event, delivery.event_id)
            return delivery.url, event_json(event)

    def _save(self, delivery_id: int, outcome: Outcome) -> None:
        with session_scope(self._sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is not None:
                record_attempt(delivery, outcome, session=session, policy=self._policy, now=self._now())

    async def _deliver(self, http: httpx.AsyncClient, delivery_id: int) -> None:
        loaded = await asyncio.to_thread(self._load, delivery_id)
        if loaded is None:
            return
        url, event = loaded
        body, headers = signed_request(self._secret, event)
        try:
            response = await http.post(url, content=body, headers=headers)
            outcome = Outcome(response.status_code, None)
        except httpx.HTTPError as exc:
            outcome = Outcome(None, type(exc).__name__)
        await asyncio.to_thread(self._save, delivery_id, outcome)
