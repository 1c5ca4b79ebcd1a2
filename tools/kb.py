"""`python -m tools.kb check`: the knowledge base as its keepers review it.

Lists every entry with its regions, sources, dates, status and verified flag; every seed fact
of `knowledge/seed_facts.yml` that no entry holds; every (entry, region) where an answer
would be given to a region it was not written for; and, with `--routing`, every question
variant the current model routes to another entry (this needs the trained model: `--start`
trains if needed and starts the stack on free ports, or `--rasa URL` uses a running server).

Exit status 1 when a seed fact is uncovered, a region leaks or (with --routing) a variant is
misrouted, so the check can gate a change.

Usage: python -m tools.kb check [--routing (--start | --rasa URL)] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List

import httpx

from common.scripts import normalize_for_nlu
from common.settings import ROOT, Settings
from knowledge.review import load_seed_facts, region_leaks, uncovered
from knowledge.schema import Entry, Sourced
from knowledge.service import KnowledgeBase

KNOWLEDGE = ROOT / "knowledge"


def _describe(answer: Sourced, label: str) -> str:
    status = answer.status + (f" until {answer.deadline}" if answer.deadline else "")
    date = answer.valid_from.isoformat() if answer.valid_from else "发布日期不详"
    flag = "verified" if answer.verified else "UNVERIFIED"
    return f"    {label:14} {status:22} {date:12} {flag:10} {answer.source_ref:10} {answer.source[:60]}"


def list_entries(entries: List[Entry]) -> None:
    for entry in entries:
        print(f"{entry.id} [{entry.category}, {entry.scope}]")
        for answer in entry.answers:
            print(_describe(answer, f"{answer.region} ({answer.covers})"))
        if entry.general is not None:
            print(_describe(entry.general, "general"))


def misrouted(kb: KnowledgeBase, rasa: str, token: str) -> List[tuple[str, str, str]]:
    """(entry, variant, intent) for every question variant whose top intent is not its entry's."""
    wrong = []
    with httpx.Client(timeout=30) as http:
        for entry in kb.entries:
            for text in [*entry.questions.zh_Hans, *entry.questions.en]:
                response = http.post(
                    f"{rasa}/model/parse", json={"text": normalize_for_nlu(text)}, params={"token": token}
                )
                response.raise_for_status()
                intent = response.json()["intent"]["name"]
                if intent != entry.intent:
                    wrong.append((entry.id, text, intent))
    return wrong


def check(args: argparse.Namespace) -> int:
    kb = KnowledgeBase.from_files(KNOWLEDGE)
    if not args.quiet:
        list_entries(kb.entries)
    failures = 0
    missing = uncovered(kb.entries, load_seed_facts(KNOWLEDGE))
    print(f"\nseed facts not covered: {len(missing)}")
    for fact, why in missing:
        print(f"  {fact.seed} {fact.region} {fact.fact}: {why}")
    leaks = region_leaks(kb.entries, kb.gazetteer)
    print(f"region leaks (an answer given to a region it was not written for): {len(leaks)}")
    for leak in leaks:
        print(f"  {leak.entry_id}: asked {leak.asked or '(no region)'}, given {leak.given}'s answer as if it applied")
    failures += len(missing) + len(leaks)
    if args.routing:
        if args.start:
            from tools.services import Ports, Stack
            from tools.train import ensure_model

            with tempfile.TemporaryDirectory(prefix="kb-check-") as var:
                stack = Stack(model=ensure_model(), ports=Ports.free(), var_dir=Path(var)).start()
                try:
                    wrong = misrouted(kb, stack.rasa_url, stack.rasa_token)
                finally:
                    stack.stop()
        else:
            wrong = misrouted(kb, args.rasa, Settings.from_env().secret("RASA_AUTH_TOKEN"))
        print(f"question variants the model routes to another intent: {len(wrong)}")
        for entry_id, text, intent in wrong:
            print(f"  {entry_id}: {text!r} -> {intent}")
        failures += len(wrong)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="review the knowledge base")
    cmd.add_argument("--routing", action="store_true", help="also parse every question variant with the model")
    cmd.add_argument("--start", action="store_true", help="with --routing: train if needed and start the stack")
    cmd.add_argument("--rasa", default="http://127.0.0.1:5005", help="with --routing: a running Rasa server")
    cmd.add_argument("--quiet", action="store_true", help="skip the entry listing")
    args = parser.parse_args()
    sys.exit(check(args))


if __name__ == "__main__":
    main()
