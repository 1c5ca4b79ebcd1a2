"""Checks for the people who keep the knowledge base: which seed facts no entry holds, and
whether any answer would be given to a region it was not written for.

`tools.kb check` prints these; `tests/knowledge/test_seed_facts.py` fails `make test` on
either. The facts map is `seed_facts.yml`, beside the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import yaml

from knowledge.regions import Gazetteer, Region, covers, resolve
from knowledge.schema import NATIONAL, Entry, Sourced


@dataclass(frozen=True)
class SeedFact:
    seed: str
    region: str
    entries: List[str]
    needle: str
    fact: str


@dataclass(frozen=True)
class Leak:
    entry_id: str
    asked: Optional[str]
    given: str


def load_seed_facts(knowledge_dir: Path) -> List[SeedFact]:
    data = yaml.safe_load((knowledge_dir / "seed_facts.yml").read_text(encoding="utf-8"))
    return [SeedFact(**item) for item in data["facts"]]


def uncovered(entries: List[Entry], facts: List[SeedFact]) -> List[tuple[SeedFact, str]]:
    """(fact, why) for every seed fact an entry it names does not hold for its region."""
    by_id = {e.id: e for e in entries}
    missing = []
    for fact in facts:
        for entry_id in fact.entries:
            entry = by_id.get(entry_id)
            if entry is None:
                missing.append((fact, f"no entry {entry_id}"))
                continue
            answer = next((a for a in entry.answers if a.region == fact.region), None)
            if answer is None:
                missing.append((fact, f"{entry_id} has no answer for {fact.region}"))
            elif fact.needle not in answer.zh_Hans:
                missing.append((fact, f"{entry_id}/{fact.region} does not say {fact.needle!r}"))
            elif answer.source_ref != fact.seed and not _names_seed(answer, fact.seed):
                # An answer drawing on several seeds names the first; its source line names all.
                missing.append((fact, f"{entry_id}/{fact.region} is sourced {answer.source_ref}, not {fact.seed}"))
    return missing


# How each seed is named in a source line, for answers that combine seeds.
SEED_NAMES = {
    "seed-000": ("四办”举措服务经验", "穗岁康"),
    "seed-001": ("广州供电局“四办”", "优化10千伏高压用户办电全过程"),
    "seed-002": ("打造更具吸引力的用电营商环境",),
    "seed-003": ("金电营〔2020〕449号",),
    "seed-004": ("湛发改能〔2020〕516号",),
}


def _names_seed(answer: Sourced, seed: str) -> bool:
    return any(name in answer.source for name in SEED_NAMES.get(seed, ()))


def region_leaks(entries: List[Entry], gazetteer: Gazetteer) -> List[Leak]:
    """Every (entry, city) where an answer written for another region would be given as if it
    applied there. Cities of every province the gazetteer knows, and their provinces."""
    places = [Region(p, c) for p in ("广东", "浙江") for c in gazetteer.cities(p)]
    places += [Region("广东"), Region("浙江")]
    leaks = []
    for entry in entries:
        for region in places:
            result = resolve(entry, region)
            # Another region's answer is only ever given as that region's ("foreign").
            if result.answer is not None and not covers(result.answer, region) and result.how != "foreign":
                leaks.append(Leak(entry.id, region.name, result.answer.region))
        result = resolve(entry, None)
        if result.answer is not None and result.answer.region != NATIONAL and result.how != "only":
            leaks.append(Leak(entry.id, None, result.answer.region))
    return leaks
