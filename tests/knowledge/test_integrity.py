"""The knowledge files are complete: every field, every fact of FACTS.md, every region."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest
import yaml

from common.settings import ROOT
from knowledge.loader import KnowledgeError, load_entries, load_entry, load_tariffs
from knowledge.schema import CATEGORIES, NATIONAL

KNOWLEDGE = ROOT / "knowledge"
FACTS = KNOWLEDGE / "FACTS.md"
SHARED_FACTS = ROOT.parent / "shared" / "knowledge" / "FACTS.md"


def parse_facts(text: str) -> List[str]:
    """The facts of FACTS.md: first cells of `| fact |` tables, bullets, and paragraphs.

    Rows of other tables (tariff tiers) are covered by the paragraph that introduces them;
    the document's opening paragraph is not a fact.
    """
    facts: List[str] = []
    in_fact_table = False
    in_paragraph = False
    seen_intro = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            in_fact_table = in_fact_table and bool(line)
            in_paragraph = False
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells and cells[0] == "fact":
                in_fact_table = True
            elif in_fact_table and not set(cells[0]) <= set("-: "):
                facts.append(cells[0])
            in_paragraph = False
            continue
        in_fact_table = False
        if line.startswith("- "):
            facts.append(line[2:])
            in_paragraph = True  # following indented lines continue the bullet
        elif in_paragraph:
            continue
        elif not seen_intro:
            seen_intro = in_paragraph = True  # "Every answer in the knowledge base carries…"
        else:
            facts.append(line)
            in_paragraph = True
    return facts


def fact_map() -> list[dict]:
    items: list[dict] = []
    for path in sorted((KNOWLEDGE / "facts").glob("*.yml")):
        items.extend(yaml.safe_load(path.read_text(encoding="utf-8")))
    return items


@pytest.fixture(scope="module")
def entries():
    return load_entries(KNOWLEDGE)


def test_every_entry_loads_with_every_field(entries) -> None:
    assert len(entries) >= 40
    for entry in entries:
        assert entry.category in CATEGORIES
        assert entry.title.zh_Hans and entry.title.zh_Hant and entry.title.en
        assert len(set(entry.questions.zh_Hans)) >= 8
        for answer in [*entry.answers, *([entry.general] if entry.general else [])]:
            assert answer.zh_Hans and answer.zh_Hant and answer.en and answer.source
            assert answer.valid_from is None or answer.valid_from.year >= 1999


def test_ids_are_unique(entries) -> None:
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))


def test_answers_are_written_in_their_script(entries) -> None:
    from common.scripts import to_simplified

    for entry in entries:
        for answer in entry.answers:
            assert re.search(r"[A-Za-z]{3}", answer.en), entry.id
            # Traditional text differs from its Simplified form wherever a character does.
            assert answer.zh_Hant != answer.zh_Hans or to_simplified(answer.zh_Hant) == answer.zh_Hans


def test_answer_regions_are_known_places(entries, kb) -> None:
    known = kb.gazetteer.names | {NATIONAL}
    for entry in entries:
        for answer in entry.answers:
            assert answer.region in known, f"{entry.id}: unknown region {answer.region}"


def test_every_fact_has_an_entry(entries) -> None:
    ids = {e.id for e in entries}
    facts = parse_facts(FACTS.read_text(encoding="utf-8"))
    assert len(facts) > 50
    mapping = fact_map()
    for item in mapping:
        assert set(item["entries"]) <= ids, f"fact map names unknown entries: {item}"
        assert len(item["fact"]) >= 20 or item["fact"] in facts
    missing = [f for f in facts if not any(f.startswith(item["fact"]) for item in mapping)]
    # The GB 11643 section is implemented by the ID validator, and mapped to id_number_format.
    assert not missing, "facts without an entry:\n" + "\n".join(missing)


def test_fact_list_matches_the_shared_one() -> None:
    if not SHARED_FACTS.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert FACTS.read_text(encoding="utf-8") == SHARED_FACTS.read_text(encoding="utf-8")


def test_unverified_figures_are_flagged(entries) -> None:
    """FACTS.md's ⚠ tariff figures (Guangzhou, Shenzhen, Zhejiang valley) are unverified."""
    by_id = {e.id: e for e in entries}
    tariff = {a.region: a for a in by_id["residential_tiered_tariff"].answers}
    assert not tariff["广州"].verified and not tariff["深圳"].verified
    assert not by_id["time_of_use_tariff"].general.verified


def test_tariff_book_loads() -> None:
    book = load_tariffs(KNOWLEDGE)
    assert {r.name for r in book.regions} == {"广东", "浙江"}


def test_a_bad_file_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yml"
    data = yaml.safe_load((KNOWLEDGE / "entries" / "hotlines.yml").read_text(encoding="utf-8"))
    data["id"] = "broken"
    del data["answers"][0]["source"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"broken\.yml: answers\.0\.source"):
        load_entry(bad)


def test_multi_region_entry_needs_general(tmp_path: Path) -> None:
    data = yaml.safe_load((KNOWLEDGE / "entries" / "lv_time_limit.yml").read_text(encoding="utf-8"))
    del data["general"]
    path = tmp_path / "lv_time_limit.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="general"):
        load_entry(path)
