"""The bench clients' side of the web chat contract: open a conversation, then post turns.

Every web conversation starts with `POST /api/chat/sessions` and each turn carries its bearer
token (README "Web chat API"); the benches go through the same public contract as the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import httpx

# The benches drive many conversations from one address, as no real client does: the
# per-address buckets would measure the limit, not the assistant (per-sender limits stay on).
BENCH_ENV = {"RATE_IP_PER_MIN": "0", "RATE_SESSIONS_PER_MIN": "0"}


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    token: str

    @property
    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def body(self, text: str) -> Dict[str, Any]:
        return {"sender_id": self.sender_id, "text": text}


def _conversation(response: httpx.Response) -> Conversation:
    response.raise_for_status()
    data = response.json()
    return Conversation(data["sender_id"], data["token"])


def open_conversation(http: httpx.Client) -> Conversation:
    return _conversation(http.post("/api/chat/sessions"))


async def open_conversation_async(http: httpx.AsyncClient) -> Conversation:
    return _conversation(await http.post("/api/chat/sessions"))
