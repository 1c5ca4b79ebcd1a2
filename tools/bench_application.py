"""Application figures for `make bench`: form completion rate over the scripted conversations
of `bench/applications.yml`, and the latency of the submitting turn (case creation included).

Each script runs `rounds` times as new senders, through the public web chat API against the
real services. A conversation is complete when the confirming turn returns a case number and
the case API holds that case with the expected type, capacity and city.

Usage (normally through `make bench`): python -m tools.bench_application [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import yaml

from common.settings import ROOT
from tools.secrets_env import staff_header
from tools.services import Ports, Stack
from tools.train import ensure_model
from tools.web_chat import BENCH_ENV, open_conversation

SCRIPTS = ROOT / "bench" / "applications.yml"


@dataclass
class Run:
    name: str
    completed: bool
    submit_s: Optional[float]
    turn_s: List[float] = field(default_factory=list)
    reason: str = ""


def load_scripts() -> List[Dict[str, Any]]:
    return yaml.safe_load(SCRIPTS.read_text(encoding="utf-8"))["conversations"]


def check_case(stack: Stack, case_id: str, expect: Dict[str, Any]) -> str:
    """Empty when the case API holds the case as expected, else what differs."""
    case = httpx.get(f"{stack.case_api_url}/cases/{case_id}", headers=staff_header(), timeout=10).json()
    got = {
        "customer_type": case.get("customer_type"),
        "capacity_kw": case.get("capacity_kw"),
        "city": (case.get("address") or {}).get("city"),
        "linked": len(case.get("linked_applications") or []),
    }
    expect = {"linked": 0, **expect}
    wrong = {k: (got[k], v) for k, v in expect.items() if got.get(k) != v}
    return f"case differs: {wrong}" if wrong else ""


def run_script(http: httpx.Client, stack: Stack, script: Dict[str, Any]) -> Run:
    times: List[float] = []
    reply: Dict[str, Any] = {}
    conversation = open_conversation(http)
    for text in script["turns"]:
        start = time.perf_counter()
        response = http.post("/api/chat", json=conversation.body(str(text)), headers=conversation.headers)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            return Run(script["name"], False, None, times, f"HTTP {response.status_code}")
        reply = response.json()
    case_id = reply.get("meta", {}).get("case_id")
    if not case_id:
        last = " | ".join(m["text"][:60] for m in reply.get("messages", []))
        return Run(script["name"], False, None, times, f"no case; last reply: {last}")
    reason = check_case(stack, case_id, script.get("expect") or {})
    return Run(script["name"], not reason, times[-1], times, reason)


def measure(stack: Stack, rounds: int = 3) -> Dict[str, Any]:
    """Runs every script `rounds` times; returns the completion rate and latencies."""
    runs: List[Run] = []
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as http:
        for _ in range(rounds):
            for script in load_scripts():
                runs.append(run_script(http, stack, script))
    submits = sorted(run.submit_s for run in runs if run.submit_s is not None)
    turns = sorted(s for run in runs for s in run.turn_s)
    return {
        "conversations": len(runs),
        "completed": sum(run.completed for run in runs),
        "completion_rate": sum(run.completed for run in runs) / len(runs),
        "submit_p50_ms": 1000 * statistics.median(submits) if submits else None,
        "submit_p95_ms": 1000 * submits[int(0.95 * (len(submits) - 1))] if submits else None,
        "form_turn_p95_ms": 1000 * turns[int(0.95 * (len(turns) - 1))] if turns else None,
        "failures": [f"{run.name}: {run.reason}" for run in runs if not run.completed],
    }


def print_figures(figures: Dict[str, Any]) -> None:
    print(f"\napplication form over {figures['conversations']} scripted conversations "
          f"({len(load_scripts())} scripts): completion {figures['completion_rate']:.1%} "
          f"({figures['completed']}/{figures['conversations']})")
    if figures["submit_p95_ms"] is not None:
        print(f"  submitting turn (case created): p50 {figures['submit_p50_ms']:.0f} ms   "
              f"p95 {figures['submit_p95_ms']:.0f} ms;   any form turn p95 {figures['form_turn_p95_ms']:.0f} ms")
    for failure in figures["failures"][:20]:
        print(f"  incomplete: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = ensure_model()
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as var:
        stack = Stack(model=model, ports=Ports.free(), var_dir=Path(var), extra_env=BENCH_ENV).start()
        try:
            print_figures(measure(stack, args.rounds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
