"""Hand-off benchmark: request → staff queue, and relay latency both ways, 20 hand-offs at once.

On a running stack (real gateway, Rasa, action server, case API), N residents ask for a
person at the same moment through `POST /api/chat`; the figures are
- request → queue: from sending "转人工" until the hand-off is listed by the staff API (and
  until the resident's reply with their place in the queue),
- staff → resident: from a staff reply (`POST /staff/api/handoffs/{id}/messages`) until the
  resident's `GET /api/chat/{sender}/updates` returns it,
- resident → staff: from the resident's message until the staff API's transcript holds it,
each as p50/p95/max over the N concurrent hand-offs (polling every 100 ms, so figures include
up to 100 ms of polling granularity; pollers are load too). Four staff accounts share the claims. The Telegram
staff topic (branch `handoff-tg`) adds its own figure once it lands.

Usage: python -m tools.bench_handoff [--handoffs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import httpx

from common.settings import ROOT
from tools.services import Ports, Stack
from tools.web_chat import BENCH_ENV, open_conversation_async

PASSWORD = "bench staff password"
AGENTS = ("bench.a", "bench.b", "bench.c", "bench.d")
POLL_S = 0.1
TIMEOUT_S = 60.0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def figures(values: List[float]) -> Dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000),
        "p95_ms": round(percentile(values, 0.95) * 1000),
        "max_ms": round(max(values) * 1000),
    }


def add_agents(stack: Stack) -> None:
    for name in AGENTS:
        subprocess.run([sys.executable, "-m", "tools.staff", "add", name], input=PASSWORD + "\n", text=True,
                       capture_output=True, env=stack.env(), cwd=ROOT, check=True)


async def _until(check: Any) -> float:
    """Polls `check()` until it is true; returns the monotonic time it became true."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if await check():
            return time.monotonic()
        await asyncio.sleep(POLL_S)
    raise TimeoutError("the hand-off benchmark waited too long")


async def _login(http: httpx.AsyncClient, name: str) -> str:
    response = await http.post("/staff/api/login", json={"username": name, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["csrf_token"]


async def _one(resident: httpx.AsyncClient, staff: httpx.AsyncClient, csrf: str,
               result: Dict[str, List[float]]) -> None:
    chat = await open_conversation_async(resident)  # a web conversation the gateway issued
    sender, auth = chat.sender_id, chat.headers
    started = time.monotonic()
    found: Dict[str, Any] = {}

    async def ask() -> float:
        response = await resident.post("/api/chat", json=chat.body("转人工"), headers=auth)
        response.raise_for_status()
        return time.monotonic()

    async def queued() -> bool:
        listed = (await staff.get("/staff/api/handoffs", params={"state": "waiting"})).json()["handoffs"]
        match = [h for h in listed if h["sender_id"] == sender]
        if match:
            found.update(match[0])
        return bool(match)

    # Staff see the hand-off as soon as it is committed, while the resident's reply is still
    # being made (Rasa paused, place in the queue): both are measured from the request.
    answered, listed = await asyncio.gather(ask(), _until(queued))
    result["request_to_queue"].append(listed - started)
    result["request_reply"].append(answered - started)
    handoff_id = found["id"]
    headers = {"X-CSRF-Token": csrf}
    (await staff.post(f"/staff/api/handoffs/{handoff_id}/claim", headers=headers)).raise_for_status()
    seen = (await resident.get(f"/api/chat/{sender}/updates", headers=auth)).json()["last_seq"]

    marker = f"bench reply {uuid.uuid4().hex[:8]}"
    sent = time.monotonic()
    (await staff.post(f"/staff/api/handoffs/{handoff_id}/messages", headers=headers,
                      json={"text": marker, "internal": False})).raise_for_status()

    async def delivered() -> bool:
        body = (await resident.get(f"/api/chat/{sender}/updates", params={"after": seen}, headers=auth)).json()
        return any(marker in m["text"] for m in body["messages"])

    result["staff_to_resident"].append(await _until(delivered) - sent)

    words = f"resident words {uuid.uuid4().hex[:8]}"
    sent = time.monotonic()
    (await resident.post("/api/chat", json=chat.body(words), headers=auth)).raise_for_status()

    async def in_transcript() -> bool:
        body = (await staff.get(f"/staff/api/handoffs/{handoff_id}")).json()
        return any(m["text"] == words for m in body["transcript"])

    result["resident_to_staff"].append(await _until(in_transcript) - sent)
    (await staff.post(f"/staff/api/handoffs/{handoff_id}/close", headers=headers)).raise_for_status()


async def _measure(stack: Stack, handoffs: int) -> Dict[str, Any]:
    result: Dict[str, List[float]] = {
        "request_to_queue": [], "request_reply": [], "staff_to_resident": [], "resident_to_staff": [],
    }
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0, limits=limits) as resident:
        agents = [httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0, limits=limits) for _ in AGENTS]
        try:
            tokens = [await _login(http, name) for http, name in zip(agents, AGENTS, strict=True)]
            await asyncio.gather(*(
                _one(resident, agents[i % len(agents)], tokens[i % len(agents)], result) for i in range(handoffs)
            ))
        finally:
            for http in agents:
                await http.aclose()
    return {"handoffs": handoffs, **{name: figures(values) for name, values in result.items()}}


def measure(stack: Stack, handoffs: int = 20) -> Dict[str, Any]:
    """The figures on a running stack (creates its own staff accounts)."""
    add_agents(stack)
    return asyncio.run(_measure(stack, handoffs))


def print_report(report: Dict[str, Any]) -> None:
    print(f"\nhand-off to staff, {report['handoffs']} hand-offs at once (web, staff API):")
    for name, label in (("request_to_queue", "request -> staff queue"),
                        ("request_reply", "request -> resident told the place"),
                        ("staff_to_resident", "staff reply -> resident /updates"),
                        ("resident_to_staff", "resident message -> staff transcript")):
        f = report[name]
        print(f"  {label:38} p50 {f['p50_ms']:5d} ms   p95 {f['p95_ms']:5d} ms   max {f['max_ms']:5d} ms"
              + ("   (target p95 <= 1000 ms)" if name.endswith(("resident", "staff")) else ""))


def main() -> None:
    from tools.train import ensure_model

    parser = argparse.ArgumentParser(description="hand-off to staff: queue and relay latency")
    parser.add_argument("--handoffs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as var:
        stack = Stack(model=ensure_model(), ports=Ports.free(), var_dir=Path(var), extra_env=BENCH_ENV)
        stack.start()
        try:
            print_report(measure(stack, args.handoffs))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
