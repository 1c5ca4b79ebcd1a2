"""The seeds' resident facts are all held, no answer reaches a region it was not written for,
dates are the sources' own, and targets and past periods are marked (issue 12)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from common.settings import ROOT
from knowledge import review
from knowledge.loader import KnowledgeError, load_entry
from knowledge.regions import Region, Resolution
from knowledge.review import load_seed_facts, region_leaks, uncovered

KNOWLEDGE = ROOT / "knowledge"
SEEDS = next((p / "shared" / "seeds" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "seeds").exists()),
             ROOT.parent / "shared" / "seeds")
# The only dates the sources give: seed 003 is dated 2020年12月11日; seed 000 reports the 穗岁康
# press conference of 11月2日 about the 2023 year whose enrolment opened on 2022-11-01; the
# revised 供电营业规则 took effect on 2024-06-01 (FACTS.md).
SOURCE_DATES = {"seed-003": {dt.date(2020, 12, 11)}, "seed-000": {dt.date(2022, 11, 2)},
                "secondary": {dt.date(2024, 6, 1)}}


def all_answers(kb):
    for entry in kb.entries:
        for answer in entry.answers:
            yield entry, answer
        if entry.general is not None:
            yield entry, entry.general


def test_every_seed_fact_is_covered(kb) -> None:
    facts = load_seed_facts(KNOWLEDGE)
    assert len(facts) >= 50 and {f.seed for f in facts} == {f"seed-00{i}" for i in range(5)}
    missing = uncovered(kb.entries, facts)
    assert not missing, "\n".join(f"{f.seed} {f.region} {f.fact}: {why}" for f, why in missing)


def test_uncovered_fact_is_reported(kb) -> None:
    fact = review.SeedFact("seed-003", "金华", ["meter_check"], "不存在的说法", "test")
    assert [why for _, why in uncovered(kb.entries, [fact])] == ["meter_check/金华 does not say '不存在的说法'"]
    fact = review.SeedFact("seed-003", "广州", ["remaining_fees"], "高可靠性", "test")
    assert uncovered(kb.entries, [fact])[0][1] == "remaining_fees has no answer for 广州"


def test_no_region_leak(kb) -> None:
    assert region_leaks(kb.entries, kb.gazetteer) == []


def test_a_leak_is_caught(kb, monkeypatch) -> None:
    """The resolver before issue 12 gave an entry's only answer to every region."""

    def naive(entry, region):
        return Resolution(entry.answers[0], "only") if len(entry.answers) == 1 else Resolution(None, "general")

    monkeypatch.setattr(review, "resolve", naive)
    leaks = {(leak.entry_id, leak.asked) for leak in region_leaks(kb.entries, kb.gazetteer)}
    assert ("remaining_fees", "广州") in leaks and ("village_property_proof", "佛山") in leaks


def test_gazetteer_knows_every_city_and_district_of_both_provinces(kb) -> None:
    g = kb.gazetteer
    assert len(g.cities("广东")) == 21 and len(g.cities("浙江")) == 11
    assert g.find("我在义乌开店") == Region("浙江", "金华")
    assert g.find("乐清市的电价") == Region("浙江", "温州")
    assert g.find("黄埔区报装") == Region("广东", "广州")
    assert g.find("住在乳源瑶族自治县") == Region("广东", "韶关")
    assert g.find("徐闻县") == Region("广东", "湛江")
    # Ordinary words are not places: a rooftop (天台), the urban area (城区), 高要求.
    assert g.find("天台装光伏要什么手续") is None
    assert g.find("中心城区停电时间") is None
    assert g.find("对供电可靠性有高要求") is None


def test_no_answer_shows_an_invented_date(kb) -> None:
    for entry, answer in all_answers(kb):
        if answer.valid_from is not None:
            assert answer.valid_from in SOURCE_DATES.get(answer.source_ref, set()), (entry.id, answer.valid_from)
    for region in kb.tariffs.regions:
        assert region.valid_from is None


@pytest.mark.skipif(not SEEDS.exists(), reason="shared/seeds is not beside this checkout")
def test_seed_dates_are_in_the_seeds() -> None:
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    assert "2020年12月11日" in texts["003"]
    assert "11月2日" in texts["000"] and "2022年11月1日" in texts["000"]
    for seed in ("001", "002", "004"):  # undated: no answer from them carries a date
        assert not re.search(r"20\d\d年\d{1,2}月\d{1,2}日", texts[seed])


def test_every_target_reads_as_target(kb) -> None:
    targets = {(e.id, a.region if hasattr(a, "region") else None) for e, a in all_answers(kb) if a.status == "target"}
    for expected in [("supply_reliability", "金华"), ("supply_reliability", "湛江"), ("lv_time_limit", "金华"),
                     ("hv_time_limit", "金华"), ("zero_investment", "金华")]:
        assert expected in targets
    for _, answer in all_answers(kb):
        if answer.status == "target":
            assert "目标" in answer.zh_Hans and "目標" in answer.zh_Hant and "target" in answer.en.lower()
        assert not re.search(r"\d{4}年底前", answer.zh_Hans) or answer.status == "target" or "目标" in answer.zh_Hans
    by_region = {a.region: a for a in kb.by_id["supply_reliability"].answers}
    assert by_region["金华"].deadline == dt.date(2022, 12, 31)


def test_suisuikang_2023_is_a_past_period(kb) -> None:
    for entry in kb.entries:
        if entry.id.startswith("suisuikang_"):
            assert all(a.status == "past" and a.period is not None for a in entry.answers), entry.id
    assert "已结束" in kb.by_id["suisuikang_overview"].answers[0].period.zh_Hans


def _write(tmp_path: Path, entry_id: str, edit) -> Path:
    data = yaml.safe_load((KNOWLEDGE / "entries" / f"{entry_id}.yml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / f"{entry_id}.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_loader_refuses_a_target_phrased_as_a_result(tmp_path: Path) -> None:
    def as_result(data):
        answer = next(a for a in data["answers"] if a["region"] == "金华")
        answer["zh-Hans"] = "金华：2022年底前城网年户均停电时间在1.4小时以内。"

    with pytest.raises(KnowledgeError, match="target"):
        load_entry(_write(tmp_path, "supply_reliability", as_result))

    def deadline_as_rule(data):
        answer = next(a for a in data["answers"] if a["region"] == "金华")
        answer["status"] = "in_force"
        answer.pop("deadline")

    with pytest.raises(KnowledgeError, match="target"):
        load_entry(_write(tmp_path, "supply_reliability", deadline_as_rule))


def test_loader_refuses_a_general_answer_that_is_one_citys(tmp_path: Path) -> None:
    def one_city(data):
        data["general"]["zh-Hans"] = next(a for a in data["answers"] if a["region"] == "湛江")["zh-Hans"]

    with pytest.raises(KnowledgeError, match="general"):
        load_entry(_write(tmp_path, "lv_time_limit", one_city))

    def names_one(data):
        data["general"]["zh-Hans"] = "低压报装一般很快，湛江平均不超过8个工作日。"

    with pytest.raises(KnowledgeError, match="general"):
        load_entry(_write(tmp_path, "lv_time_limit", names_one))


def test_loader_refuses_a_province_answer_written_as_a_citys(tmp_path: Path) -> None:
    def city_text(data):
        data["answers"][0]["zh-Hans"] = "广州：" + data["answers"][0]["zh-Hans"]

    with pytest.raises(KnowledgeError, match="广州"):
        load_entry(_write(tmp_path, "time_of_use_tariff", city_text))


def test_covers_must_match_the_gazetteer(kb) -> None:
    from knowledge.loader import check_regions

    entry = kb.by_id["remaining_fees"].copy(deep=True)
    entry.answers[0].covers = "province"
    with pytest.raises(KnowledgeError, match="金华 is a city"):
        check_regions([entry], kb.gazetteer)
