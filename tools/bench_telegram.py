"""Telegram figures for `make bench`: status-push latency and delivery throughput.

- **Push latency**: from a case transition posted to the case API (`POST /cases/{id}/
  transitions`, as staff would) to the Bot API emulator receiving the bot's `sendMessage`
  for it, over `transitions` transitions, each of a different case and chat: p50/p95/max
  (target p95 ≤ 2 s). It covers the event feed, the notifier's poll (`NOTIFIER_POLL_S`,
  1 s by default), the outbox and the delivery worker; transitions are spaced by a random
  0-1 s so they land at any point of the notifier's poll cycle.
- **Throughput**: `messages` status messages queued at once in the outbox for 30 chats; the
  messages per second the bot sustains to the emulator through python-telegram-bot's
  `AIORateLimiter` (Telegram's limit is about 30 messages per second overall).

tools/bench.py calls `run(model)` (or `measure(stack, emulator)` on a stack it started with
`telegram_env(emulator)`); `python -m tools.bench_telegram` runs it alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx

from common import migrate, outbox
from common.db import make_engine, make_session_factory, session_scope
from tests.telegram.emulator import BotApiEmulator
from tools.secrets_env import staff_header
from tools.services import Ports, Stack

# A fictional resident of the case API's local e-licence registry (cases/registry_seed.yml).
APPLICANT = {
    "name": "陈海明", "id_number": "440802198003120310", "phone": "13800138000",
    "address": "广东省湛江市赤坎区人民大道中28号", "customer_type": "resident", "capacity_kw": 8,
    "locale": "zh_Hans", "consent": {"registry": True, "esign": True, "confirmed_at": "2026-11-24T10:00:00+08:00"},
}
FIRST_CHAT = 900_000
# Longer than the notifier's poll interval, so transitions land at any point of its cycle.
PHASE_JITTER_S = 1.0
THROUGHPUT_CHATS = 30


def telegram_env(emulator: BotApiEmulator, poll_s: Optional[float] = None) -> Dict[str, str]:
    """The environment that points a stack's gateway at the emulator."""
    env = {"TELEGRAM_BOT_TOKEN": emulator.token, "TELEGRAM_BASE_URL": emulator.base_url}
    if poll_s is not None:
        env["NOTIFIER_POLL_S"] = str(poll_s)
    return env


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _create_case(http: httpx.Client, stack: Stack, chat: int) -> Dict[str, Any]:
    body = {**APPLICANT, "channel": "telegram", "sender_id": f"tg:{chat}"}
    response = http.post(f"{stack.case_api_url}/cases", json=body,
                         headers={"Idempotency-Key": f"bench-tg-{chat}", **staff_header()})
    response.raise_for_status()
    return response.json()


def push_latency(
    stack: Stack, emulator: BotApiEmulator, transitions: int = 100, timeout: float = 30.0
) -> Dict[str, Any]:
    """Seconds from each transition's POST to the emulator receiving its sendMessage."""
    latencies: List[float] = []
    rng = random.Random(4)
    with httpx.Client(timeout=30.0) as http:
        cases = [(FIRST_CHAT + n, _create_case(http, stack, FIRST_CHAT + n)) for n in range(transitions)]
        time.sleep(2.0)  # let the notifier read the creations (they send nothing)
        for chat, case in cases:
            case_id = case["case_id"]
            # Transitions come at random moments, not right after the notifier's last read.
            time.sleep(rng.uniform(0.0, PHASE_JITTER_S))
            started = time.time()
            response = http.post(
                f"{stack.case_api_url}/cases/{case_id}/transitions",
                json={"to_stage": case["next_stages"][0]}, headers=staff_header(),
            )
            response.raise_for_status()
            message = emulator.wait_for(chat, lambda m, c=case_id: c in m.text, since=started, timeout=timeout)
            latencies.append(message.at - started)
    return {
        "transitions": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
    }


def throughput(stack: Stack, emulator: BotApiEmulator, messages: int = 300, timeout: float = 120.0) -> Dict[str, Any]:
    """Messages per second delivered to the emulator when `messages` are queued at once."""
    chats = [FIRST_CHAT + 500_000 + n for n in range(THROUGHPUT_CHATS)]
    url = f"sqlite:///{stack.var_dir / 'app.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    queued_at = time.time()
    with session_scope(make_session_factory(engine)) as session:
        for n in range(messages):
            chat = chats[n % len(chats)]
            outbox.enqueue(f"tg:{chat}", "telegram", "status", {"text": f"bench {n}", "buttons": []},
                           f"bench-tp:{queued_at}:{n}", session=session)
    engine.dispose()
    deadline = time.monotonic() + timeout
    received: List[float] = []
    while time.monotonic() < deadline:
        received = sorted(m.at for c in chats for m in emulator.sent(c, queued_at) if m.text.startswith("bench "))
        if len(received) >= messages:
            break
        time.sleep(0.1)
    span = (received[-1] - received[0]) if len(received) > 1 else float("nan")
    return {
        "messages": messages,
        "delivered": len(received),
        "messages_per_s": round((len(received) - 1) / span, 1) if span and span > 0 else None,
        "first_after_s": round(received[0] - queued_at, 3) if received else None,
    }


def measure(stack: Stack, emulator: BotApiEmulator, transitions: int = 100, messages: int = 300) -> Dict[str, Any]:
    """Both figures on a running stack whose gateway talks to `emulator`."""
    emulator.wait_calls("getUpdates", 1, timeout=60)
    return {"push": push_latency(stack, emulator, transitions), "throughput": throughput(stack, emulator, messages)}


def run(model: Path, transitions: int = 100, messages: int = 300, poll_s: Optional[float] = None) -> Dict[str, Any]:
    """Starts an emulator and a stack with the bot on, measures, stops them."""
    with BotApiEmulator() as emulator, tempfile.TemporaryDirectory() as var:
        stack = Stack(model=model, ports=Ports.free(), var_dir=Path(var), extra_env=telegram_env(emulator, poll_s))
        stack.start()
        try:
            return measure(stack, emulator, transitions, messages)
        finally:
            stack.stop()


def print_report(figures: Dict[str, Any]) -> None:
    push, tp = figures["push"], figures["throughput"]
    print("\nTelegram (real bot against the Bot API emulator)")
    print(f"  status push, transition -> sendMessage ({push['transitions']} transitions): "
          f"p50 {push['p50_s'] * 1000:.0f} ms, p95 {push['p95_s'] * 1000:.0f} ms (target <= 2000 ms), "
          f"max {push['max_s'] * 1000:.0f} ms")
    print(f"  delivery under the rate limiter: {tp['messages_per_s']} messages/s "
          f"({tp['delivered']}/{tp['messages']} delivered, first after {tp['first_after_s']} s)")


def main() -> None:
    from tools.train import ensure_model

    parser = argparse.ArgumentParser(description="Telegram push latency and throughput")
    parser.add_argument("--transitions", type=int, default=100)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--poll-s", type=float, default=None, help="NOTIFIER_POLL_S (default: the setting's default)")
    args = parser.parse_args()
    print_report(run(ensure_model(), args.transitions, args.messages, args.poll_s))


if __name__ == "__main__":
    main()
