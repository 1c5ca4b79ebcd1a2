"""`make bench`: answer accuracy, out-of-scope rejection and turn latency, measured through
the public web chat API against the real services.

Accuracy uses `bench/heldout.yml`, questions written separately from the training variants
(the run reports any that leaked into the training data). Each question opens a fresh
conversation, so no region or context carries over. The same questions then go through a
stack whose Rasa model uses Rasa's stock pipeline (`bench/config_stock.yml`, as `rasa init`
writes it) trained on the same data, so the two are compared in one run.

Latency: 20 concurrent senders, each sending its questions back to back (closed loop), and
the same with people's pace: a random 0.5-1.5 s and 1.5-4.5 s between a sender's messages.

The same project stack then runs the scripted application conversations
(`tools/bench_application.py`): form completion rate and submit latency. Last, a stack whose
gateway runs the Telegram bot against the Bot API emulator measures push latency from a case
transition to `sendMessage` and delivery throughput (`tools/bench_telegram.py`). Then 200
residents at a human pace for `--load-minutes` and the closed-loop ratio of /api/chat over
Rasa's bare /model/parse (`tools/bench_load.py`), on one instance of each service and then on
the scaled-out profile (or one line saying which of PostgreSQL and Redis is missing).

Usage: python -m tools.bench [--senders 20] [--turns 15] [--skip-stock] [--application-rounds 3]
       [--load-minutes 5]
       python -m tools.bench --set bench/dev.yml --accuracy-only --skip-stock --verbose
(`--set` measures another question file of the same format, e.g. the development set used for
error analysis and tuning; `--accuracy-only` skips the latency and application runs.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import httpx
import yaml

from common.scripts import to_simplified
from common.settings import ROOT
from tools import (
    bench_application,
    bench_casework,
    bench_handoff,
    bench_load,
    bench_regions,
    bench_telegram,
    bench_training,
)
from tools.services import Ports, Stack
from tools.train import BUILD, ensure_model
from tools.web_chat import BENCH_ENV, Conversation, open_conversation_async

HELDOUT = ROOT / "bench" / "heldout.yml"
STOCK_CONFIG = ROOT / "bench" / "config_stock.yml"


@dataclass
class Outcome:
    question: Dict[str, Any]
    answer_id: str | None
    intent: str | None
    fallback: bool
    suggested: List[str]
    text: str
    seconds: float


@dataclass
class Report:
    name: str
    outcomes: List[Outcome] = field(default_factory=list)

    def in_scope(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.question["expect"] != "out_of_scope"]

    def oos(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.question["expect"] == "out_of_scope"]


def load_questions(path: Path = HELDOUT) -> List[Dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]


def leaked(questions: List[Dict[str, Any]]) -> List[str]:
    """Held-out questions that appear verbatim among the training examples."""
    training = set()
    for path in (BUILD / "data").glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("- "):
                training.add(line.strip()[2:].strip().lower())
    return [q["text"] for q in questions if to_simplified(q["text"]).strip().lower() in training]


def correct(outcome: Outcome) -> bool:
    expect = outcome.question["expect"]
    return outcome.answer_id == expect and not outcome.fallback if expect != "bill" else outcome.answer_id == "bill"


def in_script(outcome: Outcome) -> bool:
    """Whether the reply is written in the question's script."""
    locale, text = outcome.question["locale"], outcome.text
    if locale == "en":
        return sum(c.isascii() for c in text) > 0.7 * len(text)
    traditional = to_simplified(text) != text
    return traditional if locale == "zh_Hant" else not traditional


async def ask(http: httpx.AsyncClient, conversation: Conversation, question: Dict[str, Any]) -> Outcome:
    start = time.perf_counter()
    response = await http.post("/api/chat", json=conversation.body(question["text"]), headers=conversation.headers)
    seconds = time.perf_counter() - start
    response.raise_for_status()
    data = response.json()
    meta = data["meta"]
    # Topic choices on a near tie (not the city buttons of a general answer).
    suggested = [
        b["payload"][5:] for m in data["messages"] for b in m["buttons"]
        if meta["fallback"] and b["payload"].startswith("/faq_") and "{" not in b["payload"]
    ]
    return Outcome(
        question, meta.get("answer_id"), meta.get("intent"), bool(meta["fallback"]), suggested,
        "\n".join(m["text"] for m in data["messages"]), seconds,
    )


async def evaluate(stack: Stack, name: str, questions: List[Dict[str, Any]]) -> Report:
    report = Report(name)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
        for question in questions:
            report.outcomes.append(await ask(http, await open_conversation_async(http), question))
    return report


async def load_test(stack: Stack, questions: List[Dict[str, Any]], senders: int, turns: int,
                    pause: float) -> Dict[str, float]:
    """`senders` concurrent conversations of `turns` messages each; latency per turn.

    With `pause` 0 each sender sends its next message as soon as the reply arrives (closed
    loop: the server's saturation). Otherwise senders start at random moments within one
    pause and wait a random 0.5-1.5 × `pause` between messages, as people reading a reply do.
    """
    latencies: List[float] = []
    pool = [q for q in questions if q["expect"] != "out_of_scope"]
    rng = random.Random(7)

    async def sender(n: int, http: httpx.AsyncClient) -> None:
        if pause:
            await asyncio.sleep(rng.uniform(0, pause))
        conversation = await open_conversation_async(http)
        for k in range(turns):
            outcome = await ask(http, conversation, pool[(n * turns + k) % len(pool)])
            latencies.append(outcome.seconds)
            if pause:
                await asyncio.sleep(rng.uniform(0.5 * pause, 1.5 * pause))

    limits = httpx.Limits(max_connections=senders * 2)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, limits=limits) as http:
        await ask(http, await open_conversation_async(http), pool[0])
        start = time.perf_counter()
        await asyncio.gather(*(sender(n, http) for n in range(senders)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "turns": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "turns_per_s": len(latencies) / elapsed,
    }


def summarize(report: Report) -> Dict[str, Any]:
    good = report.in_scope()
    oos = report.oos()
    pure_fallback = [o for o in good if o.fallback and not o.suggested]
    top3 = [o for o in good if correct(o) or o.question["expect"] in o.suggested]
    by_locale: Dict[str, List[bool]] = defaultdict(list)
    for o in good:
        by_locale[o.question["locale"]].append(correct(o))
    return {
        "questions": len(good),
        "top1": sum(map(correct, good)) / len(good),
        "top3_incl_choices": len(top3) / len(good),
        "choices_offered": sum(1 for o in good if o.suggested) / len(good),
        "good_wrongly_rejected": len(pure_fallback) / len(good),
        "oos_questions": len(oos),
        "oos_rejected": sum(1 for o in oos if o.fallback and o.answer_id is None) / len(oos),
        "reply_in_question_script": sum(map(in_script, report.outcomes)) / len(report.outcomes),
        "top1_by_locale": {k: sum(v) / len(v) for k, v in sorted(by_locale.items())},
        **bench_regions.figures(report.outcomes),
    }


def print_summary(summaries: Dict[str, Dict[str, Any]]) -> None:
    names = list(summaries)
    rows = [
        ("in-scope questions", "questions", "{:d}"),
        ("top-1 answer accuracy", "top1", "{:.1%}"),
        ("  zh_Hans", ("top1_by_locale", "zh_Hans"), "{:.1%}"),
        ("  zh_Hant", ("top1_by_locale", "zh_Hant"), "{:.1%}"),
        ("  en", ("top1_by_locale", "en"), "{:.1%}"),
        ("right answer in top 3 (incl. choices)", "top3_incl_choices", "{:.1%}"),
        ("choices offered (near tie)", "choices_offered", "{:.1%}"),
        ("good questions wrongly rejected", "good_wrongly_rejected", "{:.1%}"),
        ("out-of-scope questions", "oos_questions", "{:d}"),
        ("out-of-scope rejection rate", "oos_rejected", "{:.1%}"),
        ("reply in the question's script", "reply_in_question_script", "{:.1%}"),
        *bench_regions.ROWS,
    ]
    print(f"\n{'':40}" + "".join(f"{n:>18}" for n in names))
    for label, key, fmt in rows:
        cells = []
        for n in names:
            value = summaries[n]
            for part in key if isinstance(key, tuple) else (key,):
                value = value.get(part, 0) if isinstance(value, dict) else 0
            cells.append(fmt.format(value))
        print(f"{label:40}" + "".join(f"{c:>18}" for c in cells))


def misses(report: Report, limit: int = 40) -> None:
    wrong = [o for o in report.in_scope() if not correct(o)]
    print(f"\n{report.name}: {len(wrong)} in-scope misses (expected -> got)")
    for o in wrong[:limit]:
        got = o.answer_id or ("choices:" + ",".join(o.suggested) if o.suggested else "fallback")
        print(f"  [{o.question['locale']}] {o.question['text'][:40]:40} {o.question['expect']} -> {got}")
    accepted = [o for o in report.oos() if not o.fallback]
    print(f"{report.name}: {len(accepted)} out-of-scope questions answered")
    for o in accepted[:limit]:
        print(f"  [{o.question['locale']}] {o.question['text'][:40]:40} -> {o.answer_id}")


def run_stack(model: Path, name: str, questions, args) -> tuple[Report, Dict[str, Dict[str, float]]]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as var:
        stack = Stack(model=model, ports=Ports.free(), var_dir=Path(var), extra_env=BENCH_ENV)
        stack.start()
        try:
            report = asyncio.run(evaluate(stack, name, questions))
            load = {}
            if name == "project" and not args.accuracy_only:
                for pause in (0.0, 1.0, 3.0):
                    load[f"pause {pause:.0f}s"] = asyncio.run(
                        load_test(stack, questions, args.senders, args.turns, pause)
                    )
                load["application"] = bench_application.measure(stack, args.application_rounds)
                load["handoff"] = bench_handoff.measure(stack, args.senders)
        finally:
            stack.stop()
    return report, load


def main() -> None:
    parser = argparse.ArgumentParser(description="power-service assistant benchmark")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--application-rounds", type=int, default=3, help="runs of each application script")
    parser.add_argument("--skip-telegram", action="store_true", help="skip push latency and Telegram throughput")
    parser.add_argument("--set", type=Path, default=HELDOUT, help="question file (default: the held-out set)")
    parser.add_argument("--accuracy-only", action="store_true", help="skip the latency, application and Telegram runs")
    parser.add_argument("--load-minutes", type=float, default=5.0, help="human-pace load run (0 skips it)")
    parser.add_argument("--skip-training", action="store_true", help="skip timing a cold training of the model")
    args = parser.parse_args()

    training = None if args.skip_training or args.accuracy_only else bench_training.measure()

    questions = load_questions(args.set)
    project_model = ensure_model()
    stock_model = None if args.skip_stock else ensure_model(config=STOCK_CONFIG, name_prefix="stock-")
    counts = Counter(q["locale"] for q in questions)
    print(f"\n{args.set.name}: {len(questions)} questions {dict(counts)}; "
          f"{len(leaked(questions))} appear verbatim in the training data")

    reports, summaries = {}, {}
    report, load = run_stack(project_model, "project", questions, args)
    reports["project"], summaries["project"] = report, summarize(report)
    if stock_model is not None:
        stock, _ = run_stack(stock_model, "stock", questions, args)
        reports["stock"], summaries["stock"] = stock, summarize(stock)

    telegram = None if args.skip_telegram or args.accuracy_only else bench_telegram.run(project_model)
    skip_load = args.accuracy_only or not args.load_minutes
    heavy = None if skip_load else bench_load.run(project_model, minutes=args.load_minutes)  # residents, ratio
    scaled = None if skip_load else bench_load.run_scaled(project_model, minutes=args.load_minutes)

    print_summary(summaries)
    if training is not None:
        bench_training.print_figures(training)
        load["training"] = training
    print(f"\nturn latency through /api/chat, {args.senders} concurrent senders x {args.turns} turns:")
    application = load.pop("application", None)
    handoff = load.pop("handoff", None)
    for label, figures in load.items():
        print(f"  {label:10} p50 {figures['p50_ms']:6.0f} ms   p95 {figures['p95_ms']:6.0f} ms   "
              f"max {figures['max_ms']:6.0f} ms   {figures['turns_per_s']:5.1f} turns/s")
    if application is not None:
        bench_application.print_figures(application)
        load["application"] = application
    if handoff is not None:
        bench_handoff.print_report(handoff)
        load["handoff"] = handoff
    if telegram is not None:
        bench_telegram.print_report(telegram)
        load["telegram"] = telegram
    if heavy is not None:
        bench_load.print_report(heavy)
        load["load"] = heavy
    if scaled is not None:
        bench_load.print_report(scaled, bench_load.SCALED)
        load["load_scaled"] = scaled
    if not args.accuracy_only:
        load["casework"] = bench_casework.run_and_print()  # warning job and case queue, 10 000 open cases
    for report in reports.values():
        misses(report, limit=200 if args.verbose else 25)
    name = "bench-results.json" if args.set.resolve() == HELDOUT.resolve() else f"bench-results-{args.set.stem}.json"
    out = ROOT / "var" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"summaries": summaries, "latency": load}, indent=2, ensure_ascii=False))
    print(f"\nfigures written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
