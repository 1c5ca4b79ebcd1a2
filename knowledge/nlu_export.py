"""Generates the FAQ part of the Rasa training data from the knowledge files.

One intent `faq_<id>` per entry, its examples the entry's question variants in the form the
model sees them (Simplified script, Cantonese normalised), one rule sending it to
`action_answer_faq`, and the intents listed in a domain fragment. Adding a topic is one file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, List

import yaml

from common.scripts import normalize_for_nlu
from knowledge.schema import Entry

logger = logging.getLogger(__name__)
ANSWER_ACTION = "action_answer_faq"


def _literal_block(lines: Iterable[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


class LiteralText(str):
    """A string dumped as a YAML literal block (Rasa's `examples: |`)."""


def _literal_representer(dumper: yaml.Dumper, data: LiteralText) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.add_representer(LiteralText, _literal_representer, Dumper=yaml.SafeDumper)


def examples_by_intent(entries: Iterable[Entry]) -> dict[str, List[str]]:
    """The training examples per FAQ intent; an example claimed by two entries is dropped
    from the later one (and logged) so the model never sees contradictory labels."""
    seen: dict[str, str] = {}
    result: dict[str, List[str]] = {}
    for entry in entries:
        examples: List[str] = []
        for question in [*entry.questions.zh_Hans, *entry.questions.en]:
            text = " ".join(normalize_for_nlu(question).split())
            key = text.lower()
            if not text or key in seen:
                if key in seen and seen[key] != entry.intent:
                    logger.warning("%s: example %r already belongs to %s", entry.id, text, seen[key])
                continue
            seen[key] = entry.intent
            examples.append(text)
        result[entry.intent] = examples
    return result


def write_training_files(entries: List[Entry], data_dir: Path, domain_dir: Path) -> List[Path]:
    """Writes faq_nlu.yml and faq_rules.yml into `data_dir`, faq_domain.yml into `domain_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    domain_dir.mkdir(parents=True, exist_ok=True)
    examples = examples_by_intent(entries)
    nlu = {
        "version": "3.1",
        "nlu": [
            {"intent": intent, "examples": LiteralText(_literal_block(lines))}
            for intent, lines in examples.items()
        ],
    }
    rules = {
        "version": "3.1",
        "rules": [
            {
                "rule": f"answer {entry.intent}",
                "steps": [{"intent": entry.intent}, {"action": ANSWER_ACTION}],
            }
            for entry in entries
        ],
    }
    domain = {"version": "3.1", "intents": [entry.intent for entry in entries]}
    paths = [data_dir / "faq_nlu.yml", data_dir / "faq_rules.yml", domain_dir / "faq_domain.yml"]
    for path, content in zip(paths, (nlu, rules, domain), strict=False):
        path.write_text(
            "# Generated from knowledge/entries by knowledge.nlu_export; do not edit.\n"
            + yaml.safe_dump(content, allow_unicode=True, sort_keys=False, width=1000),
            encoding="utf-8",
        )
    return paths
